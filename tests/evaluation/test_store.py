"""The SQLite results store: round trips, key uniqueness, atomic writes, exports, kill -9 resume."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bandts.evaluation.grid import Configuration, EvaluationGrid, InferenceSetting, RowKey
from bandts.evaluation.runner import run_grid
from bandts.evaluation.store import COLUMNS, ROW_COLUMNS, ResultStore
from fake_fits import fake_rows

CONFIG = Configuration("c=0.5", {"compress_rate": 0.5, "n_epochs": 3})


def make_row(dataset="Coffee", inference="c=0", seed=0, status="ok", accuracy=0.75, **extra):
    row = {
        "dataset": dataset, "config": CONFIG.name, "seed": seed, "conv": "fft",
        "train_compress_rate": 0.5, "train_preserve_energy": 1.0, "inference": inference,
        "inference_compress_rate": 0.0, "inference_preserve_energy": 1.0,
        "accuracy": accuracy if status == "ok" else None,
        "balanced_accuracy": 0.7 if status == "ok" else None,
        "fit_seconds": 1.5, "predict_seconds": 0.01, "epochs": 3,
        "kept_bins": json.dumps({"layer1": 72}), "saved_bytes": 123456,
        "saved_bytes_per_layer": json.dumps({"layer1": 123456}), "versions": json.dumps({"x": "1"}),
        "status": status, "error": None if status == "ok" else "RuntimeError: boom",
        "params": CONFIG.params_json(),
    }
    row.update(extra)
    return row


def test_rows_round_trip_with_types(tmp_path):
    with ResultStore(tmp_path / "sub" / "r.sqlite") as store:
        assert store.write([make_row(seed=0), make_row(seed=1, accuracy=0.5)]) == 2
        frame = store.to_dataframe()
    assert list(frame.columns) == list(COLUMNS)
    assert frame["seed"].tolist() == [0, 1]
    assert frame["accuracy"].tolist() == [0.75, 0.5]
    assert frame["saved_bytes"].tolist() == [123456, 123456]
    assert json.loads(frame["kept_bins"][0]) == {"layer1": 72}
    assert frame["finished_at"].str.endswith("+00:00").all()


def test_dicts_and_numpy_scalars_are_stored_as_plain_values(tmp_path):
    import numpy as np

    row = make_row(accuracy=np.float32(0.25), epochs=np.int64(7), kept_bins={"b": 2, "a": 1})
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.write([row])
        frame = store.to_dataframe()
    assert frame["accuracy"][0] == 0.25 and frame["epochs"][0] == 7
    assert frame["kept_bins"][0] == '{"a": 1, "b": 2}'


def test_a_key_is_stored_once_and_a_success_is_never_overwritten(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert store.write([make_row(accuracy=0.75)]) == 1
        assert store.write([make_row(accuracy=0.1)]) == 0
        assert store.write([make_row(status="error")]) == 0
        assert len(store) == 1
        assert store.to_dataframe()["accuracy"].tolist() == [0.75]


def test_an_error_row_is_replaced_by_a_later_success(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.write([make_row(status="error")])
        assert store.finished_keys() == set()
        assert store.finished_keys(include_errors=True) == {RowKey("Coffee", "c=0.5", "c=0", 0)}
        assert store.write([make_row(accuracy=0.9)]) == 1
        frame = store.to_dataframe()
    assert len(frame) == 1
    assert frame.loc[0, "status"] == "ok" and frame.loc[0, "accuracy"] == 0.9
    assert frame.loc[0, "error"] is None


def test_a_write_is_all_or_nothing(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        with pytest.raises(ValueError, match="missing \\['accuracy'\\]"):
            bad = make_row(seed=1)
            del bad["accuracy"]
            store.write([make_row(seed=0), bad])
        with pytest.raises(ValueError, match="status must be 'ok' or 'error'"):
            store.write([make_row(seed=0), make_row(seed=1, status="done")])
        with pytest.raises(sqlite3.IntegrityError):  # NOT NULL key column: fails inside the transaction
            store.write([make_row(seed=0), make_row(seed=1, dataset=None)])
        assert len(store) == 0


def test_reopening_a_store_keeps_rows_and_checks_configuration_parameters(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        store.write([make_row()])
    with ResultStore(path, create=False) as store:
        assert len(store) == 1
        store.check_configurations([CONFIG, Configuration("other", {})])
        changed = Configuration("c=0.5", {"compress_rate": 0.5, "n_epochs": 40})
        with pytest.raises(ValueError, match="already holds configuration 'c=0.5'.*n_epochs\": 3"):
            store.check_configurations([changed])


def test_opening_something_that_is_not_a_store_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results store at .*bandts evaluate --store"):
        ResultStore(tmp_path / "absent.sqlite", create=False)
    assert not (tmp_path / "absent.sqlite").exists()
    text = tmp_path / "notes.txt"
    text.write_text("not a database " * 100)
    with pytest.raises(ValueError, match="not a usable SQLite results store"):
        ResultStore(text)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE results (a INTEGER)")
    with pytest.raises(ValueError, match="not a bandts results store"):
        ResultStore(other)


def test_csv_and_parquet_exports_match_the_dataframe(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.write([make_row(seed=0), make_row(seed=1, status="error")])
        frame = store.to_dataframe()
        only_ok = store.to_dataframe(status="ok")
        csv = pd.read_csv(store.to_csv(tmp_path / "r.csv"))
        parquet = pd.read_parquet(store.to_parquet(tmp_path / "r.parquet"))
    assert only_ok["seed"].tolist() == [0]
    assert list(csv.columns) == list(COLUMNS) and list(parquet.columns) == list(COLUMNS)
    assert csv["accuracy"].tolist()[0] == 0.75 and pd.isna(csv["accuracy"].tolist()[1])
    assert csv["error"].tolist()[1] == "RuntimeError: boom"
    pd.testing.assert_frame_equal(parquet, frame)


# --- kill -9 in the middle of a grid, then resume ------------------------------------------------

KILL_GRID = EvaluationGrid(
    datasets=[f"D{i}" for i in range(6)],
    configurations=[Configuration("a", {"compress_rate": 0.0}), Configuration("b", {"compress_rate": 0.5})],
    seeds=[0, 1],
    inferences=[InferenceSetting.at_rate(0.0), InferenceSetting.at_rate(0.5)],
)


def slow_rows(task):
    time.sleep(0.15)
    return fake_rows(task)


def run_kill_grid(path):
    """Entry point of the subprocess that gets killed."""
    with ResultStore(path) as store:
        run_grid(KILL_GRID, store, fit_and_score=slow_rows, progress=False, check_parameters=False)


def _count_rows(path):
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0


def test_a_grid_killed_with_sigkill_resumes_without_loss_or_duplicates(tmp_path):
    path = tmp_path / "killed.sqlite"
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import test_store; test_store.run_kill_grid({str(path)!r})")
    process = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    deadline = time.monotonic() + 60
    while _count_rows(path) < 6 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    before = pd.read_sql_query("SELECT * FROM results", sqlite3.connect(path))
    total_tasks = len(KILL_GRID.tasks())
    assert 6 <= len(before) < 2 * total_tasks  # killed part-way, after at least 3 fits
    assert len(before) % 2 == 0  # both inference rows of a fit commit together

    ran = []

    def recording_rows(task):
        ran.append(task)
        return fake_rows(task)

    with ResultStore(path) as store:
        summary = run_grid(KILL_GRID, store, fit_and_score=recording_rows, progress=False)
        after = store.to_dataframe()
    assert summary.tasks_run == len(ran) == total_tasks - len(before) // 2
    assert all(len(task.inferences) == 2 for task in ran)
    keys = list(zip(after.dataset, after.config, after.inference, after.seed))
    assert len(keys) == len(set(keys)) == len(KILL_GRID.keys())
    assert set(keys) == set(KILL_GRID.keys())
    expected = {tuple(r[c] for c in ("dataset", "config", "inference", "seed")): r["accuracy"]
                for task in KILL_GRID.tasks() for r in fake_rows(task)}
    assert all(expected[k] == a for k, a in zip(keys, after.accuracy))
    # Rows committed before the kill are untouched (same commit time).
    merged = before.merge(after, on=["dataset", "config", "inference", "seed"], suffixes=("_0", "_1"))
    assert len(merged) == len(before)
    assert (merged.finished_at_0 == merged.finished_at_1).all()
    assert set(ROW_COLUMNS) < set(after.columns)


# --- files that are not (writable) stores ----------------------------------------------------------

def test_a_sqlite_database_of_something_else_is_refused_and_left_unchanged(tmp_path):
    other = tmp_path / "inventory.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE parts (name TEXT)")
    before = other.read_bytes()
    for create in (True, False):
        with pytest.raises(ValueError, match=r"a SQLite database of something else \(tables "
                                             r"\['parts'\]\).*another --store path"):
            ResultStore(other, create=create)
    assert other.read_bytes() == before
    with sqlite3.connect(other) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("parts",)]


def test_an_unwritable_location_is_an_os_error_naming_the_store(tmp_path):
    for create in (True, False):
        with pytest.raises(IsADirectoryError, match="is a folder; a results store is a file"):
            ResultStore(tmp_path, create=create)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError, match="cannot create the results store .*a-file/r.sqlite"):
        ResultStore(blocker / "r.sqlite")
    if Path("/proc/self").is_dir():  # a folder no one can create files in, not even root
        with pytest.raises(OSError, match="cannot write the results store /proc/r.sqlite"):
            ResultStore("/proc/r.sqlite")


def _bound_by_permissions(code, cwd):
    """Run Python ``code`` in a process that permission bits apply to (root ignores them through
    the capability CAP_DAC_OVERRIDE, which setpriv drops for a root test run)."""
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-dac_override", "--inh-caps=-dac_override"] + command
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


@pytest.mark.skipif(not hasattr(os, "geteuid") or (
    os.geteuid() == 0 and not shutil.which("setpriv")), reason="POSIX permissions (setpriv for root)")
@pytest.mark.parametrize("leave_wal", [False, True])
def test_a_store_in_a_read_only_folder_can_be_read_but_not_written(leave_wal):
    import tempfile

    with tempfile.TemporaryDirectory() as top:
        folder = Path(top) / "results"
        folder.mkdir()
        path = folder / "r.sqlite"
        store = ResultStore(path)
        store.write([make_row(seed=0), make_row(seed=1)])
        if leave_wal:  # a row only in the write-ahead log, as after a driver was killed
            store._connection.execute("PRAGMA wal_autocheckpoint=0")
            store.write([make_row(seed=2)])
            kept = {name: Path(f"{path}{name}").read_bytes() for name in ("-wal", "-shm")}
        store.close()  # the last connection merges the log into the database and deletes it
        if leave_wal:
            for name, data in kept.items():
                Path(f"{path}{name}").write_bytes(data)
        os.chmod(folder, 0o555)
        try:
            result = _bound_by_permissions(
                "from bandts.evaluation.store import ResultStore\n"
                f"with ResultStore({str(path)!r}, create=False) as store:\n"
                "    print(sorted(store.to_dataframe()['seed']))\n"
                "try:\n"
                f"    ResultStore({str(path)!r}).close()\n"
                "    print('written')\n"
                "except OSError as error:\n"
                "    print(error)\n", folder)
        finally:
            os.chmod(folder, 0o755)
    assert result.returncode == 0, result.stderr
    read, write = result.stdout.splitlines()[-2:]
    assert read == ("[0, 1, 2]" if leave_wal else "[0, 1]")
    if leave_wal:  # SQLite writes through side files that exist and are writable
        assert write == "written"
    else:
        assert write.startswith(f"cannot write the results store {path} (")
