"""The bandts command line, the real fit-and-score function and the main job's plumbing."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score

from bandts.classification import BandLimitedFCN
from bandts.cli import main
from bandts.datasets import embedded_ucr_datasets, load_ucr
from bandts.evaluation.grid import (ESTIMATOR_DEFAULTS, Configuration, FitTask, InferenceSetting,
                                    compression_grid)
from bandts.evaluation.main_job import MAIN_DATASETS, main_grid, run_main_job
from bandts.evaluation.runner import fit_and_score_task
from bandts.evaluation.store import ResultStore
from fake_fits import failing_on_beef, fake_rows

# A narrow FCN keeps real fits to a fraction of a second.
TINY = {"filters": [4, 8, 4], "n_epochs": 2, "device": "cpu"}
TINY_ARGS = ["--epochs", "2", "--param", "filters=[4,8,4]", "--param", "device=cpu"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["datasets", "fit", "evaluate", "rank", "plot", "report",
                                     "export", "main"])
def test_every_subcommand_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: bandts {command}" in capsys.readouterr().out


def test_the_main_help_gives_the_measured_duration(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert re.search(r"main +the default evaluation \(about 6 minutes on 2 CPUs\)",
                     capsys.readouterr().out)


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: COMMAND"),
    (["evaluate", "--datasets", "Coffee", "--compress-rates", "1"], r"compress rate: compress_rate must be a real number in \[0, 1\)"),
    (["evaluate", "--datasets", "Cofee"], "unknown dataset 'Cofee'; did you mean Coffee?"),
    (["evaluate", "--datasets", "Coffee", "--param", "n_epoch=3"], r"unknown BandLimitedFCN parameter\(s\) \['n_epoch'\]"),
    (["evaluate", "--datasets", "Coffee", "--param", "random_state=3"], "the grid sets these itself"),
    (["evaluate", "--datasets", "Coffee", "--jobs", "0"], "--jobs is a positive integer or -1"),
    (["evaluate", "--datasets", "Coffee", "--seeds", "x"], "a seed is a non-negative integer"),
    (["evaluate", "--datasets", "Coffee", "--compress-rates", "0.5", "--inference-rates", "0.5",
      "--direct-baseline"], "'direct'.*accepts none of the inference settings"),
    (["fit", "Coffee", "--conv", "direct", "--inference-rates", "0.5"], "--conv direct predicts at the full band only"),
    (["rank", "--store", "/nonexistent/r.sqlite"], "no results store at /nonexistent/r.sqlite"),
    (["rank", "--alpha", "2"], "alpha must be strictly between 0 and 1"),
    (["export", "--store", "x.sqlite"], "export needs --csv PATH and/or --parquet PATH"),
    (["evaluate", "--datasets", "Coffee", "--param", "filters=[8,8"],
     r"--param filters: '\[8,8' is neither JSON \(Expecting ',' delimiter at character 5\) nor "
     "a plain word"),
    (["fit", "Coffee", "--param", "recipe=fcn fast"], "'fcn fast' is neither JSON"),
    (["evaluate", "--datasets", "Coffee", "--param", "batch_size=0", "--store", "/proc/x.sqlite"],
     r"configuration 'c=0': batch_size must be a positive integer or None, got 0"),
    (["evaluate", "--datasets", "Gun_Pint"], "unknown dataset 'Gun_Pint'; did you mean"),
    (["evaluate", "--datasets", "Coffee", "--store", "/proc/bandts/r.sqlite"],
     "cannot create the results store /proc/bandts/r.sqlite"),
    (["main", "--out", "/proc/bandts-results"], "No such file or directory: '/proc/bandts-results'"),
    (["rank", "--store", "/etc/passwd"], "/etc/passwd is not a usable SQLite results store"),
])
def test_user_mistakes_print_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bandts")
    assert ": error: " in lines[0]
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in err


def test_param_values_are_json_or_plain_words():
    from bandts.cli import _param

    assert _param("filters=[64,128,64]") == ("filters", [64, 128, 64])
    assert _param("learning_rate=1e-3") == ("learning_rate", 0.001)
    assert _param("batch_size=null") == ("batch_size", None)
    assert _param("device=cuda:0") == ("device", "cuda:0")
    assert _param("recipe=fcn") == ("recipe", "fcn")
    assert _param('recipe="fcn fast"') == ("recipe", "fcn fast")


def test_a_corrected_configuration_reruns_after_its_fits_failed(capsys, tmp_path):
    from bandts.evaluation.grid import compression_grid as grid_of
    from bandts.evaluation.runner import run_grid

    store = tmp_path / "r.sqlite"
    with ResultStore(store) as opened:  # every fit of the first try failed
        run_grid(grid_of(["Coffee"], [0.0], batch_size=7), opened,
                 fit_and_score=lambda task: 1 / 0, progress=False)
        assert set(opened.to_dataframe().status) == {"error"}
    code, out, err = run_cli(capsys, "evaluate", "--datasets", "Coffee", "--compress-rates", "0",
                             "--store", str(store), "--no-progress", *TINY_ARGS)
    assert code == 0, err
    with ResultStore(store) as opened:
        results = opened.to_dataframe()
    assert results.status.tolist() == ["ok"]  # the failed row of the old parameters is gone
    assert json.loads(results.params[0]) == {**TINY, "compress_rate": 0.0, "conv": "fft"}


def test_ucr_2015_names_are_accepted(capsys, tmp_path):
    code, out, err = run_cli(capsys, "evaluate", "--datasets", "Gun_Point", "--compress-rates",
                             "0", "--store", str(tmp_path / "r.sqlite"), "--no-progress",
                             *TINY_ARGS)
    assert code == 0, err
    with ResultStore(tmp_path / "r.sqlite") as opened:
        assert opened.to_dataframe().dataset.tolist() == ["Gun_Point"]


def test_output_cut_short_by_its_reader_ends_quietly(tmp_path):
    # 1500 datasets make rank's output larger than a pipe's buffer, so bandts is still writing
    # when `head` exits: the write fails with EPIPE every time, not only when timing allows.
    grid = compression_grid([f"D{i}" for i in range(1500)], [0.0, 0.5])
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.write([row for task in grid.tasks() for row in fake_rows(task)])
    result = subprocess.run(
        f"set -o pipefail; {sys.executable} -m bandts rank --store {tmp_path / 'r.sqlite'} | "
        "head -1; echo status $?", shell=True, capture_output=True, text=True, timeout=120,
        executable="/bin/bash")
    assert result.stdout == "Mean accuracy over seeds (matched view):\nstatus 141\n"
    assert result.stderr == ""


def test_a_broken_pipe_returns_141_without_a_message(capsys, monkeypatch, tmp_path):
    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    with ResultStore(tmp_path / "r.sqlite") as store:
        store.write(fake_rows(compression_grid(["Coffee"], [0.0]).tasks()[0]))
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["rank", "--store", str(tmp_path / "r.sqlite")]) == 141
    assert capsys.readouterr().err == ""


def test_a_broken_pipe_that_is_not_stdout_is_an_error(capfd, monkeypatch):
    import bandts.cli

    def lost_worker(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(bandts.cli, "_cmd_datasets", lost_worker)
    assert main(["datasets"]) == 2
    assert capfd.readouterr().err == "bandts datasets: error: [Errno 32] Broken pipe\n"


def test_datasets_lists_the_embedded_archive(capsys):
    code, out, _ = run_cli(capsys, "datasets")
    assert code == 0
    lines = {line.split()[0]: line.split()[1] for line in out.strip().splitlines()[1:]}
    assert lines["Coffee"] == "embedded" and set(MAIN_DATASETS) <= set(lines)


def test_evaluate_records_failed_fits_and_exits_1(capsys, tmp_path):
    store = tmp_path / "r.sqlite"
    (tmp_path / "data" / "Broken").mkdir(parents=True)  # found by name, fails when loaded
    (tmp_path / "data" / "Broken" / "Broken_TRAIN.tsv").write_text("1\t0.5\n2\tabc\n")
    (tmp_path / "data" / "Broken" / "Broken_TEST.tsv").write_text("1\t0.5\n")
    code, out, err = run_cli(capsys, "evaluate", "--datasets", "Broken", "--compress-rates", "0.5",
                             "--root", str(tmp_path / "data"), "--store", str(store),
                             "--no-progress", "--csv", str(tmp_path / "r.csv"))
    assert code == 1
    assert "1 of 1 fits run" in out and "1 rows written" in out and "1 failed" in out
    assert ("error in Broken/c=0.5/seed 0: bandts.datasets.errors.MalformedDatasetError: "
            f"{tmp_path}/data/Broken/Broken_TRAIN.tsv, line 2, field 2: 'abc' is not a number"
            ) in err
    rows = pd.read_csv(tmp_path / "r.csv")
    assert rows.status.tolist() == ["error"] and "'abc' is not a number" in rows.error[0]


def test_the_console_script_module_runs_and_fails_cleanly():
    result = subprocess.run([sys.executable, "-m", "bandts", "rank", "--store", "/nonexistent.sqlite"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ("bandts rank: error: no results store at /nonexistent.sqlite; "
                                     "create one with `bandts evaluate --store /nonexistent.sqlite`")


def test_grid_defaults_are_the_estimator_defaults():
    defaults = BandLimitedFCN().get_params()
    assert {k: defaults[k] for k in ESTIMATOR_DEFAULTS} == ESTIMATOR_DEFAULTS


def test_fit_and_score_task_matches_an_independent_fit():
    task = FitTask("Chinatown", Configuration("c=0.5", {**TINY, "compress_rate": 0.5}), 3,
                   (InferenceSetting.at_rate(0.0), InferenceSetting.at_rate(0.75)))
    rows = fit_and_score_task(task)
    X_train, y_train, X_test, y_test = load_ucr("Chinatown")
    reference = BandLimitedFCN(**TINY, compress_rate=0.5, random_state=3).fit(X_train, y_train)
    for row, rate in zip(rows, (0.0, 0.75)):
        reference.set_params(inference_compress_rate=rate, inference_preserve_energy=1.0)
        predicted = reference.predict(X_test)
        assert row["accuracy"] == pytest.approx(np.mean(predicted == y_test), abs=1e-12)
        assert row["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_test, predicted))
        assert json.loads(row["kept_bins"]) == reference.kept_bins()
        assert (row["inference_compress_rate"], row["train_compress_rate"]) == (rate, 0.5)
        assert row["epochs"] == reference.n_epochs_ == 2
        assert row["saved_bytes"] == sum(reference.saved_bytes_.values()) > 0
        assert json.loads(row["saved_bytes_per_layer"]) == reference.saved_bytes_
        assert row["status"] == "ok" and row["error"] is None
        assert json.loads(row["versions"])["torch"]
    kept = [sum(json.loads(r["kept_bins"]).values()) for r in rows]
    assert kept[1] < kept[0]  # predicting at 0.75 keeps fewer bins than at the full band


def test_fit_command_prints_the_scores(capsys):
    code, out, err = run_cli(capsys, "fit", "Chinatown", "--compress-rate", "0.5",
                             "--inference-rates", "0", "0.5", "--seed", "1", *TINY_ARGS)
    assert code == 0, err
    X_train, y_train, X_test, y_test = load_ucr("Chinatown")
    reference = BandLimitedFCN(**TINY, compress_rate=0.5, random_state=1).fit(X_train, y_train)
    reference.set_params(inference_compress_rate=0.0)
    assert f"predict at        c=0: accuracy {reference.score(X_test, y_test):.4f}" in out
    assert "predict at      c=0.5: accuracy" in out


def test_evaluate_on_dask_then_rank_plot_report_export(capsys, tmp_path):
    distributed = pytest.importorskip("distributed")
    store = tmp_path / "r.sqlite"
    argv = ["evaluate", "--datasets", "Chinatown", "Coffee", "--compress-rates", "0", "0.5",
            "--direct-baseline", "--store", str(store), "--no-progress", *TINY_ARGS]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1", dashboard_address=None) as cluster:
        code, out, err = run_cli(capsys, *argv, "--dask-scheduler", cluster.scheduler_address)
    assert code == 0, err
    assert "6 of 6 fits run" in out and "10 rows written" in out
    with ResultStore(store) as opened:
        results = opened.to_dataframe()
    assert len(results) == 10 and (results.status == "ok").all()
    assert sorted(results.query("config == 'direct'").inference) == ["c=0", "c=0"]
    assert json.loads(results.params[0])["filters"] == [4, 8, 4]

    code, out, _ = run_cli(capsys, *argv, "--jobs", "2")  # resumes: nothing left to do
    assert code == 0 and "0 of 6 fits run" in out and "0 rows written" in out

    code, out, _ = run_cli(capsys, "rank", "--store", str(store))
    assert code == 0
    assert "Friedman (N = 2 datasets, k = 3)" in out and "| c=0.5 |" in out

    code, out, _ = run_cli(capsys, "rank", "--store", str(store), "--view", "c=0.5")
    assert code == 0 and "direct" not in out.split("Friedman")[0]  # direct is never scored at 0.5

    code, out, _ = run_cli(capsys, "plot", "--store", str(store), "--out", str(tmp_path / "fig"),
                           "--formats", "png", "pdf")
    assert code == 0
    assert (tmp_path / "fig" / "cd-matched-nemenyi.pdf").stat().st_size > 1000
    assert (tmp_path / "fig" / "train-vs-inference.png").stat().st_size > 1000

    code, out, _ = run_cli(capsys, "report", "--store", str(store), "--out", str(tmp_path / "rep"))
    assert code == 0 and out.strip().endswith("report.md")
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "![Critical-difference diagram, matched view, Nemenyi](cd-matched-nemenyi.png)" in report
    assert "## Ranking: all view" in report

    code, out, _ = run_cli(capsys, "export", "--store", str(store), "--csv", str(tmp_path / "r.csv"),
                           "--parquet", str(tmp_path / "r.parquet"))
    assert code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), results)
    assert len(pd.read_csv(tmp_path / "r.csv")) == 10


def test_rank_drops_datasets_with_failed_runs_and_says_so(capsys, tmp_path):
    from bandts.evaluation.runner import run_grid

    grid = compression_grid(["Coffee", "Beef", "ECG200", "Car"], [0.0, 0.5], direct_baseline=True)
    with ResultStore(tmp_path / "r.sqlite") as store:
        run_grid(grid, store, fit_and_score=failing_on_beef, progress=False)
    code, out, err = run_cli(capsys, "rank", "--store", str(tmp_path / "r.sqlite"))
    assert code == 0, err
    assert "Datasets dropped for missing scores: Beef." in out
    assert "Friedman (N = 3 datasets, k = 3)" in out
    code, out, err = run_cli(capsys, "rank", "--store", str(tmp_path / "r.sqlite"), "--keep-incomplete")
    assert code == 2
    assert "scores has 3 missing value(s) at (dataset, configuration): ('Beef', 'c=0')" in err


def test_main_grid_is_the_documented_default_evaluation():
    grid = main_grid()
    assert set(MAIN_DATASETS) <= set(embedded_ucr_datasets())
    assert [c.name for c in grid.configurations] == ["c=0", "c=0.5", "c=0.75", "direct"]
    assert [i.name for i in grid.inferences] == ["c=0", "c=0.5", "c=0.75"]
    assert len(grid.tasks()) == 4 * len(MAIN_DATASETS)
    assert len(grid.keys()) == 10 * len(MAIN_DATASETS)
    params = grid.configurations[0].params
    BandLimitedFCN(**params)._check_params()  # valid estimator parameters


def test_main_job_leaves_store_csv_figures_and_report_in_one_folder(tmp_path):
    grid = compression_grid(["Coffee", "Beef", "ECG200"], [0.0, 0.5, 0.75], direct_baseline=True)
    out = tmp_path / "main"
    first = run_main_job(out, n_jobs=1, progress=False, fit_and_score=failing_on_beef, grid=grid)
    assert first.summary.rows_failed == 10
    outcome = run_main_job(out, n_jobs=1, progress=False, fit_and_score=fake_rows, grid=grid)
    assert outcome.summary.tasks_run == 4  # only Beef's fits are rerun
    names = {p.name for p in out.iterdir()}
    expected = {"results.sqlite", "results.csv", "report.md", "scores-matched.csv",
                "ranks-matched.csv", "scores-all.csv", "ranks-all.csv"}
    expected |= {f"{stem}.{ext}" for ext in ("png", "svg") for stem in (
        "cd-matched-nemenyi", "cd-matched-wilcoxon-holm", "cd-all-nemenyi",
        "cd-all-wilcoxon-holm", "train-vs-inference", "tradeoffs")}
    assert expected <= names
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == 30 and (csv.status == "ok").all()
    ranks = pd.read_csv(out / "ranks-matched.csv", index_col=0)
    assert list(ranks.columns) == ["c=0", "c=0.5", "c=0.75", "direct"]
    assert np.allclose(ranks.drop(index="average rank").sum(axis=1), 10.0)  # 1+2+3+4 per dataset
    report = outcome.report.read_text()
    assert "Friedman (N = 3 datasets, k = 4)" in report
    assert "Failed runs" not in report
