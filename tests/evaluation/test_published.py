"""Published FCN / ResNet accuracies, the 2015 -> 2018 name map and the --reference entry."""

import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bandts.cli import main
from bandts.datasets.names import UCR2015_TO_2018, ucr2018_name
from bandts.evaluation import (EvaluationGrid, InferenceSetting, Configuration, ResultStore,
                               published_accuracy, run_grid, with_reference)
from bandts.evaluation.published import PUBLISHED_FILE
from fake_fits import fake_rows

REPOSITORY = Path(__file__).resolve().parents[2]


def raw_runs() -> pd.DataFrame:
    with resources.files("bandts.evaluation").joinpath("data", PUBLISHED_FILE).open() as file:
        return pd.read_csv(file)


def test_fcn_fiftywords_is_the_published_value_and_every_dataset_has_five_runs():
    fcn = published_accuracy("fcn")
    assert fcn.loc["FiftyWords", "mean"] == 0.6457
    assert fcn.loc["ECG200", "mean"] == 0.888 and fcn.loc["GunPoint", "mean"] == 1.0
    assert len(fcn) == 128 and (fcn["runs"] == 5).all()
    assert list(fcn.columns) == ["mean", "std", "runs"]
    # The data README's means over the 128 datasets.
    runs = raw_runs()
    assert round(runs[runs.classifier_name == "fcn"].accuracy.mean(), 4) == 0.7859
    assert round(published_accuracy("resnet")["mean"].mean(), 3) == 0.807


def test_std_is_the_sample_standard_deviation_of_the_runs():
    runs = raw_runs()
    beef = runs[(runs.classifier_name == "fcn") & (runs.dataset_name == "Beef")].accuracy
    assert len(beef) == 5
    expected = np.std(beef.to_numpy(), ddof=1)
    assert published_accuracy("fcn").loc["Beef", "std"] == round(expected, 4)
    assert expected != pytest.approx(np.std(beef.to_numpy(), ddof=0), abs=1e-4)


def test_unknown_classifier_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no published results for classifier 'inception'; "
                                         r"bandts ships \['fcn', 'resnet'\]"):
        published_accuracy("inception")


def test_the_data_ships_inside_the_package():
    assert resources.files("bandts.evaluation").joinpath("data", PUBLISHED_FILE).is_file()
    assert resources.files("bandts.evaluation").joinpath("data", "README.md").is_file()
    config = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["bandts.evaluation"]
    assert "data/*.csv" in patterns and "data/*.md" in patterns


def test_2015_names_map_to_published_2018_names():
    assert ucr2018_name("50words") == "FiftyWords"
    assert ucr2018_name("Gun_Point") == "GunPoint"
    assert ucr2018_name("FiftyWords") == "FiftyWords"
    published = set(published_accuracy("fcn").index)
    assert set(UCR2015_TO_2018.values()) <= published
    assert not set(UCR2015_TO_2018) & published


def test_with_reference_keeps_the_shared_datasets_under_the_callers_names():
    scores = pd.DataFrame({"a": [0.5, 0.6, 0.7], "b": [0.4, 0.8, 0.9]},
                          index=pd.Index(["50words", "MyData", "Beef"], name="dataset"))
    table, reference = with_reference(scores, "fcn")
    assert list(table.index) == ["50words", "Beef"]
    assert table["fcn (published)"].tolist() == [0.6457, 0.68]
    assert table["a"].tolist() == [0.5, 0.7]
    assert (reference.shared, reference.total, reference.missing) == (2, 3, ("MyData",))
    assert reference.provenance == (
        "reference: fcn (published) (Fawaz et al. 2019, 5 runs, 2000 epochs, mean accuracy), "
        "2 of 3 datasets (no published result: MyData)")
    with pytest.raises(ValueError, match="none of the datasets"):
        with_reference(scores.loc[["MyData"]], "fcn")


@pytest.fixture
def fake_store(tmp_path):
    grid = EvaluationGrid(["Beef", "50words", "MyData"],
                          [Configuration("c=0", {}),
                           Configuration("c=0.5", {"compress_rate": 0.5})],
                          seeds=[0], inferences=[InferenceSetting("as-trained")])
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        run_grid(grid, store, fit_and_score=fake_rows, progress=False)
        results = store.to_dataframe()
    return path, results


def test_rank_with_reference_prints_provenance_and_ranks_the_reference(capsys, fake_store):
    path, results = fake_store
    code = main(["rank", "--store", str(path), "--reference", "fcn"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("reference: fcn (published) (Fawaz et al. 2019, 5 runs, 2000 epochs, "
                          "mean accuracy), 2 of 3 datasets (no published result: MyData)")
    row = next(line for line in out.splitlines() if line.startswith("| fcn (published) |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # Ranked on Beef and 50words only: the reference's mean score is the published mean there.
    assert cells[2] == f"{(0.68 + 0.6457) / 2:.3f}"
    ok = results.set_index(["dataset", "config"])["accuracy"]
    expected_rank = np.mean([1 + sum(ok[(d, c)] > published for c in ("c=0", "c=0.5"))
                             for d, published in (("Beef", 0.68), ("50words", 0.6457))])
    assert float(cells[1]) == pytest.approx(expected_rank)
    assert "N = 2 datasets, k = 3" in out


def test_report_and_plot_with_reference(capsys, fake_store, tmp_path):
    path, _ = fake_store
    assert main(["report", "--store", str(path), "--reference", "fcn", "--formats", "svg",
                 "--out", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    assert text.count("With the published fcn results as a reference entry (reference: fcn "
                      "(published) (Fawaz et al. 2019, 5 runs, 2000 epochs, mean accuracy), "
                      "2 of 3 datasets") == 2
    ranks = pd.read_csv(tmp_path / "report" / "ranks-matched.csv", index_col=0)
    assert list(ranks.columns) == ["c=0", "c=0.5", "fcn (published)"]
    assert list(ranks.index) == ["50words", "Beef", "average rank"]
    capsys.readouterr()
    assert main(["plot", "--store", str(path), "--reference", "resnet", "--views", "matched",
                 "--formats", "svg", "--out", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig" / "cd-matched-nemenyi.svg").stat().st_size > 0


def test_reference_needs_accuracy(capsys, fake_store):
    path, _ = fake_store
    code = main(["rank", "--store", str(path), "--reference", "fcn", "--metric",
                 "balanced_accuracy"])
    err = capsys.readouterr().err
    assert code == 2
    assert "the published fcn results are accuracies" in err
