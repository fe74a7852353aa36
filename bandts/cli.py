"""The ``bandts`` command line: datasets, fit, evaluate, rank, plot, report, export, main.

Every subcommand has ``--help``. A user mistake (bad option value, unknown dataset, missing,
damaged or unwritable store or file) prints one line ``bandts <command>: error: ...`` on stderr
and exits with status 2; ``bandts --debug <command>`` shows the traceback instead. ``evaluate``
and ``main`` exit with 1 when some runs failed (their errors are in the store) and 0 otherwise.
Output cut short by its reader (``| head``) ends quietly with status 141, as if by SIGPIPE.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import os
import re
import sqlite3
import sys
from typing import Sequence

from bandts.models import CONV_KINDS

EXIT_USAGE = 2
EXIT_RUNS_FAILED = 1
# What a shell reports for a process killed by SIGPIPE (128 + 13), e.g. `bandts rank | head -1`.
EXIT_BROKEN_PIPE = 141
DEFAULT_STORE = "bandts-results.sqlite"
# --param text values that need no JSON quotes: plain words such as fcn, cpu, cuda:0.
_PLAIN_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]*")


class UsageError(Exception):
    """A mistake in how bandts was called; printed as one line (``prog``: the command)."""

    def __init__(self, message: str, prog: str | None = None):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming the command (no usage dump)."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)", self.prog)


# ------------------------------------------------------------------------------------------------
# argument types

def _compress_rate(text: str) -> float:
    from bandts.evaluation.grid import check_compress_rate

    try:
        return check_compress_rate(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _preserve_energy(text: str) -> float:
    from bandts.evaluation.grid import check_preserve_energy

    try:
        return check_preserve_energy(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is a non-negative integer, got {text!r}")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"--jobs is a positive integer or -1 (all CPUs), got {text!r}")
    return value


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"alpha must be strictly between 0 and 1, got {text!r}")
    return value


def _param(text: str) -> tuple[str, object]:
    """KEY=VALUE with VALUE parsed as JSON (numbers, lists, null, "quoted text"), or a plain word
    (letters, digits, ``_.:-``, not starting with a digit) taken as text.

    Anything else is an error rather than text: ``filters=[8,8`` (a typo in JSON) would
    otherwise reach the estimator as the string "[8,8".
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--param takes KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError as error:
        if _PLAIN_WORD.fullmatch(value):
            return key.strip(), value
        raise argparse.ArgumentTypeError(
            f"--param {key.strip()}: {value!r} is neither JSON ({error.msg} at character "
            f"{error.pos + 1}) nor a plain word; write numbers and lists as JSON (e.g. "
            "filters=[64,128,64]) and other text in JSON quotes") from None


# ------------------------------------------------------------------------------------------------
# shared option groups

def _add_training_options(parser, *, epochs_default=None):
    parser.add_argument("--epochs", type=_positive_int, default=epochs_default, metavar="N",
                        help="training epochs (default: the estimator's n_epochs)")
    parser.add_argument("--param", type=_param, action="append", default=[], metavar="KEY=VALUE",
                        help="another BandLimitedFCN parameter, repeatable; VALUE is JSON or "
                             "text (e.g. --param batch_size=8 --param filters=[64,128,64])")
    parser.add_argument("--root", metavar="DIR",
                        help="a folder of UCR/UEA datasets searched before the embedded ones")


def _estimator_params(args) -> dict:
    from bandts.classification import BandLimitedFCN

    known = BandLimitedFCN().get_params()
    params = dict(args.param)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise UsageError(f"unknown BandLimitedFCN parameter(s) {unknown} in --param; known: "
                         f"{', '.join(sorted(known))}")
    if args.epochs is not None:
        params["n_epochs"] = args.epochs
    return params


def _check_datasets(names: Sequence[str], root) -> None:
    from bandts.datasets import list_ucr_datasets
    from bandts.datasets.sources import other_archive_name

    available = set(list_ucr_datasets(root)["name"])
    for name in names:
        if name not in available and other_archive_name(name) not in available:
            close = difflib.get_close_matches(name, sorted(available), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `bandts datasets`"
            raise UsageError(f"unknown dataset {name!r}{hint}")


def _fit_function(root):
    from bandts.evaluation.runner import fit_and_score_task

    return fit_and_score_task if root is None else functools.partial(fit_and_score_task, root=root)


def _open_store(path, *, create=False):
    from bandts.evaluation.store import ResultStore

    return ResultStore(path, create=create)


# ------------------------------------------------------------------------------------------------
# subcommands

def _cmd_datasets(args) -> int:
    from bandts.datasets import list_ucr_datasets

    table = list_ucr_datasets(args.root, metadata=args.metadata)
    columns = ["name", "source"] + (["n_train", "n_test", "length", "n_classes", "n_channels"]
                                    if args.metadata else ["location"])
    print(table[columns].to_string(index=False))
    return 0


def _cmd_fit(args) -> int:
    from bandts.evaluation.grid import AS_TRAINED, Configuration, FitTask, InferenceSetting

    _check_datasets([args.dataset], args.root)
    params = {**_estimator_params(args), "conv": args.conv, "compress_rate": args.compress_rate,
              "preserve_energy": args.preserve_energy}
    configuration = Configuration("model", params)
    inferences = ([InferenceSetting.at_rate(r) for r in args.inference_rates]
                  if args.inference_rates else [AS_TRAINED])
    if not configuration.band_limited and any(not configuration.accepts(i) for i in inferences):
        raise UsageError("--conv direct predicts at the full band only; drop --inference-rates "
                         "other than 0")
    rows = _fit_function(args.root)(FitTask(args.dataset, configuration, args.seed, tuple(inferences)))
    first = rows[0]
    print(f"{args.dataset}: fitted {args.conv} compress_rate={args.compress_rate:g} "
          f"preserve_energy={args.preserve_energy:g} in {first['fit_seconds']:.1f} s, "
          f"{first['epochs']} epochs, {first['saved_bytes']} bytes saved for backward per step")
    for row in rows:
        print(f"  predict at {row['inference']:>10}: accuracy {row['accuracy']:.4f}  balanced "
              f"{row['balanced_accuracy']:.4f}  {row['predict_seconds']:.2f} s  kept bins "
              f"{row['kept_bins']}")
    return 0


def _evaluate_grid(args):
    from bandts.evaluation.grid import compression_grid

    _check_datasets(args.datasets, args.root)
    return compression_grid(args.datasets, args.compress_rates, inference_rates=args.inference_rates,
                            seeds=args.seeds, direct_baseline=args.direct_baseline,
                            **_estimator_params(args))


def _run_and_print(grid, store_path, args, fit_function) -> int:
    from bandts.evaluation.runner import check_estimator_parameters, run_grid

    # Before the store is created: a typo such as batch_size=0 leaves no file behind.
    check_estimator_parameters(grid.configurations, check_device=args.dask_scheduler is None)
    with _open_store(store_path, create=True) as store:
        summary = run_grid(grid, store, fit_and_score=fit_function, n_jobs=args.jobs,
                           dask_scheduler=args.dask_scheduler, retry_errors=not args.keep_errors,
                           progress=not args.no_progress)
        if getattr(args, "csv", None):
            store.to_csv(args.csv)
        if getattr(args, "parquet", None):
            store.to_parquet(args.parquet)
    print(f"{summary.tasks_run} of {summary.tasks_total} fits run in {summary.seconds:.0f} s, "
          f"{summary.rows_written} rows written to {store_path}"
          + (f", {summary.rows_failed} failed" if summary.rows_failed else "")
          + (f"; {summary.tasks_elsewhere} left to or done by another run on the same store"
             if summary.tasks_elsewhere else ""))
    return EXIT_RUNS_FAILED if summary.rows_failed else 0


def _cmd_evaluate(args) -> int:
    return _run_and_print(_evaluate_grid(args), args.store, args, _fit_function(args.root))


def _results(store_path):
    with _open_store(store_path) as store:
        results = store.to_dataframe()
    if results.empty:
        raise UsageError(f"store {store_path} holds no results yet; run `bandts evaluate` first")
    return results


def _cmd_rank(args) -> int:
    from bandts.evaluation.report import markdown_table, ranking_markdown, view_scores

    scores, provenance = view_scores(_results(args.store), metric=args.metric, view=args.view,
                                     reference=args.reference)
    if provenance:
        print(f"{provenance}\n")
    print(f"Mean {args.metric} over seeds ({args.view} view):\n")
    print(markdown_table(scores), "\n")
    print(ranking_markdown(scores, alpha=args.alpha, control=args.control,
                           drop_incomplete=not args.keep_incomplete))
    return 0


def _cmd_plot(args) -> int:
    from bandts.evaluation.report import write_figures

    saved = write_figures(_results(args.store), args.out, metric=args.metric, alpha=args.alpha,
                          views=args.views, formats=args.formats, reference=args.reference)
    for stem, value in saved.items():
        if isinstance(value, str):
            print(f"{stem}: not drawn ({value})")
        else:
            print(f"{stem}: {', '.join(str(p) for p in value)}")
    return 0


def _cmd_report(args) -> int:
    from bandts.evaluation.report import write_report

    path = write_report(_results(args.store), args.out, metric=args.metric, alpha=args.alpha,
                        formats=args.formats, store_path=args.store, reference=args.reference)
    print(path)
    return 0


def _cmd_export(args) -> int:
    if not args.csv and not args.parquet:
        raise UsageError("export needs --csv PATH and/or --parquet PATH")
    with _open_store(args.store) as store:
        for path in filter(None, (args.csv and store.to_csv(args.csv),
                                  args.parquet and store.to_parquet(args.parquet))):
            print(path)
    return 0


def _cmd_main(args) -> int:
    from bandts.evaluation.main_job import run_main_job

    outcome = run_main_job(args.out, n_jobs=args.jobs, dask_scheduler=args.dask_scheduler,
                           retry_errors=not args.keep_errors, progress=not args.no_progress)
    summary = outcome.summary
    print(f"{summary.tasks_run} of {summary.tasks_total} fits run in {summary.seconds:.0f} s"
          + (f", {summary.rows_failed} rows failed" if summary.rows_failed else ""))
    print(f"report: {outcome.report}")
    return EXIT_RUNS_FAILED if summary.rows_failed else 0


# ------------------------------------------------------------------------------------------------
# the parser

def _add_run_options(parser, default_jobs="1"):
    parser.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                        help=f"parallel worker processes (joblib; -1 = one per CPU; default {default_jobs})")
    parser.add_argument("--dask-scheduler", metavar="ADDR",
                        help="run the fits on a Dask cluster (e.g. tcp://host:8786; needs "
                             "bandts[dask]); --jobs is then ignored")
    parser.add_argument("--keep-errors", action="store_true",
                        help="do not retry runs whose stored result is an error")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_analysis_options(parser):
    parser.add_argument("--store", default=DEFAULT_STORE, metavar="PATH",
                        help=f"results store (default {DEFAULT_STORE})")
    parser.add_argument("--metric", default="accuracy", choices=("accuracy", "balanced_accuracy"))
    parser.add_argument("--alpha", type=_alpha, default=0.05, help="significance level (0.05)")
    parser.add_argument("--reference", choices=("fcn", "resnet"), metavar="CLASSIFIER",
                        help="add a published classifier (fcn or resnet, Fawaz et al. 2019) as one "
                             "more entry, on the datasets it shares with the store")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bandts", description="Band-limited CNNs for time-series "
                     "classification: train, evaluate over UCR datasets, rank, plot, report.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    p = commands.add_parser("datasets", help="list the UCR/UEA datasets bandts can load",
                            description="List the datasets bandts finds (embedded, sktime's, --root).")
    p.add_argument("--metadata", action="store_true",
                   help="also read every dataset for its sizes (slower)")
    p.add_argument("--root", metavar="DIR", help="a folder of UCR/UEA datasets to include")
    p.set_defaults(run=_cmd_datasets)

    p = commands.add_parser("fit", help="train and score one model on one dataset",
                            description="Fit BandLimitedFCN on a dataset's train split and print "
                                        "its test accuracy at one or more inference bands.")
    p.add_argument("dataset", help="dataset name, e.g. Coffee")
    p.add_argument("--conv", choices=CONV_KINDS, default="fft")
    p.add_argument("--compress-rate", type=_compress_rate, default=0.0, metavar="R",
                   help="training compress rate in [0, 1) (default 0)")
    p.add_argument("--preserve-energy", type=_preserve_energy, default=1.0, metavar="E",
                   help="training energy to preserve in (0, 1] (default 1)")
    p.add_argument("--inference-rates", type=_compress_rate, nargs="+", metavar="R",
                   help="compress rates to predict at (default: the training band)")
    p.add_argument("--seed", type=_seed, default=0)
    _add_training_options(p)
    p.set_defaults(run=_cmd_fit)

    p = commands.add_parser("evaluate", help="run a grid of datasets x compress rates x seeds",
                            description="Fit one model per dataset, training compress rate and "
                                        "seed, score each at every inference rate, and store the "
                                        "rows; a rerun skips what the store already holds, and "
                                        "runs sharing one store split its fits.")
    p.add_argument("--datasets", nargs="+", required=True, metavar="NAME")
    p.add_argument("--compress-rates", type=_compress_rate, nargs="+", default=[0.0, 0.5, 0.75],
                   metavar="R", help="training compress rates (default 0 0.5 0.75)")
    p.add_argument("--inference-rates", type=_compress_rate, nargs="+", metavar="R",
                   help="inference compress rates (default: the training rates)")
    p.add_argument("--direct-baseline", action="store_true",
                   help="add a conv='direct' configuration named 'direct' (scored at rate 0)")
    p.add_argument("--seeds", type=_seed, nargs="+", default=[0], metavar="S")
    p.add_argument("--store", default=DEFAULT_STORE, metavar="PATH",
                   help=f"SQLite results store (default {DEFAULT_STORE})")
    p.add_argument("--csv", metavar="PATH", help="also export all rows to this CSV file")
    p.add_argument("--parquet", metavar="PATH", help="also export all rows to Parquet")
    _add_training_options(p)
    _add_run_options(p)
    p.set_defaults(run=_cmd_evaluate)

    views_help = "'matched' (each config at its training band), 'all' (config @ inference pairs) " \
                 "or an inference setting name such as c=0"
    p = commands.add_parser("rank", help="average ranks, Friedman, Nemenyi, Wilcoxon-Holm",
                            description="Rank the configurations of a store over its datasets.")
    _add_analysis_options(p)
    p.add_argument("--view", default="matched", help=f"which scores to rank: {views_help}")
    p.add_argument("--control", metavar="CONFIG",
                   help="also compare every configuration with this one (Wilcoxon, Holm)")
    p.add_argument("--keep-incomplete", action="store_true",
                   help="fail on datasets with missing scores instead of dropping them")
    p.set_defaults(run=_cmd_rank)

    p = commands.add_parser("plot", help="CD diagrams and accuracy-versus-compression curves",
                            description="Save CD diagrams (Nemenyi and Wilcoxon-Holm) and curves.")
    _add_analysis_options(p)
    p.add_argument("--out", default="bandts-figures", metavar="DIR")
    p.add_argument("--views", nargs="+", default=["matched", "all"], metavar="VIEW",
                   help=f"views for CD diagrams: {views_help}")
    p.add_argument("--formats", nargs="+", default=["png", "svg"], choices=("png", "svg", "pdf"))
    p.set_defaults(run=_cmd_plot)

    p = commands.add_parser("report", help="a Markdown report with tables and figures",
                            description="Write report.md, rank tables and figures into --out.")
    _add_analysis_options(p)
    p.add_argument("--out", default="bandts-report", metavar="DIR")
    p.add_argument("--formats", nargs="+", default=["png", "svg"], choices=("png", "svg", "pdf"))
    p.set_defaults(run=_cmd_report)

    p = commands.add_parser("export", help="export a store to CSV and/or Parquet")
    p.add_argument("--store", default=DEFAULT_STORE, metavar="PATH")
    p.add_argument("--csv", metavar="PATH")
    p.add_argument("--parquet", metavar="PATH")
    p.set_defaults(run=_cmd_export)

    p = commands.add_parser("main", help="the default evaluation (about 6 minutes on 2 CPUs)",
                            description="Run the default evaluation (embedded UCR datasets, "
                                        "compress rates 0, 0.5, 0.75 for training and inference, "
                                        "a direct-convolution baseline) and leave the store, CSV, "
                                        "rank tables, CD diagrams and report.md in --out. "
                                        "Rerunning resumes.")
    p.add_argument("--out", default="bandts-results", metavar="DIR")
    _add_run_options(p, default_jobs="2, or 1 on a 1-CPU machine")
    p.set_defaults(run=_cmd_main, jobs=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    debug = "--debug" in argv
    command = "bandts"
    try:
        args = parser.parse_args(argv)
        command = f"bandts {args.command}"
        return args.run(args)
    except UsageError as error:
        command = error.prog or command
        message = str(error)
    except BrokenPipeError as error:
        if _stdout_reader_gone():
            return _broken_pipe()
        if debug:
            raise
        message = str(error)
    except (ValueError, OSError, ImportError, sqlite3.Error) as error:
        # bad values, missing or damaged files, unwritable places, missing extras
        if debug:
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    except KeyboardInterrupt:
        print(f"{command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    print(f"{command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has exited (a broken pipe elsewhere, e.g. to a
    worker, is an error to report); True when stdout cannot be polled."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return True


def _broken_pipe() -> int:
    """The reader of our output went away (``bandts rank | head -1``): stop quietly.

    stdout is pointed at /dev/null so that Python's flush at exit does not fail a second time.
    """
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no file descriptor (e.g. replaced in tests)
        return EXIT_BROKEN_PIPE
    os.dup2(os.open(os.devnull, os.O_WRONLY), descriptor)
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
