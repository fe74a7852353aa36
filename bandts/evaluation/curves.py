"""Curves over an evaluation results table: score against compression.

``results`` is the DataFrame of evaluation rows (one per dataset, configuration, inference
setting and seed; columns listed in the bandts evaluation docs). Compress rates are fractions
(0.5 = half the spectrum discarded) and are shown in percent. Each point is a mean over seeds
within a dataset, then over datasets, so every dataset weighs the same. Rows whose status is not
"ok" are left out with a warning; datasets missing a point are left out of the mean with a
warning naming them. Rows with conv == "direct" are drawn as dashed reference lines.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib import colormaps

from .ranks import IncompleteScoresWarning

__all__ = ["plot_train_vs_inference", "plot_tradeoffs"]

_COMMON = ("dataset", "seed", "conv", "train_compress_rate", "train_preserve_energy",
           "inference_compress_rate", "inference_preserve_energy", "status")
_BASELINE_STYLE = dict(color="0.3", linestyle="--", linewidth=1.2)


def _ok_rows(results: pd.DataFrame, needed) -> pd.DataFrame:
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame of evaluation rows, "
                        f"got {type(results).__name__}")
    missing = [c for c in (*_COMMON, *needed) if c not in results.columns]
    if missing:
        raise ValueError(f"results lacks the column(s) {missing}; pass the evaluation results "
                         f"table (e.g. from the results store)")
    failed = results["status"] != "ok"
    if failed.any():
        warnings.warn(f"left out {int(failed.sum())} result row(s) whose status is not 'ok'",
                      IncompleteScoresWarning, stacklevel=3)
    rows = results.loc[~failed].copy()
    if rows.empty:
        raise ValueError("results has no row with status 'ok' to plot")
    # An empty inference setting means the model was scored with its training band.
    rows["inference_compress_rate"] = rows["inference_compress_rate"].fillna(
        rows["train_compress_rate"])
    return rows


def _single_energy(rows: pd.DataFrame) -> None:
    for column in ("train_preserve_energy", "inference_preserve_energy"):
        values = rows[column].drop_duplicates()
        if len(values) > 1:
            raise ValueError(
                f"results mixes several {column} values {sorted(values.fillna(-1).tolist())} "
                f"(-1 = unset); select one first, e.g. results[results.{column} == value]")


def _complete_means(rows: pd.DataFrame, keys: list, value: str, what: str):
    """Mean of ``value`` over seeds then datasets per ``keys``.

    Returns (DataFrame with the keys and a "mean" column, list of the datasets averaged).
    """
    per_dataset = rows.groupby(["dataset", *keys])[value].mean().unstack(keys)
    holes = per_dataset.isna().any(axis=1)
    if holes.any():
        dropped = list(per_dataset.index[holes])
        warnings.warn(f"{what}: left out {len(dropped)} dataset(s) missing some "
                      f"point(s): {dropped}", IncompleteScoresWarning, stacklevel=3)
        per_dataset = per_dataset.loc[~holes]
    if per_dataset.empty:
        raise ValueError(f"{what}: no dataset has every point; nothing to average")
    return per_dataset.mean(axis=0).rename("mean").reset_index(), list(per_dataset.index)


def _baseline(ax, direct_rows: pd.DataFrame, value: str, datasets: list) -> None:
    """Dashed line at the mean (over seeds, then the same datasets) of the direct rows."""
    rows = direct_rows[direct_rows["dataset"].isin(datasets)]
    if rows.empty:
        return
    missing = sorted(set(datasets) - set(rows["dataset"]))
    if missing:
        warnings.warn(f"direct-convolution reference for {value} lacks dataset(s) {missing}",
                      IncompleteScoresWarning, stacklevel=3)
    ax.axhline(rows.groupby("dataset")[value].mean().mean(), label="direct conv",
               **_BASELINE_STYLE)


def _new_figure(n_panels: int, dpi: float, panel_size=(4.2, 3.2), ncols=None):
    ncols = ncols or n_panels
    nrows = int(np.ceil(n_panels / ncols))
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), dpi=dpi,
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for extra in axes[n_panels:]:
        extra.set_visible(False)
    return fig, axes[:n_panels]


def _train_colors(rates):
    cmap = colormaps["viridis"]
    norm = Normalize(vmin=min(rates), vmax=max(rates) if max(rates) > min(rates) else 1.0)
    return {rate: cmap(0.85 * norm(rate)) for rate in rates}


def plot_train_vs_inference(results: pd.DataFrame, metric: str = "accuracy", *,
                            per_dataset: bool = False, ax=None, dpi: float = 150.0) -> Figure:
    """Score against inference compress rate, one line per training compress rate.

    The paper's train-versus-test figure. With ``per_dataset=True`` one panel per dataset
    (means over seeds only); otherwise one panel with means over seeds then datasets.
    ax: draw the pooled panel into this Axes (not with per_dataset). Returns the Figure.
    """
    rows = _ok_rows(results, [metric])
    direct = rows[rows["conv"] == "direct"]
    band = rows[rows["conv"] != "direct"]
    if band.empty:
        raise ValueError("results has no band-limited (conv != 'direct') row to plot")
    _single_energy(band)
    rates = sorted(band["train_compress_rate"].unique())
    colors = _train_colors(rates)
    keys = ["train_compress_rate", "inference_compress_rate"]

    if per_dataset:
        if ax is not None:
            raise ValueError("ax cannot be used with per_dataset=True (that draws many panels)")
        datasets = sorted(band["dataset"].unique())
        fig, axes = _new_figure(len(datasets), dpi, (3.6, 2.8), ncols=min(4, len(datasets)))
        panels = [(a, band[band["dataset"] == d], direct[direct["dataset"] == d], str(d))
                  for a, d in zip(axes, datasets)]
    else:
        if ax is None:
            fig, axes = _new_figure(1, dpi, (5.6, 3.8))
            ax = axes[0]
        panels = [(ax, band, direct, None)]
        fig = ax.figure

    for panel, band_rows, direct_rows, title in panels:
        means, datasets = _complete_means(band_rows, keys, metric, title or "train vs inference")
        for rate in rates:
            line = means[means["train_compress_rate"] == rate].sort_values(keys[1])
            panel.plot(100 * line[keys[1]], line["mean"], marker="o", color=colors[rate],
                       label=f"train {100 * rate:g}%")
        _baseline(panel, direct_rows, metric, datasets)
        n = len(datasets)
        panel.set_title(title if title is not None else
                        f"mean {metric} over {n} dataset{'s' * (n != 1)}", fontsize=10)
        panel.set_xlabel("inference compress rate (%)")
        panel.set_ylabel(metric.replace("_", " "))
        panel.grid(True, alpha=0.3)
    handles, labels = panels[0][0].get_legend_handles_labels()
    if per_dataset:
        fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    else:
        panels[0][0].legend(fontsize=8, title="training band", title_fontsize=8)
    return fig


def plot_tradeoffs(results: pd.DataFrame, metric: str = "accuracy", *,
                   dpi: float = 150.0) -> Figure:
    """Score, fit time and memory saved for backward against the training compress rate.

    Score: scored with the training band (inference compress rate equal to the training one).
    Fit seconds and saved bytes: one value per fitted model (dataset, config, seed), in MiB for
    saved bytes. Direct-convolution rows are dashed reference lines. Returns the Figure.
    """
    rows = _ok_rows(results, [metric, "config", "fit_seconds", "saved_bytes"])
    band = rows[rows["conv"] != "direct"]
    direct = rows[rows["conv"] == "direct"]
    if band.empty:
        raise ValueError("results has no band-limited (conv != 'direct') row to plot")
    _single_energy(band)
    matched = band[np.isclose(band["inference_compress_rate"], band["train_compress_rate"])]
    fits = rows.drop_duplicates(["dataset", "config", "seed"])
    fits = fits.assign(saved_mib=fits["saved_bytes"] / 2 ** 20)
    panels = [(matched, direct, metric, metric.replace("_", " ") + " (training band)"),
              (fits[fits["conv"] != "direct"], fits[fits["conv"] == "direct"], "fit_seconds",
               "fit time (s)"),
              (fits[fits["conv"] != "direct"], fits[fits["conv"] == "direct"], "saved_mib",
               "saved for backward (MiB)")]
    fig, axes = _new_figure(3, dpi, (3.8, 3.1))
    for ax, band_rows, direct_rows, value, label in zip(axes, *zip(*panels)):
        means, datasets = _complete_means(band_rows, ["train_compress_rate"], value, label)
        ax.plot(100 * means["train_compress_rate"], means["mean"], marker="o", color="C0",
                label="band-limited FFT")
        _baseline(ax, direct_rows, value, datasets)
        n = len(datasets)
        ax.set_title(f"{label}\nmean over {n} dataset{'s' * (n != 1)}", fontsize=10)
        ax.set_xlabel("training compress rate (%)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    return fig
