"""Running an evaluation grid into a results store, serially, with joblib or on Dask.

The unit of work is a :class:`~bandts.evaluation.grid.FitTask`: fit one model and score it under
its inference settings. Workers only compute and return rows; the driver alone writes the store,
one transaction per task, as soon as the task comes back. A task that raises is recorded as
``status="error"`` rows carrying the error, and the grid goes on.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Iterator, Sequence

from tqdm.auto import tqdm

from bandts.evaluation.grid import EvaluationGrid, FitTask
from bandts.evaluation.store import ROW_COLUMNS, ResultStore

FitAndScore = Callable[[FitTask], Sequence[dict]]
_METRIC_COLUMNS = ("accuracy", "balanced_accuracy", "fit_seconds", "predict_seconds", "epochs",
                   "kept_bins", "saved_bytes", "saved_bytes_per_layer")


@functools.lru_cache(maxsize=1)
def package_versions() -> str:
    """JSON text of the versions that produced a result (Python, bandts and its main deps)."""
    versions = {"python": platform.python_version()}
    for package in ("bandts", "torch", "numpy", "scikit-learn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return json.dumps(versions, sort_keys=True)


@functools.lru_cache(maxsize=4)
def _load_dataset(name: str, root: str | None):
    from bandts.datasets import load_ucr

    return load_ucr(name, root=root)


def fit_and_score_task(task: FitTask, *, root: str | None = None) -> list[dict]:
    """Fit ``BandLimitedFCN(**params, random_state=seed)`` on the dataset's train split once and
    score it on the test split under each of the task's inference settings.

    ``root``: a folder of datasets searched before the embedded ones (as in
    :func:`bandts.datasets.load_ucr`).

    Returns one complete results row (all of :data:`~bandts.evaluation.store.ROW_COLUMNS`) per
    inference setting. ``fit_seconds``, ``epochs`` and the saved bytes are the fit's and repeat on
    every row; ``predict_seconds`` and ``kept_bins`` belong to that inference setting.
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    from bandts.classification import BandLimitedFCN

    X_train, y_train, X_test, y_test = _load_dataset(task.dataset, None if root is None else str(root))
    estimator = BandLimitedFCN(**task.configuration.params, random_state=task.seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # torch's performance note for conv="direct" with an even kernel and padding="same"
        # would otherwise interrupt the progress bar once per worker; it changes no result.
        warnings.filterwarnings("ignore", message="Using padding='same' with even kernel lengths",
                                category=UserWarning)
        estimator.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    saved = {name: int(value) for name, value in estimator.saved_bytes_.items()}
    rows = []
    for inference in task.inferences:
        estimator.set_params(**inference.estimator_params())
        start = time.perf_counter()
        predicted = estimator.predict(X_test)
        predict_seconds = time.perf_counter() - start
        rows.append({
            **task.row_fields(inference),
            "accuracy": float(accuracy_score(y_test, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(y_test, predicted)),
            "fit_seconds": fit_seconds,
            "predict_seconds": predict_seconds,
            "epochs": int(estimator.n_epochs_),
            "kept_bins": json.dumps({k: int(v) for k, v in estimator.kept_bins().items()}),
            "saved_bytes": sum(saved.values()),
            "saved_bytes_per_layer": json.dumps(saved),
            "versions": package_versions(),
            "status": "ok",
            "error": None,
        })
    return rows


def error_rows(task: FitTask, error: BaseException) -> list[dict]:
    """Rows recording that ``task`` failed with ``error`` (metrics empty, full traceback kept)."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__)).strip()
    return [{**task.row_fields(inference), **dict.fromkeys(_METRIC_COLUMNS),
             "versions": package_versions(), "status": "error", "error": text}
            for inference in task.inferences]


def run_task(fit_and_score: FitAndScore, task: FitTask) -> list[dict]:
    """Run one task in a worker; any exception becomes error rows instead of propagating."""
    try:
        rows = list(fit_and_score(task))
        _check_rows(task, rows)
        return rows
    except Exception as error:  # noqa: BLE001 - a failed run is a result, the grid goes on
        return error_rows(task, error)


def _check_rows(task: FitTask, rows: list[dict]) -> None:
    keys = sorted((r.get("dataset"), r.get("config"), r.get("inference"), r.get("seed")) for r in rows)
    if keys != sorted(task.keys()):
        raise ValueError(f"fit_and_score returned rows for {keys}, expected {sorted(task.keys())}")
    for row in rows:
        if set(row) != set(ROW_COLUMNS):
            raise ValueError(f"fit_and_score returned a row with columns {sorted(row)}, expected "
                             f"{sorted(ROW_COLUMNS)}")


@dataclass(frozen=True)
class RunSummary:
    """What one :func:`run_grid` call did."""

    tasks_total: int     # fits in the grid
    tasks_run: int       # fits run by this call (the rest were already in the store)
    rows_written: int
    rows_failed: int     # rows written with status "error"
    seconds: float


def run_grid(grid: EvaluationGrid, store: ResultStore, *, fit_and_score: FitAndScore = fit_and_score_task,
             n_jobs: int = 1, dask_scheduler: Any = None, retry_errors: bool = True,
             progress: bool = True) -> RunSummary:
    """Run every fit of ``grid`` that ``store`` does not hold yet and commit each as it finishes.

    Args:
        grid: the evaluation grid.
        store: where rows go; only this (driver) process writes it.
        fit_and_score: fits and scores one task and returns its rows (default: the real
            BandLimitedFCN on a UCR dataset). Must be picklable for ``n_jobs != 1`` and Dask.
        n_jobs: joblib worker processes (``-1``: one per CPU); 1 runs in this process.
        dask_scheduler: a Dask scheduler address (``"tcp://host:8786"``) or a
            ``distributed.Client``; the tasks then run on that cluster and ``n_jobs`` is ignored.
        retry_errors: rerun keys whose stored row is an error (True) or keep them (False).
        progress: show a tqdm progress bar over the fits.

    Raises:
        ValueError: the store holds one of the grid's configuration names with other parameters.
    """
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all CPUs), got {n_jobs!r}")
    start = time.perf_counter()
    store.check_configurations(grid.configurations)
    tasks_total = len(grid.tasks())
    pending = grid.pending(store.finished_keys(include_errors=not retry_errors))
    written = failed = 0
    with tqdm(total=len(pending), desc="bandts evaluate", unit="fit", disable=not progress,
              dynamic_ncols=True) as bar:
        if tasks_total > len(pending):
            bar.write(f"{tasks_total - len(pending)} of {tasks_total} fits already in {store.path}",
                      file=sys.stderr)
        for task, rows in _execute(fit_and_score, pending, n_jobs, dask_scheduler):
            written += store.write(rows)
            errors = [r for r in rows if r["status"] == "error"]
            failed += len(errors)
            if errors:
                last_line = errors[0]["error"].strip().splitlines()[-1]
                bar.write(f"error in {task.describe()}: {last_line}", file=sys.stderr)
            else:
                first = rows[0]
                bar.set_postfix_str(f"{task.describe()}: accuracy {first['accuracy']:.3f} at "
                                    f"{first['inference']}", refresh=False)
            bar.update(1)
    return RunSummary(tasks_total, len(pending), written, failed, time.perf_counter() - start)


def _execute(fit_and_score: FitAndScore, tasks: list[FitTask], n_jobs: int,
             dask_scheduler: Any) -> Iterator[tuple[FitTask, list[dict]]]:
    """Yield (task, rows) in the order the tasks finish."""
    if not tasks:
        return
    if dask_scheduler is not None:
        yield from _execute_dask(fit_and_score, tasks, dask_scheduler)
    elif n_jobs == 1:
        for task in tasks:
            yield task, run_task(fit_and_score, task)
    else:
        from joblib import Parallel, delayed

        # Each call returns its task with its rows, so unordered results stay attributable.
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        driver = os.getpid()
        yield from parallel(delayed(_run_task_pair)(fit_and_score, task, driver) for task in tasks)


def _run_task_pair(fit_and_score: FitAndScore, task: FitTask,
                   driver: int) -> tuple[FitTask, list[dict]]:
    """Run a task in a joblib worker process, unless the driver that wants its rows is gone.

    A driver killed with SIGKILL cannot stop its workers, which would otherwise work through
    every task already queued to them for nobody: a worker re-parented away from the driver
    exits instead.
    """
    if os.getppid() != driver and os.getpid() != driver:
        os._exit(1)
    return task, run_task(fit_and_score, task)


def _execute_dask(fit_and_score: FitAndScore, tasks: list[FitTask],
                  scheduler: Any) -> Iterator[tuple[FitTask, list[dict]]]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ImportError("running on Dask needs distributed; install it with "
                          "`pip install bandts[dask]`") from None
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = {client.submit(run_task, fit_and_score, task, pure=False): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                rows = future.result()
            except Exception as error:  # noqa: BLE001 - e.g. the worker died; record and go on
                rows = error_rows(task, error)
            yield task, rows
    finally:
        if client is not scheduler:
            client.close()
