"""Claims: drivers sharing a store share its grid; claims of dead or silent drivers are taken
over; the workers of a driver killed with SIGKILL stop at once."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bandts.evaluation.claims import Owner
from bandts.evaluation.grid import Configuration, EvaluationGrid, InferenceSetting
from bandts.evaluation.runner import run_grid
from bandts.evaluation.store import ResultStore
from fake_fits import fake_rows
from processes import alive, children

GRID = EvaluationGrid(
    datasets=[f"D{i}" for i in range(8)],
    configurations=[Configuration("a", {"compress_rate": 0.0}),
                    Configuration("b", {"compress_rate": 0.5})],
    seeds=[0],
    inferences=[InferenceSetting.at_rate(0.0), InferenceSetting.at_rate(0.5)],
)
TESTS = str(Path(__file__).parent.parent)


def _driver(store, log):
    """The code of one driver process: run GRID into ``store``, log its fits, print its summary."""
    return (f"import sys, functools, json; sys.path.insert(0, {TESTS!r})\n"
            "from test_claims import GRID\n"
            "from fake_fits import logged_slow_rows\n"
            "from bandts.evaluation.runner import run_grid\n"
            "from bandts.evaluation.store import ResultStore\n"
            f"with ResultStore({str(store)!r}) as store:\n"
            "    summary = run_grid(GRID, store, progress=False,\n"
            "        check_parameters=False,\n"
            f"        fit_and_score=functools.partial(logged_slow_rows, log={str(log)!r}))\n"
            "print(json.dumps([summary.tasks_run, summary.tasks_elsewhere]))\n")


def _python(code):
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def test_two_drivers_on_one_store_share_the_grid_and_fit_nothing_twice(tmp_path):
    store = tmp_path / "r.sqlite"
    ResultStore(store).close()  # both drivers open an existing store
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    drivers = [_python(_driver(store, log)) for log in logs]
    summaries = [json.loads(driver.communicate(timeout=300)[0]) for driver in drivers]
    assert all(driver.returncode == 0 for driver in drivers)
    fitted = [log.read_text().split()[::2] if log.exists() else [] for log in logs]
    total = len(GRID.tasks())
    assert not set(fitted[0]) & set(fitted[1])  # no fit ran in both drivers
    assert len(fitted[0]) + len(fitted[1]) == total
    assert all(fitted)  # both took part
    assert [run for run, _ in summaries] == [len(fitted[0]), len(fitted[1])]
    assert all(run + elsewhere <= total for run, elsewhere in summaries)
    with ResultStore(store) as opened:
        assert opened.finished_keys() == set(GRID.keys())
        claims = opened._connection.execute("SELECT COUNT(*) FROM claims").fetchone()[0]
    assert claims == 0  # every claim released


def _insert_claim(path, task, owner_text, heartbeat):
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO claims VALUES (?, ?, ?, ?, ?)",
                           (task.dataset, task.configuration.name, task.seed, owner_text,
                            heartbeat))


def test_a_claim_of_a_live_driver_is_left_to_it_and_a_dead_ones_is_taken(tmp_path):
    path = tmp_path / "r.sqlite"
    ResultStore(path).close()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        tasks = GRID.tasks()
        owner_of = {pid: Owner(Owner.this_process().host, pid, started)
                    for pid, started in ((alive.pid, _started(alive.pid)),
                                         (dead.pid, "no longer running"))}
        _insert_claim(path, tasks[0], owner_of[alive.pid].text(), time.time())
        _insert_claim(path, tasks[1], owner_of[dead.pid].text(), time.time())
        with ResultStore(path) as store:
            summary = run_grid(GRID, store, fit_and_score=fake_rows, progress=False)
            finished = store.finished_keys()
        assert summary.tasks_elsewhere == 1 and summary.tasks_run == len(tasks) - 1
        assert finished == set(GRID.keys()) - set(tasks[0].keys())
    finally:
        alive.kill()
        alive.wait()


def _started(pid):
    from bandts.evaluation.claims import _start_time

    return _start_time(pid) or "unknown"


def test_a_claim_whose_heartbeat_is_older_than_the_lease_is_taken(tmp_path):
    path = tmp_path / "r.sqlite"
    ResultStore(path).close()
    task = GRID.tasks()[0]
    _insert_claim(path, task, "other-host|1|1", time.time() - 5.0)  # a host we cannot check
    with ResultStore(path) as store:
        kept = run_grid(GRID, store, fit_and_score=fake_rows, progress=False, lease=60.0)
        assert kept.tasks_elsewhere == 1
        taken = run_grid(GRID, store, fit_and_score=fake_rows, progress=False, lease=1.0)
        assert taken.tasks_run == 1 and store.finished_keys() == set(GRID.keys())


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_workers_busy_with_a_fit_stop_within_two_seconds_of_a_sigkill_and_the_grid_resumes(
        tmp_path):
    store = tmp_path / "r.sqlite"
    started = tmp_path / "started.log"
    code = (f"import sys, functools; sys.path.insert(0, {TESTS!r})\n"
            "from test_claims import GRID\n"
            "from fake_fits import first_fast_then_sleeping\n"
            "from bandts.evaluation.runner import run_grid\n"
            "from bandts.evaluation.store import ResultStore\n"
            f"with ResultStore({str(store)!r}) as store:\n"
            "    run_grid(GRID, store, n_jobs=2, progress=False, check_parameters=False,\n"
            "             fit_and_score=functools.partial(\n"
            f"                 first_fast_then_sleeping, log={str(started)!r}))\n")
    driver = _python(code)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (  # D0's two fits done, two 120 s fits running
            not started.exists() or len(started.read_text().splitlines()) < 4):
        time.sleep(0.05)
    workers = [pid for pid in children(driver.pid) if alive(pid)]
    assert len(started.read_text().splitlines()) == 4
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)
    killed = time.monotonic()
    while any(alive(pid) for pid in workers) and time.monotonic() - killed < 30:
        time.sleep(0.05)
    lived_on = time.monotonic() - killed
    assert not any(alive(pid) for pid in workers)
    assert lived_on < 2.0, f"workers lived {lived_on:.1f} s after their driver"
    # The killed driver's claims do not block a new run, which does only what is missing.
    with ResultStore(store) as opened:
        assert opened.finished_keys() == {key for task in GRID.tasks()[:2] for key in task.keys()}
        summary = run_grid(GRID, opened, fit_and_score=fake_rows, progress=False)
        assert summary.tasks_run == len(GRID.tasks()) - 2 and summary.tasks_elsewhere == 0
        assert opened.finished_keys() == set(GRID.keys()) and len(opened) == len(GRID.keys())


class _StoreFailingOnWrite(ResultStore):
    def write(self, rows):
        raise RuntimeError("disk full")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_a_driver_that_fails_stops_its_workers_fits(tmp_path):
    import functools

    from fake_fits import first_fast_then_sleeping

    log = tmp_path / "fits.log"
    with _StoreFailingOnWrite(tmp_path / "r.sqlite") as store, \
            pytest.raises(RuntimeError, match="disk full"):
        run_grid(GRID, store, n_jobs=2, progress=False, check_parameters=False,
                 fit_and_score=functools.partial(first_fast_then_sleeping, log=log))
    stopped = time.monotonic()
    workers = {int(line.split()[1]) for line in log.read_text().splitlines()}
    while any(alive(pid) for pid in workers) and time.monotonic() - stopped < 30:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers)
    assert time.monotonic() - stopped < 5.0
    with ResultStore(tmp_path / "r.sqlite") as store:  # and its claims are released
        assert store._connection.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


def test_loky_workers_share_the_cores_instead_of_each_using_all():
    import os

    from bandts.evaluation.executors import LokyExecutor

    # run_task(fit_and_score, task) is called in the worker: os.getenv(name, None) there
    # reports the worker's thread limit.
    executor = LokyExecutor(os.getenv, "OMP_NUM_THREADS", n_jobs=2, error_rows=None)
    try:
        limit = executor.submit(None).result(timeout=120)
    finally:
        executor.close(aborted=True)
    assert limit == str(max(1, (os.cpu_count() or 1) // 2))
