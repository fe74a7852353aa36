"""From a results DataFrame (one row per dataset, config, inference, seed) to score tables.

A score table has one row per dataset and one column per compared entry; a cell is the mean of a
metric over the seeds. Which rows become which column is the *view*:

- ``"matched"``: each configuration scored at the band it was trained with (inference compress
  rate and preserve energy equal to the training ones). Columns are configuration names. This is
  how a configuration is meant to be used, and the paper's main comparison.
- ``"all"``: every (configuration, inference setting) pair is its own column, labelled
  ``"<config> @ <inference>"`` (e.g. ``"c=0.5 @ c=0.75"``: trained at 0.5, predicting at 0.75).
- any inference setting name (e.g. ``"c=0"``): every configuration scored under that one setting.

Only rows with ``status == "ok"`` count; a (dataset, column) without any becomes NaN, which the
statistics refuse unless asked to drop incomplete datasets.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

METRICS = ("accuracy", "balanced_accuracy")
# Metrics where lower is better, for tables and plots of costs.
COST_METRICS = ("fit_seconds", "predict_seconds", "saved_bytes")


def view_rows(results: pd.DataFrame, view: str = "matched") -> pd.DataFrame:
    """The successful rows of ``view`` with a ``column`` field naming their score-table column."""
    rows = results[results["status"] == "ok"]
    if view == "matched":
        same = (np.isclose(rows["inference_compress_rate"], rows["train_compress_rate"])
                & np.isclose(rows["inference_preserve_energy"], rows["train_preserve_energy"]))
        # Two settings may both match (e.g. "as-trained" and "c=0.5"); they score the same band.
        rows = rows[same].drop_duplicates(["dataset", "config", "seed"])
        return rows.assign(column=rows["config"])
    if view == "all":
        return rows.assign(column=rows["config"] + " @ " + rows["inference"])
    known = sorted(results["inference"].unique())
    if view not in known:
        raise ValueError(f"view must be 'matched', 'all' or an inference setting of the results "
                         f"{known}, got {view!r}")
    rows = rows[rows["inference"] == view]
    return rows.assign(column=rows["config"])


def score_table(results: pd.DataFrame, *, metric: str = "accuracy",
                view: str = "matched") -> pd.DataFrame:
    """Mean ``metric`` over seeds: index = datasets, columns = configurations of ``view``.

    Columns keep the order in which configurations (and inference settings) first appear in the
    results; rows are sorted by dataset name. Cells without a successful row are NaN.
    """
    if metric not in results.columns:
        raise ValueError(f"metric must be a results column such as {METRICS}, got {metric!r}")
    rows = view_rows(results, view)
    order = _column_order(results, view)
    table = rows.pivot_table(index="dataset", columns="column", values=metric, aggfunc="mean",
                             dropna=False)
    datasets = sorted(results["dataset"].unique())
    table = table.reindex(index=datasets, columns=order)
    table.index.name, table.columns.name = "dataset", None
    return table.astype(float)


def _column_order(results: pd.DataFrame, view: str) -> list[str]:
    """Columns of ``view`` in order of first appearance; failed runs keep their column (as NaN),
    configurations never scored under a fixed inference setting have none."""
    if view not in ("matched", "all"):
        return list(dict.fromkeys(results.loc[results["inference"] == view, "config"]))
    configs = list(dict.fromkeys(results["config"]))
    if view == "matched":
        return configs
    pairs = dict.fromkeys(results["config"] + " @ " + results["inference"])
    return [p for c in configs for p in pairs if p.split(" @ ")[0] == c]


def seed_counts(results: pd.DataFrame, view: str = "matched") -> pd.DataFrame:
    """Number of successful seeds behind each cell of :func:`score_table` (0 where none)."""
    rows = view_rows(results, view)
    counts = rows.groupby(["dataset", "column"]).size().unstack(fill_value=0)
    return counts.reindex(index=sorted(results["dataset"].unique()),
                          columns=_column_order(results, view), fill_value=0)


def train_inference_matrix(results: pd.DataFrame, *, metric: str = "accuracy") -> pd.DataFrame:
    """Mean ``metric`` over datasets and seeds: rows = configurations, columns = inference settings."""
    rows = results[results["status"] == "ok"]
    per_dataset = rows.groupby(["config", "inference", "dataset"])[metric].mean()
    matrix = per_dataset.groupby(["config", "inference"]).mean().unstack()
    return matrix.reindex(index=list(dict.fromkeys(results["config"])),
                          columns=list(dict.fromkeys(results["inference"])))


def cost_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per configuration (matched view): mean fit and predict seconds, epochs, bytes saved for
    backward and kept bins summed over layers, over datasets and seeds."""
    rows = view_rows(results, "matched")
    frame = rows.assign(kept_bins_total=rows["kept_bins"].map(_sum_json))
    table = frame.groupby("config")[["fit_seconds", "predict_seconds", "epochs", "saved_bytes",
                                     "kept_bins_total"]].mean()
    return table.reindex(list(dict.fromkeys(results["config"])))


def _sum_json(text) -> float:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return np.nan
    return float(sum(json.loads(text).values()))
