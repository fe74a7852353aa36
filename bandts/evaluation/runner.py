"""Running an evaluation grid into a results store, serially, with joblib or on Dask.

The unit of work is a :class:`~bandts.evaluation.grid.FitTask`: fit one model and score it under
its inference settings. Workers only compute and return rows; the driver alone writes the store,
one transaction per task, as soon as the task comes back. A task that raises is recorded as
``status="error"`` rows carrying the error, and the grid goes on. Each fit is claimed in the
store before it starts, so drivers sharing a store share its grid.
"""

from __future__ import annotations

import functools
import json
import platform
import sys
import time
import traceback
import warnings
from collections import deque
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Sequence

from tqdm.auto import tqdm

from bandts.evaluation.claims import LEASE_SECONDS, Heartbeat, Owner
from bandts.evaluation.executors import DaskExecutor, FitAndScore, LokyExecutor, SerialExecutor
from bandts.evaluation.grid import Configuration, EvaluationGrid, FitTask
from bandts.evaluation.store import ROW_COLUMNS, ResultStore

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


def check_estimator_parameters(configurations: Sequence[Configuration], *,
                               check_device: bool = True) -> None:
    """Raise ValueError naming the first configuration whose parameters BandLimitedFCN refuses.

    Run before any fit, so that a typo such as ``batch_size=0`` stops the run at once instead of
    failing every fit. ``check_device=False`` skips the check that a CUDA device exists here (the
    fits may run on other machines, e.g. a Dask cluster).
    """
    from bandts.classification import BandLimitedFCN

    for configuration in configurations:
        params = dict(configuration.params)
        if not check_device and str(params.get("device", "")).startswith("cuda"):
            params["device"] = "cpu"
        try:
            BandLimitedFCN(**params, random_state=0)._check_params()
        except (TypeError, ValueError) as error:
            raise ValueError(f"configuration {configuration.name!r}: {error}") from None


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
    tasks_elsewhere: int = 0  # fits left to or finished by another driver sharing the store


def run_grid(grid: EvaluationGrid, store: ResultStore, *, fit_and_score: FitAndScore = fit_and_score_task,
             n_jobs: int = 1, dask_scheduler: Any = None, retry_errors: bool = True,
             progress: bool = True, check_parameters: bool = True,
             lease: float = LEASE_SECONDS) -> RunSummary:
    """Run every fit of ``grid`` that ``store`` does not hold yet and commit each as it finishes.

    Several drivers (processes, machines sharing the file) may run the same grid into one store
    at once: each claims a fit before starting it and skips fits that another live driver holds
    (:mod:`bandts.evaluation.claims`), so they share the work.

    Args:
        grid: the evaluation grid.
        store: where rows go; only the driver process writes it.
        fit_and_score: fits and scores one task and returns its rows (default: the real
            BandLimitedFCN on a UCR dataset). Must be picklable for ``n_jobs != 1`` and Dask.
        n_jobs: joblib worker processes (``-1``: one per CPU); 1 runs in this process.
        dask_scheduler: a Dask scheduler address (``"tcp://host:8786"``) or a
            ``distributed.Client``; the tasks then run on that cluster and ``n_jobs`` is ignored.
        retry_errors: rerun keys whose stored row is an error (True) or keep them (False).
        progress: show a tqdm progress bar over the fits.
        check_parameters: check every configuration's BandLimitedFCN parameters before any fit
            (False for a ``fit_and_score`` that trains something else).
        lease: seconds after which a claim whose driver stopped renewing it may be taken over.

    Raises:
        ValueError: a configuration's parameters are invalid, or the store holds one of the
            grid's configuration names with other parameters.
    """
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all CPUs), got {n_jobs!r}")
    start = time.perf_counter()
    if check_parameters:
        check_estimator_parameters(grid.configurations, check_device=dask_scheduler is None)
    store.check_configurations(grid.configurations)
    store.discard_superseded_errors(grid.configurations)
    tasks_total = len(grid.tasks())
    pending = grid.pending(store.finished_keys(include_errors=not retry_errors))
    owner = Owner.this_process()
    with tqdm(total=len(pending), desc="bandts evaluate", unit="fit", disable=not progress,
              dynamic_ncols=True) as bar, Heartbeat(store.path, owner, lease / 10):
        if tasks_total > len(pending):
            bar.write(f"{tasks_total - len(pending)} of {tasks_total} fits already in {store.path}",
                      file=sys.stderr)
        executor = _executor(fit_and_score, n_jobs, dask_scheduler)
        aborted = True
        try:
            counts = _run_claimed(pending, store, executor, owner, bar,
                                  include_errors=not retry_errors, lease=lease)
            aborted = False
        finally:
            executor.close(aborted)
            store.release(owner)
    return RunSummary(tasks_total, counts["run"], counts["written"], counts["failed"],
                      time.perf_counter() - start, counts["elsewhere"])


def _executor(fit_and_score: FitAndScore, n_jobs: int, dask_scheduler: Any):
    if dask_scheduler is not None:
        return DaskExecutor(run_task, fit_and_score, dask_scheduler, error_rows)
    if n_jobs == 1:
        return SerialExecutor(run_task, fit_and_score)
    return LokyExecutor(run_task, fit_and_score, n_jobs, error_rows)


def _run_claimed(pending: list[FitTask], store: ResultStore, executor, owner: Owner, bar, *,
                 include_errors: bool, lease: float) -> dict[str, int]:
    """Claim, submit and record fits, keeping up to ``executor.capacity`` in flight.

    Fits another live driver holds are set aside and looked at once more when the rest are done
    (that driver may have finished or died meanwhile); those still held then are left to it.
    """
    counts = dict.fromkeys(("run", "written", "failed", "elsewhere"), 0)
    queue, held, in_flight = deque(pending), [], {}
    looked_again = False
    while queue or in_flight or (held and not looked_again):
        if not queue and not in_flight:
            queue, held, looked_again = deque(held), [], True
        while queue and len(in_flight) < executor.capacity:
            task = queue.popleft()
            outcome, claimed = store.claim(task, owner, include_errors=include_errors, lease=lease)
            if outcome == "claimed":
                in_flight[executor.submit(claimed)] = claimed
            elif outcome == "busy" and not looked_again:
                held.append(task)
            else:  # finished by another driver, or still held by one
                counts["elsewhere"] += 1
                bar.update(1)
        for future in executor.wait(in_flight) if in_flight else ():
            task = in_flight.pop(future)
            rows = executor.rows(future, task)
            counts["written"] += store.write(rows)
            store.release(owner, task)
            counts["run"] += 1
            _report(bar, task, rows, counts)
    return counts


def _report(bar, task: FitTask, rows: list[dict], counts: dict[str, int]) -> None:
    errors = [r for r in rows if r["status"] == "error"]
    counts["failed"] += len(errors)
    if errors:
        last_line = errors[0]["error"].strip().splitlines()[-1]
        bar.write(f"error in {task.describe()}: {last_line}", file=sys.stderr)
    else:
        first = rows[0]
        bar.set_postfix_str(f"{task.describe()}: accuracy {first['accuracy']:.3f} at "
                            f"{first['inference']}", refresh=False)
    bar.update(1)
