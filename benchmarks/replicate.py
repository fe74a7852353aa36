"""The replication study: run the paper's experiments into results stores, then write the document's
figures, tables and CSV exports (docs/replication.md discusses them).

Every experiment runs into its own SQLite store under ``--stores`` (resumable: rerun the same
command after a crash or Ctrl-C and only the missing fits run). Then ``--out`` receives one CSV
export per store, the SVG figures and ``results.md``, the measured numbers the document quotes.

The default budget is about 70 minutes of one CPU core (30 epochs; experiment 1 on 25 datasets
drawn from the small embedded ones; docs/replication.md states what it measured). The full-scale
run:

    python benchmarks/replicate.py --epochs 300 --seeds 0 1 2 3 4 --long-epochs 2000 \\
        --no-size-limit --jobs -1     # or --dask-scheduler tcp://host:8786

Usage:
    python benchmarks/replicate.py [--experiments NAME ...] [--report-only] [--threads 1]

Run from the repository root with the package importable (an installed bandts or
``PYTHONPATH=.``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from bandts.evaluation.replication import (EXPERIMENTS, ReplicationBudget, replication_grids,
                                           run_replication)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiments", nargs="+", choices=EXPERIMENTS, default=list(EXPERIMENTS))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--long-epochs", type=int, default=None,
                        help="experiment 4's longer training (default 3 x --epochs)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds of every experiment (default: 1 for experiments 1 and 3, "
                             "3 for 2, 5 and 2 for 4's short and long runs)")
    parser.add_argument("--n-datasets", type=int, default=25)
    parser.add_argument("--draw-seed", type=int, default=17)
    parser.add_argument("--no-size-limit", action="store_true",
                        help="draw experiment 1's datasets from every embedded dataset (default: "
                             "train <= 80,000 and test <= 300,000 values)")
    parser.add_argument("--energy-scope", choices=("batch", "sample"), default="batch",
                        help="where energy cuts are measured (default: per batch, the paper's)")
    parser.add_argument("--stores", default="bandts-replication", metavar="DIR",
                        help="folder of the SQLite stores (default bandts-replication)")
    parser.add_argument("--out", default="docs/replication", metavar="DIR",
                        help="folder of the CSV exports, figures and results.md")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--dask-scheduler", default=None, metavar="ADDR")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads in this process (default: torch's)")
    parser.add_argument("--report-only", action="store_true",
                        help="write the figures and results.md from the stores, run nothing")
    return parser.parse_args(argv)


def budget_from(args: argparse.Namespace) -> ReplicationBudget:
    limits = {"max_train_points": None, "max_test_points": None} if args.no_size_limit else {}
    return ReplicationBudget(epochs=args.epochs, long_epochs=args.long_epochs, seeds=args.seeds,
                             n_datasets=args.n_datasets, draw_seed=args.draw_seed,
                             energy_scope=args.energy_scope, **limits)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    budget = budget_from(args)
    grids = replication_grids(budget)
    stores, out = Path(args.stores), Path(args.out)
    if not args.report_only:
        run_replication(grids, args.experiments, stores, n_jobs=args.jobs,
                        dask_scheduler=args.dask_scheduler)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from replication_report import write_replication_results  # this folder's module

    written = write_replication_results(grids, budget, stores, out)
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
