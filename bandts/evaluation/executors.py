"""Where fits run: in the driver, in joblib's worker processes (loky) or on a Dask cluster.

All three offer the same small interface to the runner, which keeps at most ``capacity`` fits
in flight and claims each fit just before submitting it (see :mod:`bandts.evaluation.claims`):

- ``submit(task)`` starts a fit and returns a future;
- ``wait(futures)`` returns those that are done (at least one);
- ``rows(future, task)`` returns the fit's rows, or error rows if the worker itself failed;
- ``close(aborted)`` ends the run; ``aborted`` (Ctrl-C, an error in the driver) also stops the
  fits still running, whose rows nobody would write.

Worker processes of a driver killed with ``kill -9`` stop within about a second: each loky worker
runs a thread that exits the process once its parent (the driver) is gone, even in the middle of
a fit.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from typing import Any, Callable, Sequence

from bandts.evaluation.grid import FitTask

FitAndScore = Callable[[FitTask], Sequence[dict]]
WATCH_SECONDS = 0.25


class SerialExecutor:
    """Fits run one at a time in the driver process."""

    capacity = 1

    def __init__(self, run_task: Callable, fit_and_score: FitAndScore):
        self._run_task, self._fit_and_score = run_task, fit_and_score

    def submit(self, task: FitTask) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(self._run_task(self._fit_and_score, task))
        return future

    @staticmethod
    def wait(futures) -> set:
        return {future for future in futures if future.done()}

    def rows(self, future, task: FitTask) -> list[dict]:
        return future.result()

    def close(self, aborted: bool = False):
        pass


def _watch_driver(driver: int) -> None:
    """loky worker initializer: exit this worker once the driver that started it has exited."""
    def watch():
        while os.getppid() == driver:
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="bandts-watch-driver", daemon=True).start()


class LokyExecutor:
    """Fits run in ``n_jobs`` joblib (loky) worker processes, each watching the driver."""

    def __init__(self, run_task: Callable, fit_and_score: FitAndScore, n_jobs: int,
                 error_rows: Callable):
        from joblib.externals.loky import get_reusable_executor

        self.capacity = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
        # Share the cores between the workers, as joblib.Parallel does: each worker's math
        # libraries spinning on every core would slow all of them down several times.
        threads = str(max(1, (os.cpu_count() or 1) // self.capacity))
        self._executor = get_reusable_executor(
            max_workers=self.capacity, initializer=_watch_driver, initargs=(os.getpid(),),
            env={name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                            "OPENBLAS_NUM_THREADS")})
        self._run_task, self._fit_and_score, self._error_rows = run_task, fit_and_score, error_rows

    def submit(self, task: FitTask):
        return self._executor.submit(self._run_task, self._fit_and_score, task)

    @staticmethod
    def wait(futures) -> set:
        done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
        return done

    def rows(self, future, task: FitTask) -> list[dict]:
        try:
            return future.result()
        except Exception as error:  # noqa: BLE001 - e.g. a worker killed by the OS; go on
            return self._error_rows(task, error)

    def close(self, aborted: bool = False):
        # Otherwise the reusable executor's idle workers serve the next grid, then time out.
        if aborted:
            self._executor.shutdown(wait=False, kill_workers=True)


class DaskExecutor:
    """Fits run on a Dask cluster, as many at a time as the cluster has worker threads."""

    def __init__(self, run_task: Callable, fit_and_score: FitAndScore, scheduler: Any,
                 error_rows: Callable):
        try:
            from distributed import Client
        except ImportError:
            raise ImportError("running on Dask needs distributed; install it with "
                              "`pip install bandts[dask]`") from None
        self._own_client = not isinstance(scheduler, Client)
        self._client = Client(scheduler) if self._own_client else scheduler
        self.capacity = max(1, sum(self._client.nthreads().values()))
        self._run_task, self._fit_and_score, self._error_rows = run_task, fit_and_score, error_rows

    def submit(self, task: FitTask):
        return self._client.submit(self._run_task, self._fit_and_score, task, pure=False)

    @staticmethod
    def wait(futures) -> set:
        from distributed import wait

        return set(wait(list(futures), return_when="FIRST_COMPLETED").done)

    def rows(self, future, task: FitTask) -> list[dict]:
        try:
            return future.result()
        except Exception as error:  # noqa: BLE001 - e.g. the worker died; record and go on
            return self._error_rows(task, error)

    def close(self, aborted: bool = False):
        if self._own_client:  # closing the client also cancels its unfinished fits
            self._client.close()
