"""The evaluation grid and the runner (serial, joblib, Dask LocalCluster), with a fake fit."""

import json

import pytest

from bandts.evaluation.grid import (AS_TRAINED, Configuration, FitTask,
                                    InferenceSetting, RowKey, compression_grid)
from bandts.evaluation.runner import run_grid, run_task
from bandts.evaluation.store import ROW_COLUMNS, ResultStore
from fake_fits import failing_on_beef, fake_rows


def small_grid(**kwargs):
    return compression_grid(["Coffee", "Beef", "ECG200"], [0.0, 0.5, 0.75], seeds=[0, 1],
                            direct_baseline=True, n_epochs=2, **kwargs)


def test_compression_grid_crosses_training_and_inference_rates():
    grid = small_grid()
    assert [c.name for c in grid.configurations] == ["c=0", "c=0.5", "c=0.75", "direct"]
    assert [i.name for i in grid.inferences] == ["c=0", "c=0.5", "c=0.75"]
    assert grid.configurations[1].params == {"n_epochs": 2, "conv": "fft", "compress_rate": 0.5}
    assert grid.configurations[3].params == {"n_epochs": 2, "conv": "direct"}
    tasks = grid.tasks()
    assert len(tasks) == 3 * 2 * 4  # datasets x seeds x configurations: one fit each
    direct = [t for t in tasks if t.configuration.name == "direct"]
    assert all([i.name for i in t.inferences] == ["c=0"] for t in direct)
    assert len(grid.keys()) == 3 * 2 * (3 * 3 + 1) == len(set(grid.keys()))
    assert tasks[0].keys()[1] == RowKey("Coffee", "c=0", "c=0.5", 0)


def test_row_fields_report_the_effective_band():
    config = Configuration("e", {"compress_rate": 0.25, "preserve_energy": 0.9})
    task = FitTask("Coffee", config, 3, (AS_TRAINED, InferenceSetting.at_rate(0.5),
                                          InferenceSetting("half-energy", preserve_energy=0.5)))
    rows = [task.row_fields(i) for i in task.inferences]
    assert [(r["inference_compress_rate"], r["inference_preserve_energy"]) for r in rows] == [
        (0.25, 0.9), (0.5, 1.0), (0.25, 0.5)]
    assert rows[0]["train_compress_rate"] == 0.25 and rows[0]["conv"] == "fft"
    assert json.loads(rows[0]["params"]) == {"compress_rate": 0.25, "preserve_energy": 0.9}
    assert task.inferences[1].estimator_params() == {"inference_compress_rate": 0.5,
                                                     "inference_preserve_energy": 1.0}
    assert AS_TRAINED.estimator_params() == {"inference_compress_rate": None,
                                             "inference_preserve_energy": None}


def test_pending_keeps_only_the_missing_inference_settings():
    grid = small_grid()
    first = grid.tasks()[1]  # Coffee, c=0.5, seed 0
    finished = {first.keys()[0], first.keys()[2]} | set(grid.tasks()[0].keys())
    pending = grid.pending(finished)
    assert len(pending) == len(grid.tasks()) - 1
    assert pending[0].configuration.name == "c=0.5"
    assert [i.name for i in pending[0].inferences] == ["c=0.5"]
    assert grid.pending(grid.keys()) == []


@pytest.mark.parametrize("make, message", [
    (lambda: compression_grid(["A"], [1.0]), r"compress rate: compress_rate must be a real number in \[0, 1\)"),
    (lambda: compression_grid(["A"], ["half"]), "must be a number"),
    (lambda: compression_grid(["A", "A"], [0.0]), r"dataset names must be unique; repeated: \['A'\]"),
    (lambda: compression_grid(["A"], [0.5, 0.5]), "configuration names must be unique"),
    (lambda: compression_grid(["A"], [0.0], seeds=[-1]), "non-negative integers"),
    (lambda: compression_grid([], [0.0]), "at least one dataset"),
    (lambda: compression_grid(["A"], [0.5], inference_rates=[0.5], direct_baseline=True),
     "'direct'.*accepts none of the inference settings"),
    (lambda: compression_grid(["A"], [0.5], conv="direct"), "sets \\['conv'\\]"),
    (lambda: Configuration("x", {"random_state": 1}), "the grid sets these itself"),
    (lambda: Configuration("x", {"preserve_energy": 0}), r"preserve_energy must be a real number in \(0, 1\]"),
    (lambda: Configuration("x", {"callback": object()}), "not plain JSON"),
    (lambda: InferenceSetting("x", compress_rate=-0.1), r"must be a real number in \[0, 1\)"),
])
def test_bad_grids_are_rejected_with_the_reason(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def _stored(store):
    frame = store.to_dataframe()
    return {(r.dataset, r.config, r.inference, r.seed): (r.status, r.accuracy)
            for r in frame.itertuples()}


def test_serial_run_fills_the_store_and_a_rerun_skips_everything(tmp_path):
    grid = small_grid()
    with ResultStore(tmp_path / "r.sqlite") as store:
        summary = run_grid(grid, store, fit_and_score=fake_rows, progress=False)
        assert (summary.tasks_total, summary.tasks_run, summary.rows_written) == (24, 24, 60)
        stored = _stored(store)
        again = run_grid(grid, store, fit_and_score=failing_on_beef, progress=False)
        assert (again.tasks_run, again.rows_written) == (0, 0)
        assert _stored(store) == stored
    expected = {tuple(r[c] for c in ("dataset", "config", "inference", "seed")): ("ok", r["accuracy"])
                for t in grid.tasks() for r in fake_rows(t)}
    assert stored == expected


def test_a_failing_run_records_its_error_and_the_grid_goes_on(tmp_path):
    grid = small_grid()
    with ResultStore(tmp_path / "r.sqlite") as store:
        summary = run_grid(grid, store, fit_and_score=failing_on_beef, progress=False)
        frame = store.to_dataframe()
        assert summary.rows_failed == 20 and summary.rows_written == 60
        errors = frame[frame.status == "error"]
        assert set(errors.dataset) == {"Beef"} and len(errors) == 20
        assert errors.accuracy.isna().all()
        assert all(e.strip().endswith("RuntimeError: Beef is off the menu") for e in errors.error)
        assert "Traceback" in errors.error.iloc[0]
        # Errors are retried by default and replaced once they succeed.
        kept = run_grid(grid, store, fit_and_score=fake_rows, retry_errors=False, progress=False)
        assert kept.tasks_run == 0
        retried = run_grid(grid, store, fit_and_score=fake_rows, progress=False)
        assert retried.tasks_run == 8 and retried.rows_failed == 0
        assert (store.to_dataframe().status == "ok").all() and len(store) == 60


def test_rows_that_do_not_match_the_task_become_errors():
    task = small_grid().tasks()[0]
    rows = run_task(lambda t: fake_rows(t)[:1], task)
    assert len(rows) == 3 and all(r["status"] == "error" for r in rows)
    assert "fit_and_score returned rows for" in rows[0]["error"]
    assert set(rows[0]) == set(ROW_COLUMNS)


def test_a_store_holding_other_parameters_under_a_name_is_refused(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        run_grid(small_grid(), store, fit_and_score=fake_rows, progress=False)
        with pytest.raises(ValueError, match="already holds configuration 'c=0'"):
            run_grid(small_grid(batch_size=4), store, fit_and_score=fake_rows, progress=False)


def test_joblib_workers_give_the_same_store_as_a_serial_run(tmp_path):
    grid = small_grid()
    with ResultStore(tmp_path / "serial.sqlite") as serial, \
            ResultStore(tmp_path / "joblib.sqlite") as parallel:
        run_grid(grid, serial, fit_and_score=fake_rows, progress=False)
        summary = run_grid(grid, parallel, fit_and_score=failing_on_beef, n_jobs=2, progress=False)
        assert summary.rows_failed == 20
        run_grid(grid, parallel, fit_and_score=fake_rows, n_jobs=2, progress=False)
        assert _stored(parallel) == _stored(serial)


def test_dask_local_cluster_runs_the_grid(tmp_path):
    distributed = pytest.importorskip("distributed")
    grid = small_grid()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, \
            ResultStore(tmp_path / "dask.sqlite") as store, \
            ResultStore(tmp_path / "serial.sqlite") as serial:
        summary = run_grid(grid, store, fit_and_score=failing_on_beef, dask_scheduler=client,
                           progress=False)
        assert (summary.tasks_run, summary.rows_written, summary.rows_failed) == (24, 60, 20)
        # By address, as a remote cluster is used; the retried Beef runs now succeed.
        again = run_grid(grid, store, fit_and_score=fake_rows, dask_scheduler=cluster.scheduler_address,
                         progress=False)
        assert again.tasks_run == 8
        run_grid(grid, serial, fit_and_score=fake_rows, progress=False)
        assert _stored(store) == _stored(serial)


def test_run_grid_rejects_a_bad_job_count(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store, pytest.raises(ValueError, match="n_jobs"):
        run_grid(small_grid(), store, fit_and_score=fake_rows, n_jobs=0)
