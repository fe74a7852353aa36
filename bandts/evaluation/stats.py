"""Comparing configurations over many datasets (Demsar 2006, JMLR 7:1-30).

Every test takes a score table: a pandas DataFrame, index = datasets, columns = configurations,
higher scores better unless ``higher_is_better=False``. Missing scores raise a ValueError listing
the holes; ``drop_incomplete=True`` drops those datasets instead, warns (IncompleteScoresWarning)
and records them in the result's ``dropped_datasets``.

- :func:`friedman_test`: Friedman chi-square from average ranks (Demsar's formula, no tie
  correction) and the Iman-Davenport F, with p-values.
- :func:`nemenyi_test`: Nemenyi critical difference for any number of configurations (from the
  studentized range distribution), pairwise p-values and cliques.
- :func:`wilcoxon_holm_test`: pairwise Wilcoxon signed-rank tests, Holm-corrected, and cliques;
  :func:`wilcoxon_holm_control` compares every configuration with one control.

A *clique* is a maximal run of configurations, consecutive in average-rank order, in which no pair
differs significantly: the groups a critical-difference diagram joins with a bar.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2 as chi2_distribution
from scipy.stats import f as f_distribution
from scipy.stats import permutation_test, rankdata, studentized_range, wilcoxon

from .ranks import Ranking, average_ranks, rank_scores

__all__ = [
    "FriedmanResult", "NemenyiResult", "WilcoxonHolmResult", "ControlComparison",
    "average_ranks", "rank_scores", "friedman_test", "nemenyi_test", "nemenyi_q",
    "nemenyi_critical_difference", "wilcoxon_holm_test", "wilcoxon_holm_control",
    "holm_adjust", "cliques_from_significance",
]

_MIN_DATASETS = 2


@dataclass(frozen=True)
class FriedmanResult:
    """Friedman test on average ranks.

    chi2 = 12N/(k(k+1)) (sum_j R_j^2 - k(k+1)^2/4), chi-square with k-1 degrees of freedom.
    f = (N-1) chi2 / (N(k-1) - chi2), F with (k-1, (k-1)(N-1)) degrees of freedom (infinite
    with p-value 0 when every dataset ranks the configurations identically).
    """

    average_ranks: pd.Series
    n_datasets: int
    n_configs: int
    chi2: float
    chi2_df: int
    chi2_pvalue: float
    f: float
    f_df: tuple
    f_pvalue: float
    dropped_datasets: tuple


@dataclass(frozen=True)
class NemenyiResult:
    """Nemenyi post-hoc test.

    q_alpha: studentized range quantile (1 - alpha, k, infinite df) divided by sqrt(2).
    critical_difference: q_alpha * sqrt(k(k+1)/(6N)), in rank units; two configurations differ
    significantly when their average ranks differ by at least this much.
    pvalues, significant: (k, k) DataFrames in column order, diagonal 1 / False.
    order: configurations best first. cliques: tuples of configurations, best first.
    """

    average_ranks: pd.Series
    order: tuple
    n_datasets: int
    alpha: float
    q_alpha: float
    critical_difference: float
    pvalues: pd.DataFrame
    significant: pd.DataFrame
    cliques: tuple
    dropped_datasets: tuple


@dataclass(frozen=True)
class WilcoxonHolmResult:
    """Pairwise Wilcoxon signed-rank tests with Holm's step-down correction.

    statistics, pvalues (uncorrected), adjusted_pvalues (Holm over the k(k-1)/2 pairs),
    significant (adjusted p-value <= alpha): (k, k) DataFrames in column order.
    order: configurations best first by average rank. cliques: tuples, best first.
    """

    average_ranks: pd.Series
    order: tuple
    n_datasets: int
    alpha: float
    zero_method: str
    statistics: pd.DataFrame
    pvalues: pd.DataFrame
    adjusted_pvalues: pd.DataFrame
    significant: pd.DataFrame
    cliques: tuple
    dropped_datasets: tuple


@dataclass(frozen=True)
class ControlComparison:
    """Each configuration against a control: Wilcoxon signed-rank, Holm over the k-1 tests.

    Series indexed by the other configurations (column order): statistics, pvalues,
    adjusted_pvalues, significant (adjusted p-value <= alpha), and median_difference
    (median over datasets of score minus control score; positive = higher scores).
    """

    control: object
    average_ranks: pd.Series
    n_datasets: int
    alpha: float
    zero_method: str
    statistics: pd.Series
    pvalues: pd.Series
    adjusted_pvalues: pd.Series
    significant: pd.Series
    median_difference: pd.Series
    dropped_datasets: tuple


def _check_alpha(alpha: float) -> float:
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    return float(alpha)


def _ranking(scores, higher_is_better, drop_incomplete) -> Ranking:
    ranking = rank_scores(scores, higher_is_better=higher_is_better,
                          drop_incomplete=drop_incomplete)
    if ranking.n_datasets < _MIN_DATASETS:
        raise ValueError(f"this test needs at least {_MIN_DATASETS} complete datasets, "
                         f"got {ranking.n_datasets}")
    return ranking


def friedman_test(scores: pd.DataFrame, *, higher_is_better: bool = True,
                  drop_incomplete: bool = False) -> FriedmanResult:
    """Friedman chi-square (Demsar's formula, no tie correction) and Iman-Davenport F."""
    ranking = _ranking(scores, higher_is_better, drop_incomplete)
    n, k = ranking.n_datasets, ranking.n_configs
    r = ranking.average.to_numpy()
    chi2 = 12.0 * n / (k * (k + 1)) * (np.sum(r ** 2) - k * (k + 1) ** 2 / 4.0)
    chi2 = max(chi2, 0.0)  # rounding can leave -1e-15 when all ranks are equal
    denominator = n * (k - 1) - chi2
    df1, df2 = k - 1, (k - 1) * (n - 1)
    if denominator <= 1e-12 * n * k:
        f_stat, f_pvalue = np.inf, 0.0
    else:
        f_stat = (n - 1) * chi2 / denominator
        f_pvalue = float(f_distribution.sf(f_stat, df1, df2))
    return FriedmanResult(
        average_ranks=ranking.average, n_datasets=n, n_configs=k, chi2=float(chi2),
        chi2_df=df1, chi2_pvalue=float(chi2_distribution.sf(chi2, df1)), f=float(f_stat),
        f_df=(df1, df2), f_pvalue=f_pvalue, dropped_datasets=ranking.dropped_datasets)


def nemenyi_q(n_configs: int, alpha: float = 0.05) -> float:
    """Nemenyi's q_alpha: studentized range quantile (1 - alpha, k, inf) / sqrt(2)."""
    if int(n_configs) != n_configs or n_configs < 2:
        raise ValueError(f"n_configs must be an integer >= 2, got {n_configs}")
    alpha = _check_alpha(alpha)
    return float(studentized_range.ppf(1.0 - alpha, int(n_configs), np.inf) / np.sqrt(2.0))


def nemenyi_critical_difference(n_configs: int, n_datasets: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference q_alpha * sqrt(k(k+1)/(6N)), in average-rank units."""
    if int(n_datasets) != n_datasets or n_datasets < 1:
        raise ValueError(f"n_datasets must be an integer >= 1, got {n_datasets}")
    k = int(n_configs)
    return nemenyi_q(k, alpha) * float(np.sqrt(k * (k + 1) / (6.0 * n_datasets)))


def cliques_from_significance(order, significant: pd.DataFrame) -> tuple:
    """Maximal runs of consecutive configurations (in ``order``) with no significant pair.

    order: configuration labels, best first. significant: boolean (k, k) DataFrame indexed by
    the labels. Returns tuples of labels (each with at least two members), best first; runs
    contained in a longer run are left out.
    """
    order = list(order)
    sig = significant.loc[order, order].to_numpy(dtype=bool)
    k = len(order)
    cliques, last_end, end = [], 0, 0
    for start in range(k):
        end = max(end, start)
        while end + 1 < k and not sig[start:end + 1, end + 1].any():
            end += 1
        if end > start and end > last_end:
            cliques.append(tuple(order[start:end + 1]))
            last_end = end
    return tuple(cliques)


def nemenyi_test(scores: pd.DataFrame, *, alpha: float = 0.05, higher_is_better: bool = True,
                 drop_incomplete: bool = False) -> NemenyiResult:
    """Nemenyi post-hoc test: critical difference, pairwise p-values and cliques."""
    alpha = _check_alpha(alpha)
    ranking = _ranking(scores, higher_is_better, drop_incomplete)
    n, k = ranking.n_datasets, ranking.n_configs
    r = ranking.average.to_numpy()
    standard_error = np.sqrt(k * (k + 1) / (6.0 * n))
    q_alpha = nemenyi_q(k, alpha)
    cd = q_alpha * standard_error
    differences = np.abs(r[:, None] - r[None, :])
    pvalues = studentized_range.sf(differences / standard_error * np.sqrt(2.0), k, np.inf)
    np.fill_diagonal(pvalues, 1.0)
    labels = ranking.average.index
    significant = pd.DataFrame(differences >= cd, index=labels, columns=labels)
    order = ranking.order()
    return NemenyiResult(
        average_ranks=ranking.average, order=tuple(order), n_datasets=n, alpha=alpha,
        q_alpha=q_alpha, critical_difference=float(cd),
        pvalues=pd.DataFrame(np.clip(pvalues, 0.0, 1.0), index=labels, columns=labels),
        significant=significant, cliques=cliques_from_significance(order, significant),
        dropped_datasets=ranking.dropped_datasets)


def holm_adjust(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values: sorted p_(i) -> max_{j<=i} min(1, (m-j+1) p_(j))."""
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be one-dimensional, got shape {p.shape}")
    if np.isnan(p).any():
        raise ValueError("pvalues contains NaN")
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted_sorted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted


_EXACT_SIGN_FLIPS_MAX_N = 13   # scipy.stats.wilcoxon's own limit for its exact permutation test


def _signed_rank(x: np.ndarray, y: np.ndarray, zero_method: str) -> tuple[float, float]:
    """(min(R+, R-), two-sided p-value) of the Wilcoxon signed-rank test of x - y.

    Same numbers as scipy.stats.wilcoxon(x, y, zero_method=...) with its default method. For
    N <= 13 scipy enumerates all 2^N sign flips one Python call at a time (about 1 s per pair
    when there are ties); here the same enumeration runs through scipy's permutation_test with
    a vectorized statistic. The ranks of |x - y| do not change under sign flips, so R+ of every
    flip is a masked sum of fixed ranks.
    """
    d = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    if d.size > _EXACT_SIGN_FLIPS_MAX_N:
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 when all d are zero
            result = wilcoxon(x, y, zero_method=zero_method)
        return float(result.statistic), float(result.pvalue)
    zeros = d == 0
    ranks = np.zeros_like(d)
    if zero_method == "wilcox":          # zeros are discarded
        ranks[~zeros] = rankdata(np.abs(d[~zeros]))
    else:                                # zeros are ranked ("pratt"), half of them to R+ ("zsplit")
        ranks = rankdata(np.abs(d))
    zero_share = ranks[zeros].sum() / 2.0 if zero_method == "zsplit" else 0.0

    def r_plus(flipped, axis=-1):
        return np.sum((flipped > 0) * ranks, axis=axis) + zero_share

    pvalue = permutation_test((d,), r_plus, permutation_type="samples", vectorized=True,
                              n_resamples=np.inf, alternative="two-sided").pvalue
    r_minus = np.sum((d < 0) * ranks) + zero_share
    return float(min(r_plus(d), r_minus)), float(pvalue)


def _check_zero_method(zero_method: str) -> str:
    if zero_method not in ("zsplit", "pratt", "wilcox"):
        raise ValueError(f"zero_method must be 'zsplit', 'pratt' or 'wilcox', got {zero_method!r}")
    return zero_method


def wilcoxon_holm_test(scores: pd.DataFrame, *, alpha: float = 0.05,
                       higher_is_better: bool = True, zero_method: str = "zsplit",
                       drop_incomplete: bool = False) -> WilcoxonHolmResult:
    """All pairs compared with the Wilcoxon signed-rank test, Holm-corrected; cliques.

    zero_method: how datasets with equal scores count (scipy.stats.wilcoxon); the default
    "zsplit" splits their ranks evenly between both sides, as Demsar (2006, 3.1.3) recommends.
    """
    alpha = _check_alpha(alpha)
    zero_method = _check_zero_method(zero_method)
    ranking = _ranking(scores, higher_is_better, drop_incomplete)
    table = scores.loc[list(ranking.ranks.index), list(ranking.ranks.columns)].astype(float)
    values = table.to_numpy()
    k = values.shape[1]
    pairs = list(itertools.combinations(range(k), 2))
    statistics, pvalues = np.zeros((k, k)), np.ones((k, k))
    raw = np.empty(len(pairs))
    for index, (i, j) in enumerate(pairs):
        statistics[i, j], raw[index] = _signed_rank(values[:, i], values[:, j], zero_method)
        statistics[j, i] = statistics[i, j]
        pvalues[i, j] = pvalues[j, i] = raw[index]
    adjusted = np.ones((k, k))
    for (i, j), p in zip(pairs, holm_adjust(raw)):
        adjusted[i, j] = adjusted[j, i] = p
    labels = table.columns
    significant = pd.DataFrame(adjusted <= alpha, index=labels, columns=labels)
    order = ranking.order()
    return WilcoxonHolmResult(
        average_ranks=ranking.average, order=tuple(order), n_datasets=ranking.n_datasets,
        alpha=alpha, zero_method=zero_method,
        statistics=pd.DataFrame(statistics, index=labels, columns=labels),
        pvalues=pd.DataFrame(pvalues, index=labels, columns=labels),
        adjusted_pvalues=pd.DataFrame(adjusted, index=labels, columns=labels),
        significant=significant, cliques=cliques_from_significance(order, significant),
        dropped_datasets=ranking.dropped_datasets)


def wilcoxon_holm_control(scores: pd.DataFrame, control, *, alpha: float = 0.05,
                          higher_is_better: bool = True, zero_method: str = "zsplit",
                          drop_incomplete: bool = False) -> ControlComparison:
    """Every configuration against ``control`` (a column label): Wilcoxon, Holm over k-1 tests."""
    alpha = _check_alpha(alpha)
    zero_method = _check_zero_method(zero_method)
    if isinstance(scores, pd.DataFrame) and control not in scores.columns:
        raise ValueError(f"control {control!r} is not a configuration column; columns are "
                         f"{list(scores.columns)}")
    ranking = _ranking(scores, higher_is_better, drop_incomplete)
    table = scores.loc[list(ranking.ranks.index), list(ranking.ranks.columns)].astype(float)
    others = [c for c in table.columns if c != control]
    base = table[control].to_numpy()
    tested = [_signed_rank(table[c].to_numpy(), base, zero_method) for c in others]
    raw = np.array([p for _, p in tested])
    adjusted = holm_adjust(raw)
    index = pd.Index(others)
    return ControlComparison(
        control=control, average_ranks=ranking.average, n_datasets=ranking.n_datasets,
        alpha=alpha, zero_method=zero_method,
        statistics=pd.Series([s for s, _ in tested], index=index, name="statistic"),
        pvalues=pd.Series(raw, index=index, name="pvalue"),
        adjusted_pvalues=pd.Series(adjusted, index=index, name="adjusted_pvalue"),
        significant=pd.Series(adjusted <= alpha, index=index, name="significant"),
        median_difference=pd.Series(
            np.median(table[others].to_numpy() - base[:, None], axis=0), index=index,
            name="median_difference"),
        dropped_datasets=ranking.dropped_datasets)
