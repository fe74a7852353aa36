"""The replication study: dataset draw, experiment grids, resumed runs, the results writer."""

from pathlib import Path

import pandas as pd
import pytest

from bandts.evaluation import ResultStore
from bandts.evaluation.replication import (ReplicationBudget, draw_datasets, experiment_grids,
                                           replication_grids, run_replication, store_path)
from fake_fits import fake_rows


def metadata(n=30):
    # Dataset i has 1000 * i training values and 100 * i test values (length 100).
    return [{"name": f"D{i:02d}", "n_train": 10 * i, "n_test": i, "length": 100}
            for i in range(1, n + 1)]


def test_draw_is_reproducible_sorted_and_within_the_size_limits():
    drawn = draw_datasets(metadata(), 5, seed=3, max_train_points=10_000)
    assert drawn == draw_datasets(list(reversed(metadata())), 5, seed=3, max_train_points=10_000)
    assert drawn == sorted(drawn) and len(set(drawn)) == 5
    assert all(int(name[1:]) <= 10 for name in drawn)
    assert draw_datasets(metadata(), 5, seed=4, max_train_points=10_000) != drawn
    assert draw_datasets(metadata(), 3, seed=0, max_test_points=300) == ["D01", "D02", "D03"]
    with pytest.raises(ValueError, match="only 10 datasets within the size limits"):
        draw_datasets(metadata(), 11, seed=0, max_train_points=10_000)


def test_cpu_budget_grids():
    grids = replication_grids(ReplicationBudget(epochs=30), metadata())
    first = grids["train-vs-inference"]
    assert len(first.datasets) == 25
    assert [c.name for c in first.configurations] == ["E=0.9", "E=1", "c=0.5"]
    assert first.configurations[0].params == {"preserve_energy": 0.9, "energy_scope": "batch",
                                              "n_epochs": 30}
    assert [i.name for i in first.inferences] == ["E=0.8", "E=0.9", "E=0.95", "E=0.99", "E=1",
                                                  "c=0.5"]
    assert first.inferences[0].compress_rate == 0.0 and first.inferences[0].preserve_energy == 0.8
    assert first.seeds == (0,) and len(first.tasks()) == 75
    degradation = grids["degradation"]
    assert degradation.seeds == (0, 1, 2) and len(degradation.tasks()) == 27
    assert [i.preserve_energy for i in degradation.inferences] == [
        0.88, 0.9, 0.92, 0.94, 0.96, 0.98, 0.99, 1.0]
    fiftywords = grids["fiftywords"]
    assert fiftywords.datasets == ("FiftyWords",)
    assert [c.name for c in fiftywords.configurations] == [
        "E=1", "E=0.99", "E=0.95", "E=0.9", "E=0.8", "c=0.25", "c=0.5", "c=0.75", "c=0.9", "direct"]
    assert [i.name for i in fiftywords.inferences] == ["as-trained"]
    short, long = experiment_grids(grids, "recipe")
    assert [c.name for c in short.configurations] == ["paper-30", "fcn-30"]
    assert [c.name for c in long.configurations] == ["paper-90", "fcn-90"]
    assert short.seeds == (0, 1, 2, 3, 4) and long.seeds == (0, 1)
    assert long.configurations[1].params == {"conv": "direct", "recipe": "fcn", "n_epochs": 90}


def test_full_scale_budget_overrides_seeds_and_sizes():
    budget = ReplicationBudget(epochs=300, seeds=[0, 1, 2, 3, 4], max_train_points=None,
                               max_test_points=None, energy_scope="sample", long_epochs=2000)
    grids = replication_grids(budget, metadata(25))
    assert grids["train-vs-inference"].datasets == tuple(f"D{i:02d}" for i in range(1, 26))
    assert all(grid.seeds == (0, 1, 2, 3, 4) for name in grids
               for grid in experiment_grids(grids, name))
    assert experiment_grids(grids, "recipe")[1].configurations[0].name == "paper-2000"
    assert grids["degradation"].configurations[0].params["energy_scope"] == "sample"
    with pytest.raises(ValueError, match="energy_scope must be 'batch' or 'sample'"):
        ReplicationBudget(energy_scope="frozen")
    with pytest.raises(ValueError, match="long_epochs"):
        ReplicationBudget(epochs=30, long_epochs=30)


def test_run_replication_resumes(tmp_path):
    grids = replication_grids(ReplicationBudget(epochs=2, n_datasets=3), metadata(5))
    names = ["train-vs-inference", "recipe"]
    first = run_replication(grids, names, tmp_path, fit_and_score=fake_rows, progress=False)
    assert [s.tasks_run for s in first["train-vs-inference"]] == [9]
    assert [s.tasks_run for s in first["recipe"]] == [30, 12]
    with ResultStore(store_path(tmp_path, "train-vs-inference")) as store:
        assert len(store) == 9 * 6
        store_rows = store.to_dataframe()
    with ResultStore(store_path(tmp_path, "recipe")) as store:
        assert len(store) == 42
    # A crash lost nothing committed: the second run only adds what a bigger budget asks for.
    again = run_replication(grids, names, tmp_path, fit_and_score=fake_rows, progress=False)
    assert [s.tasks_run for s in again["train-vs-inference"] + again["recipe"]] == [0, 0, 0]
    more = replication_grids(ReplicationBudget(epochs=2, n_datasets=3, seeds=[0, 1]), metadata(5))
    grown = run_replication(more, ["train-vs-inference"], tmp_path, fit_and_score=fake_rows,
                            progress=False)
    assert [s.tasks_run for s in grown["train-vs-inference"]] == [9]
    with ResultStore(store_path(tmp_path, "train-vs-inference")) as store:
        assert store.to_dataframe().query("seed == 0")["accuracy"].tolist() == \
            store_rows["accuracy"].tolist()


def test_replicate_script_writes_exports_figures_and_results_from_the_stores(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import replicate
    from replication_report import write_replication_results

    argv = ["--epochs", "2", "--n-datasets", "4", "--seeds", "0", "1"]
    budget = replicate.budget_from(replicate.parse_args(argv))
    assert (budget.epochs, budget.n_datasets, budget.seeds) == (2, 4, (0, 1))
    ucr = [{"name": name, "n_train": 30, "n_test": 30, "length": 100}
           for name in ("Beef", "Coffee", "CBF", "ECG200", "ArrowHead")]
    grids = replication_grids(budget, ucr)
    stores, out = tmp_path / "stores", tmp_path / "out"
    run_replication(grids, ["train-vs-inference", "fiftywords"], stores, fit_and_score=fake_rows,
                    progress=False)
    write_replication_results(grids, budget, stores, out)
    assert {p.name for p in out.glob("*.csv")} == {"train-vs-inference.csv", "fiftywords.csv"}
    assert {"cd-trained-E09.svg", "cd-trained-E1.svg", "cd-trained-c05.svg", "cd-all-nemenyi.svg",
            "cd-matched-published-fcn.svg", "fiftywords-memory-accuracy.svg"} <= {
        p.name for p in out.glob("*.svg")}
    text = (out / "results.md").read_text()
    assert "## degradation\n\n_Not run: no store at" in text
    assert "4 drawn with seed 17" in text
    rows = pd.read_csv(out / "train-vs-inference.csv")
    assert len(rows) == 4 * 3 * 2 * 6
    # The train x inference matrix: mean over seeds, then over datasets.
    matrix_row = next(line for line in text.splitlines() if line.startswith("| E=0.9 | 0."))
    per_dataset = rows[rows.config == "E=0.9"].groupby(["inference", "dataset"]).accuracy.mean()
    expected = per_dataset.groupby("inference").mean()
    assert matrix_row == "| E=0.9 | " + " | ".join(
        f"{expected[i]:.3f}" for i in ["E=0.8", "E=0.9", "E=0.95", "E=0.99", "E=1", "c=0.5"]) + " |"


def test_results_without_published_datasets_say_so(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from replication_report import write_replication_results

    budget = ReplicationBudget(epochs=2, n_datasets=3)
    grids = replication_grids(budget, metadata(3))
    run_replication(grids, ["train-vs-inference"], tmp_path, fit_and_score=fake_rows,
                    progress=False)
    text = write_replication_results(grids, budget, tmp_path, tmp_path / "out").read_text()
    assert ("_No comparison with the published FCN: none of the datasets ['D01', 'D02', 'D03'] "
            "has a published fcn result") in text
