"""Score tables and their ranks (Demsar 2006, section 3.2.2).

A *score table* is a pandas DataFrame with one row per dataset (the index) and one column per
configuration; each cell is a score such as accuracy (higher is better unless the caller says
otherwise). Ranks are taken within each dataset: 1 is the best configuration and tied scores
share the mean of the ranks they span.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

_MAX_LISTED_HOLES = 20


class IncompleteScoresWarning(UserWarning):
    """Datasets with missing scores were dropped because the caller passed drop_incomplete=True."""


@dataclass(frozen=True)
class Ranking:
    """Per-dataset ranks of a score table.

    ranks: DataFrame (n_datasets, n_configs) of ranks, 1 = best, ties share the mean rank.
    average: Series (n_configs,) of average ranks, in the table's column order.
    dropped_datasets: datasets removed because they had missing scores (drop_incomplete=True).
    higher_is_better: the direction the scores were ranked in.
    """

    ranks: pd.DataFrame
    average: pd.Series
    dropped_datasets: tuple
    higher_is_better: bool

    @property
    def n_datasets(self) -> int:
        return self.ranks.shape[0]

    @property
    def n_configs(self) -> int:
        return self.ranks.shape[1]

    def order(self) -> list:
        """Configurations from best (lowest average rank) to worst; ties keep column order."""
        return list(self.average.sort_values(kind="stable").index)


def complete_score_table(scores: pd.DataFrame, *, drop_incomplete: bool = False,
                         min_datasets: int = 1) -> tuple[pd.DataFrame, tuple]:
    """Check a score table and return (float table without holes, dropped dataset labels).

    Missing scores (NaN) raise a ValueError listing every (dataset, configuration) hole, unless
    ``drop_incomplete`` is True: then the datasets with holes are removed, an
    IncompleteScoresWarning names them, and they are returned as the second element.
    """
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(
            f"scores must be a pandas DataFrame (index = datasets, columns = configurations), "
            f"got {type(scores).__name__}")
    if scores.index.has_duplicates:
        dup = sorted(map(str, scores.index[scores.index.duplicated()].unique()))
        raise ValueError(f"scores has duplicated datasets in its index: {dup}; aggregate them "
                         f"(e.g. mean over seeds) first")
    if scores.columns.has_duplicates:
        dup = sorted(map(str, scores.columns[scores.columns.duplicated()].unique()))
        raise ValueError(f"scores has duplicated configuration columns: {dup}")
    if scores.shape[1] < 2:
        raise ValueError(f"scores needs at least 2 configurations (columns) to compare, "
                         f"got {scores.shape[1]}")
    non_numeric = [c for c in scores.columns
                   if not (pd.api.types.is_numeric_dtype(scores[c])
                           and not pd.api.types.is_bool_dtype(scores[c]))]
    if non_numeric:
        raise TypeError(f"scores must be numeric; non-numeric configuration columns: "
                        f"{[str(c) for c in non_numeric]}")
    table = scores.astype(float)
    values = table.to_numpy()
    if np.isinf(values).any():
        rows, cols = np.nonzero(np.isinf(values))
        cells = [(table.index[r], table.columns[c]) for r, c in zip(rows, cols)]
        raise ValueError(f"scores contains infinite values at (dataset, configuration) {cells}")

    missing = np.isnan(values)
    dropped: tuple = ()
    if missing.any():
        rows, cols = np.nonzero(missing)
        holes = [(table.index[r], table.columns[c]) for r, c in zip(rows, cols)]
        if not drop_incomplete:
            listed = ", ".join(f"({d!r}, {c!r})" for d, c in holes[:_MAX_LISTED_HOLES])
            more = (f" and {len(holes) - _MAX_LISTED_HOLES} more"
                    if len(holes) > _MAX_LISTED_HOLES else "")
            raise ValueError(
                f"scores has {len(holes)} missing value(s) at (dataset, configuration): "
                f"{listed}{more}. Fill them, or pass drop_incomplete=True to drop the datasets "
                f"that have holes")
        incomplete = missing.any(axis=1)
        dropped = tuple(table.index[incomplete])
        table = table.loc[~incomplete]
        warnings.warn(
            f"dropped {len(dropped)} of {len(incomplete)} dataset(s) with missing scores: "
            f"{list(dropped)}", IncompleteScoresWarning, stacklevel=3)
    if table.shape[0] < min_datasets:
        empty = [str(c) for c in scores.columns[scores.isna().all(axis=0)]]
        hint = f"; configurations without any score: {empty}" if empty else ""
        raise ValueError(f"this needs at least {min_datasets} complete dataset(s), "
                         f"{table.shape[0]} left{hint}")
    return table, dropped


def rank_scores(scores: pd.DataFrame, *, higher_is_better: bool = True,
                drop_incomplete: bool = False) -> Ranking:
    """Rank configurations within each dataset of a score table (1 = best, ties share)."""
    table, dropped = complete_score_table(scores, drop_incomplete=drop_incomplete)
    values = table.to_numpy()
    ranks = rankdata(-values if higher_is_better else values, method="average", axis=1)
    ranks = pd.DataFrame(ranks, index=table.index, columns=table.columns)
    return Ranking(ranks=ranks, average=ranks.mean(axis=0).rename("average_rank"),
                   dropped_datasets=dropped, higher_is_better=higher_is_better)


def average_ranks(scores: pd.DataFrame, *, higher_is_better: bool = True,
                  drop_incomplete: bool = False) -> pd.Series:
    """Average rank of each configuration over the datasets (1 = best), in column order.

    Use :func:`rank_scores` to also get the per-dataset ranks and the dropped datasets.
    """
    return rank_scores(scores, higher_is_better=higher_is_better,
                       drop_incomplete=drop_incomplete).average
