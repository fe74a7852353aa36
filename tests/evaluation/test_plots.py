"""Critical-difference diagrams and result curves of bandts.evaluation."""

import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from bandts.evaluation.cd_diagram import plot_critical_difference
from bandts.evaluation.curves import plot_train_vs_inference, plot_tradeoffs
from bandts.evaluation.ranks import IncompleteScoresWarning
from bandts.evaluation.stats import nemenyi_test, wilcoxon_holm_test

DEMSAR = Path(__file__).resolve().parents[1] / "data" / "demsar2006"


def _texts(fig):
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def _overlaps_and_escapes(fig):
    """Pairs of texts whose rendered boxes overlap, and texts reaching outside the figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = _texts(fig)
    boxes = [t.get_window_extent(renderer) for t in texts]
    overlapping = [(a.get_text(), b.get_text())
                   for (a, ba), (b, bb) in itertools.combinations(zip(texts, boxes), 2)
                   if ba.x0 < bb.x1 - 0.5 and bb.x0 < ba.x1 - 0.5
                   and ba.y0 < bb.y1 - 0.5 and bb.y0 < ba.y1 - 0.5]
    frame = fig.bbox
    escaping = [t.get_text() for t, b in zip(texts, boxes)
                if b.x0 < frame.x0 - 0.5 or b.x1 > frame.x1 + 0.5
                or b.y0 < frame.y0 - 0.5 or b.y1 > frame.y1 + 0.5]
    return overlapping, escaping


def _clique_bars(fig):
    return [line for line in fig.findobj(Line2D) if line.get_linewidth() >= 3]


def _table(k, n=20, seed=0, name=lambda j: f"config {j}"):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, k)) + np.linspace(0.0, 2.0, k)
    return pd.DataFrame(values, index=[f"dataset {i}" for i in range(n)],
                        columns=[name(j) for j in range(k)])


# --- critical-difference diagrams 

def test_demsar_example_diagram_layout():
    ranks = pd.read_csv(DEMSAR / "ranks.csv", index_col="dataset")
    fig = plot_critical_difference(ranks, alpha=0.10, higher_is_better=False)
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in _texts(fig)]
    assert "CD = 1.12" in texts
    for name, rank in [("C4.5", "3.14"), ("C4.5+m", "2.00"), ("C4.5+cf", "2.89"),
                       ("C4.5+m+cf", "1.96")]:
        assert name in texts and rank in texts
    assert {"1", "2", "3", "4"} <= set(texts)
    # Two cliques at alpha 0.10: {m+cf, m, cf} and {cf, C4.5}; one at 0.05.
    assert len(_clique_bars(fig)) == 2
    assert len(_clique_bars(plot_critical_difference(ranks, higher_is_better=False))) == 1
    # Best on the right by default: the label of rank 1 right of the label of rank 4.
    fig.canvas.draw()
    x = {t.get_text(): t.get_window_extent().x0 for t in _texts(fig)}
    y = {t.get_text(): t.get_window_extent().y0 for t in _texts(fig)}
    assert x["1"] > x["4"]
    # The better half is named on the right; on each side the outermost line turns highest.
    assert min(x["C4.5+m+cf"], x["C4.5+m"]) > max(x["C4.5"], x["C4.5+cf"])
    assert y["C4.5+m+cf"] > y["C4.5+m"] and y["C4.5"] > y["C4.5+cf"]
    flipped = plot_critical_difference(ranks, alpha=0.10, higher_is_better=False, reverse=True)
    flipped.canvas.draw()
    x = {t.get_text(): t.get_window_extent().x0 for t in _texts(flipped)}
    assert x["1"] < x["4"] and x["C4.5+m+cf"] < x["C4.5"]


def test_clique_bars_follow_the_test():
    table = _table(6, n=25, seed=3)
    for test, compute in (("nemenyi", nemenyi_test), ("wilcoxon-holm", wilcoxon_holm_test)):
        result = compute(table)
        fig = plot_critical_difference(table, test=test)
        assert len(_clique_bars(fig)) == len(result.cliques)
        texts = [t.get_text() for t in _texts(fig)]
        assert any(t.startswith("CD = ") for t in texts) == (test == "nemenyi")
        # A precomputed result gives the same picture.
        again = plot_critical_difference(result)
        assert [t.get_text() for t in _texts(again)] == texts
    with pytest.raises(ValueError, match="test must be one of"):
        plot_critical_difference(table, test="t-test")


@pytest.mark.parametrize("k", [2, 3, 7, 16, 31, 50])
def test_no_text_overlaps_from_2_to_50_configurations(k):
    if k % 2 or k == 50:
        def long_names(j):
            return f"FCN fft cr={j / k:.2f} energy=0.99 seed-avg"
    else:
        def long_names(j):
            return f"c{j}"
    fig = plot_critical_difference(_table(k, seed=k, name=long_names))
    overlapping, escaping = _overlaps_and_escapes(fig)
    assert overlapping == [] and escaping == []
    texts = [t.get_text() for t in _texts(fig)]
    assert all(long_names(j) in texts for j in range(k))
    width, height = fig.get_size_inches()
    assert height > 0.2 * (k // 2)  # the figure grows with k instead of crowding


def test_saves_png_svg_pdf(tmp_path):
    fig = plot_critical_difference(_table(5), test="wilcoxon-holm")
    signatures = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}
    for fmt, head in signatures.items():
        path = tmp_path / f"cd.{fmt}"
        fig.savefig(path)
        data = path.read_bytes()
        assert len(data) > 1000 and data.startswith(head)
    assert b"<svg" in (tmp_path / "cd.svg").read_bytes()


def test_incomplete_scores_in_a_diagram():
    table = _table(4, n=10)
    table.iloc[2, 1] = np.nan
    with pytest.raises(ValueError, match="missing"):
        plot_critical_difference(table)
    with pytest.warns(IncompleteScoresWarning):
        fig = plot_critical_difference(table, drop_incomplete=True)
    assert any("1 incomplete dropped" in t.get_text() for t in _texts(fig))


# --- curves on evaluation results 

RATES = (0.0, 0.5, 0.75)


def _results(datasets=("A", "B", "C"), seeds=(0, 1), with_direct=True):
    """Synthetic results rows: accuracy falls with |train - inference| and with compression."""
    rows = []
    for d_index, dataset in enumerate(datasets):
        for seed in seeds:
            for train in RATES:
                for inference in RATES:
                    rows.append(dict(
                        dataset=dataset, config=f"fft-{train}", seed=seed, conv="fft",
                        train_compress_rate=train, train_preserve_energy=1.0,
                        inference="same" if inference == train else f"cr={inference}",
                        inference_compress_rate=inference, inference_preserve_energy=1.0,
                        accuracy=0.9 - 0.1 * d_index - 0.2 * abs(train - inference)
                        - 0.05 * train + 0.01 * seed,
                        balanced_accuracy=0.8, fit_seconds=10.0 * (1 - 0.5 * train) + d_index,
                        predict_seconds=0.1, epochs=5, kept_bins=json.dumps({"conv1": 8}),
                        saved_bytes=int(2 ** 20 * (4 - 3 * train)),
                        saved_bytes_per_layer="{}", versions="{}", status="ok", error=""))
            if with_direct:
                rows.append(dict(
                    dataset=dataset, config="direct", seed=seed, conv="direct",
                    train_compress_rate=0.0, train_preserve_energy=np.nan, inference="same",
                    inference_compress_rate=np.nan, inference_preserve_energy=np.nan,
                    accuracy=0.95 - 0.1 * d_index, balanced_accuracy=0.8, fit_seconds=3.0,
                    predict_seconds=0.1, epochs=5, kept_bins="{}", saved_bytes=5 * 2 ** 20,
                    saved_bytes_per_layer="{}", versions="{}", status="ok", error=""))
    return pd.DataFrame(rows)


def _line_data(ax):
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
            for line in ax.get_lines()}


def test_train_vs_inference_lines_are_means_over_seeds_then_datasets():
    fig = plot_train_vs_inference(_results())
    ax = fig.axes[0]
    lines = _line_data(ax)
    assert set(lines) == {"train 0%", "train 50%", "train 75%", "direct conv"}
    x, y = lines["train 50%"]
    assert x == [0.0, 50.0, 75.0]
    # mean over datasets of 0.9 - 0.1 d: 0.8; seeds add 0.005; train 0.5 costs 0.025.
    np.testing.assert_allclose(y, [0.8 - 0.1 - 0.025 + 0.005, 0.8 - 0.025 + 0.005,
                                   0.8 - 0.05 - 0.025 + 0.005])
    np.testing.assert_allclose(lines["direct conv"][1], [0.85, 0.85])
    assert ax.get_xlabel() == "inference compress rate (%)" and ax.get_ylabel() == "accuracy"
    assert "3 datasets" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "train 0%", "train 50%", "train 75%", "direct conv"]


def test_train_vs_inference_per_dataset_panels(tmp_path):
    fig = plot_train_vs_inference(_results(), per_dataset=True)
    visible = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in visible] == ["A", "B", "C"]
    x, y = _line_data(visible[2])["train 0%"]
    np.testing.assert_allclose(y, [0.7 + 0.005, 0.7 - 0.1 + 0.005, 0.7 - 0.15 + 0.005])
    path = tmp_path / "curves.png"
    fig.savefig(path)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_tradeoffs_panels():
    fig = plot_tradeoffs(_results())
    accuracy, seconds, memory = fig.axes
    x, y = _line_data(accuracy)["band-limited FFT"]
    assert x == [0.0, 50.0, 75.0]
    np.testing.assert_allclose(y, [0.805, 0.805 - 0.025, 0.805 - 0.0375])  # matched inference
    np.testing.assert_allclose(_line_data(seconds)["band-limited FFT"][1], [11.0, 8.5, 7.25])
    np.testing.assert_allclose(_line_data(memory)["band-limited FFT"][1], [4.0, 2.5, 1.75])
    np.testing.assert_allclose(_line_data(memory)["direct conv"][1], [5.0, 5.0])
    assert memory.get_ylabel() == "saved for backward (MiB)"
    assert seconds.get_xlabel() == "training compress rate (%)"


def test_curves_never_drop_silently():
    results = _results()
    results.loc[0, "status"] = "error"          # dataset A, seed 0, one point
    results.loc[results["dataset"] == "B", "status"] = "error"
    # B has no ok row at all; A still has seed 1 at every point, so only B disappears.
    with pytest.warns(IncompleteScoresWarning) as record:
        fig = plot_train_vs_inference(results)
    assert "status is not 'ok'" in str(record[0].message)
    assert "2 datasets" in fig.axes[0].get_title()
    results = _results(with_direct=False)
    hole = (results["dataset"] == "C") & (results["train_compress_rate"] == 0.5) & \
        (results["inference_compress_rate"] == 0.0)
    with pytest.warns(IncompleteScoresWarning, match=r"\['C'\]"):
        fig = plot_train_vs_inference(results[~hole])
    assert "2 datasets" in fig.axes[0].get_title()


def test_curves_reject_bad_results():
    with pytest.raises(ValueError, match="lacks the column"):
        plot_train_vs_inference(_results().drop(columns=["inference_compress_rate"]))
    mixed = _results()
    mixed.loc[mixed.index[:3], "train_preserve_energy"] = 0.9
    with pytest.raises(ValueError, match="train_preserve_energy"):
        plot_tradeoffs(mixed)
    with pytest.raises(ValueError, match="no band-limited"):
        plot_train_vs_inference(_results().query("conv == 'direct'"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IncompleteScoresWarning)
        with pytest.raises(ValueError, match="no row with status 'ok'"):
            plot_train_vs_inference(_results().assign(status="error"))


def test_the_overlap_check_itself_detects_overlaps():
    fig = plot_critical_difference(_table(3))
    fig.axes[0].text(0.05, 0.05, "intruder over the corner", transform=fig.axes[0].transAxes)
    fig.axes[0].text(0.06, 0.06, "second intruder", transform=fig.axes[0].transAxes)
    fig.axes[0].text(1.0, 0.5, "past the right edge", transform=fig.axes[0].transAxes)
    overlapping, escaping = _overlaps_and_escapes(fig)
    assert ("intruder over the corner", "second intruder") in overlapping
    assert escaping == ["past the right edge"]


def test_cd_longer_than_the_axis_and_drawing_into_given_axes():
    table = _table(10, n=2, seed=1)  # two datasets: CD = 3.164 * sqrt(110 / 12) = 9.58 > 9
    fig = plot_critical_difference(table)
    assert "CD = 9.58 (longer than the axis)" in [t.get_text() for t in _texts(fig)]
    host = Figure(figsize=(9, 5))
    ax = host.add_subplot()
    assert plot_critical_difference(table, ax=ax, caption=False) is host
    texts = [t.get_text() for t in ax.texts]
    assert all(name in texts for name in table.columns)
    assert not any(t.startswith("Nemenyi") for t in texts)
