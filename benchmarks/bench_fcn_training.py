"""Training cost and accuracy of BandLimitedFCN against sktime's FCNClassifierTorch.

For each dataset and configuration, one fresh subprocess loads the data, trains for the same
number of epochs with the same batch size (16), learning rate (1e-3, Adam) and
ReduceLROnPlateau schedule (factor 0.1, patience 10 on the training loss), and reports:

- epoch_seconds: median wall time of one training epoch (per-epoch timers around the loop of
  each implementation; the first epoch is included in the median, not dropped);
- peak_rss_mb: the subprocess' peak resident memory at the end of fit (``resource.getrusage``
  max RSS, Linux KiB; read before predicting on the test set) and train_rss_mb = that peak minus
  the peak before fit (after imports and data loading): the memory training added. Python's
  tracemalloc does not see torch's allocations;
- saved_mb: bytes saved for backward in one training step (``saved_tensors_hooks``, parameters
  excluded; bandts models only: their ``saved_bytes_``; measured the same way for sktime's
  network on one batch);
- accuracy on the test split.

Ratios are against sktime's FCNClassifierTorch measured in the same run. With ``--seeds 0 1 2``
every configuration is trained once per seed, in interleaved rounds (each round runs every
configuration of a dataset once, in turn), so slow spells of a shared machine hit all
configurations alike: epoch_seconds is the median over the seeds of each run's median epoch,
accuracy the mean over the seeds (per-seed values in epoch_seconds_runs and accuracy_runs), and
saved_mb / train_rss_mb come from the first seed. Configurations:
``sktime`` (FCNClassifierTorch), ``direct`` (BandLimitedFCN with torch convolutions), and
``fft-<rate>`` (band-limited at compress_rate 0, 0.5, 0.75). Widths are the paper's
(128, 256, 128), kernels (8, 5, 3).

Usage:
    python benchmarks/bench_fcn_training.py --epochs 10 \\
        --datasets FiftyWords ECG200 GunPoint [--seeds 0 1 2]

Results: a table on stdout and ``benchmarks/results/<name>.{json,csv}`` (``--name``, default
bench_fcn_training).
Wall times on a shared machine are noisy: compare ratios within one run, not across runs. With
other processes busy, torch's default 2 threads made some runs switch between normal and ~5-10x
slower epochs (thread contention); ``--threads 1`` gives stable numbers there.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results_io import print_table, save_results

CONFIGS = ("sktime", "direct", "fft-0", "fft-0.5", "fft-0.75")
BATCH_SIZE = 16
LEARNING_RATE = 1e-3
RESULTS = Path(__file__).resolve().parent / "results"


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _sktime_saved_bytes(network, X, batch_size) -> int:
    """Bytes sktime's network saves for backward on one training batch (same hook as bandts)."""
    import torch

    from bandts.nn.memory import record_saved_bytes

    network.train()
    batch = torch.from_numpy(X[:batch_size]).float().transpose(1, 2)  # sktime feeds (n, L, C)
    with record_saved_bytes(network) as saved:
        network(batch)
    return sum(saved.values())


def run_worker(spec: dict) -> dict:
    """Train one configuration on one dataset in this process and return its measurements."""
    import numpy as np
    import torch

    from bandts.datasets import load_ucr

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    X_train, y_train, X_test, y_test = load_ucr(spec["dataset"])
    epochs, config = spec["epochs"], spec["config"]
    rss_before = _max_rss_mb()
    start = time.perf_counter()
    if config == "sktime":
        from sktime.classification.deep_learning.fcn import FCNClassifierTorch

        epoch_seconds = []

        class TimedFCN(FCNClassifierTorch):
            def _run_epoch(self, epoch, dataloader):
                t0 = time.perf_counter()
                super()._run_epoch(epoch, dataloader)
                epoch_seconds.append(time.perf_counter() - t0)

        clf = TimedFCN(num_epochs=epochs, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                       callbacks="ReduceLROnPlateau",
                       callback_kwargs={"factor": 0.1, "patience": 10},
                       random_state=spec["seed"], verbose=False)
        clf.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        peak = _max_rss_mb()
        accuracy = float(np.mean(clf.predict(X_test) == y_test))
        saved = _sktime_saved_bytes(clf.network, X_train, BATCH_SIZE)
    else:
        from bandts.classification import BandLimitedFCN

        conv = "direct" if config == "direct" else "fft"
        rate = 0.0 if config == "direct" else float(config.split("-")[1])
        clf = BandLimitedFCN(conv=conv, compress_rate=rate, n_epochs=epochs,
                             batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, recipe="paper",
                             device="cpu", random_state=spec["seed"])
        clf.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        peak = _max_rss_mb()
        epoch_seconds = [h["seconds"] for h in clf.history_]
        accuracy = float(clf.score(X_test, y_test))
        saved = sum(clf.saved_bytes_.values())
    return {
        "dataset": spec["dataset"], "config": config, "epochs": epochs, "seed": spec["seed"],
        "n_train": int(len(X_train)), "length": int(X_train.shape[-1]),
        "epoch_seconds": statistics.median(epoch_seconds), "fit_seconds": fit_seconds,
        "epoch_seconds_all": epoch_seconds, "peak_rss_mb": peak,
        "train_rss_mb": peak - rss_before, "saved_mb": saved / 2**20, "accuracy": accuracy,
        "torch_threads": torch.get_num_threads(),
    }


def merge_seeds(runs: list[dict]) -> list[dict]:
    """One row per (dataset, config): median epoch time and mean accuracy over the seeds, the
    largest peak memory, the other measurements of the first seed."""
    merged = {}
    for run in runs:
        key = (run["dataset"], run["config"])
        if key not in merged:
            merged[key] = dict(run, epoch_seconds_runs=[], accuracy_runs=[], seeds=[])
        row = merged[key]
        row["epoch_seconds_runs"].append(run["epoch_seconds"])
        row["accuracy_runs"].append(run["accuracy"])
        row["seeds"].append(run["seed"])
        row["peak_rss_mb"] = max(row["peak_rss_mb"], run["peak_rss_mb"])
    for row in merged.values():
        row["epoch_seconds"] = statistics.median(row["epoch_seconds_runs"])
        row["accuracy"] = statistics.mean(row["accuracy_runs"])
        del row["seed"]
    return list(merged.values())


def add_ratios(rows: list[dict]) -> None:
    """epoch_time_ratio and train_rss_ratio against sktime; accuracy_vs_full against fft-0."""
    by_key = {(r["dataset"], r["config"]): r for r in rows}
    for r in rows:
        base = by_key.get((r["dataset"], "sktime"))
        full = by_key.get((r["dataset"], "fft-0"))
        r["epoch_time_ratio"] = r["epoch_seconds"] / base["epoch_seconds"] if base else None
        r["train_rss_ratio"] = (r["train_rss_mb"] / base["train_rss_mb"]
                                if base and base["train_rss_mb"] > 0 else None)
        r["accuracy_vs_full"] = r["accuracy"] - full["accuracy"] if full else None


TABLE = [("dataset", "dataset", "<12"), ("config", "config", "<9"),
         ("epoch s", "epoch_seconds", ">8.2f"), ("x sktime", "epoch_time_ratio", ">8.2f"),
         ("peak MB", "peak_rss_mb", ">8.0f"), ("train MB", "train_rss_mb", ">8.0f"),
         ("saved MB", "saved_mb", ">8.1f"), ("acc", "accuracy", ">6.3f"),
         ("acc-full", "accuracy_vs_full", "+8.3f")]


def check_targets(rows: list[dict]) -> list[str]:
    """The issue's targets, per dataset: met or not, with the numbers."""
    lines = []
    by_key = {(r["dataset"], r["config"]): r for r in rows}
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        half, quarter = by_key.get((dataset, "fft-0.5")), by_key.get((dataset, "fft-0.75"))
        if half and half["epoch_time_ratio"] is not None:
            ok = half["epoch_time_ratio"] <= 1.0
            lines.append(f"{dataset}: fft-0.5 epoch time {half['epoch_time_ratio']:.2f}x sktime "
                         f"(target <= 1.0): {'met' if ok else 'NOT met'}")
        if quarter and quarter["epoch_time_ratio"] is not None:
            ok = quarter["epoch_time_ratio"] <= 0.7
            lines.append(f"{dataset}: fft-0.75 epoch time {quarter['epoch_time_ratio']:.2f}x "
                         f"sktime (target <= 0.7): {'met' if ok else 'NOT met'}")
        if half and half["accuracy_vs_full"] is not None:
            ok = half["accuracy_vs_full"] >= -0.01
            lines.append(f"{dataset}: fft-0.5 accuracy {100 * half['accuracy_vs_full']:+.1f} "
                         f"points vs full band (mean of {len(half['accuracy_runs'])} seeds; "
                         f"target >= -1): {'met' if ok else 'NOT met'}")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument("--datasets", nargs="+", default=["FiftyWords", "ECG200", "GunPoint"])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="one interleaved round of all configurations per seed (default 0)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads per run (default 0: torch's default)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="bench_fcn_training",
                        help="results file name, without extension (default bench_fcn_training)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return

    from tqdm import tqdm

    specs = [{"dataset": d, "config": c, "epochs": args.epochs, "seed": seed,
              "threads": args.threads}
             for d in args.datasets for seed in args.seeds for c in args.configs]
    load_start = os.getloadavg()
    rows = []
    for spec in tqdm(specs, desc="runs", unit="run"):
        done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"run {spec} failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    rows = merge_seeds(rows)
    add_ratios(rows)
    print_table(rows, TABLE)
    targets = check_targets(rows)
    print("\n".join(targets))

    import torch

    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpu_count": os.cpu_count(),
            "load_average_start": load_start, "load_average_end": os.getloadavg(),
            "torch": torch.__version__, "epochs": args.epochs, "batch_size": BATCH_SIZE,
            "learning_rate": LEARNING_RATE, "seeds": args.seeds,
            "targets": targets}
    path = save_results(args.out, args.name, meta, rows,
                        csv_skip=("epoch_seconds_all", "epoch_seconds_runs", "accuracy_runs",
                                  "seeds"))
    print(f"saved {path} and .csv")


if __name__ == "__main__":
    main()
