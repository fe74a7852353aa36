"""Statistics of bandts.evaluation against Demsar (2006), scipy and scikit-posthocs."""

import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs
import scipy.stats
from statsmodels.stats.multitest import multipletests

from bandts.evaluation.ranks import IncompleteScoresWarning, average_ranks, rank_scores
from bandts.evaluation.stats import (
    cliques_from_significance, friedman_test, holm_adjust, nemenyi_critical_difference, nemenyi_q,
    nemenyi_test, wilcoxon_holm_control, wilcoxon_holm_test)

DEMSAR = Path(__file__).resolve().parents[1] / "data" / "demsar2006"


def _demsar(name):
    return pd.read_csv(DEMSAR / name, index_col="dataset")


def _random_table(rng, n, k, decimals=None):
    values = rng.normal(size=(n, k)) + np.linspace(0.0, 1.0, k)
    if decimals is not None:
        values = np.round(values, decimals)
    return pd.DataFrame(values, index=[f"d{i}" for i in range(n)],
                        columns=[f"c{j}" for j in range(k)])


# --- Demsar's worked example (sections 3.2.2 and 3.2.3) 

def test_demsar_printed_ranks_reproduce_published_numbers():
    ranks = _demsar("ranks.csv")  # already ranks: lower is better
    result = friedman_test(ranks, higher_is_better=False)
    np.testing.assert_allclose(result.average_ranks.to_numpy(), [3.143, 2.000, 2.893, 1.964],
                               atol=5e-4)
    assert round(result.chi2, 2) == 9.28
    assert round(result.f, 2) == 3.69
    assert result.f_df == (3, 39) and result.chi2_df == 3
    # p-values from the chi-square (3 df) and F (3, 39) distributions of the published statistics.
    assert result.chi2_pvalue == pytest.approx(scipy.stats.chi2.sf(result.chi2, 3))
    assert 0.01 < result.f_pvalue < 0.05  # Demsar: F(3, 39) critical value 2.85 at 0.05 < 3.69

    at05 = nemenyi_test(ranks, alpha=0.05, higher_is_better=False)
    at10 = nemenyi_test(ranks, alpha=0.10, higher_is_better=False)
    assert round(at05.q_alpha, 3) == 2.569 and round(at10.q_alpha, 3) == 2.291
    assert round(at05.critical_difference, 2) == 1.25
    assert round(at10.critical_difference, 2) == 1.12
    # At 0.05 no pair differs (one clique); at 0.10 C4.5 is worse than C4.5+m and C4.5+m+cf.
    assert at05.cliques == (("C4.5+m+cf", "C4.5+m", "C4.5+cf", "C4.5"),)
    assert not at05.significant.to_numpy().any()
    assert at10.cliques == (("C4.5+m+cf", "C4.5+m", "C4.5+cf"), ("C4.5+cf", "C4.5"))
    significant_pairs = {frozenset(p) for p in itertools.combinations(ranks.columns, 2)
                         if at10.significant.loc[p[0], p[1]]}
    assert significant_pairs == {frozenset({"C4.5", "C4.5+m"}), frozenset({"C4.5", "C4.5+m+cf"})}


def test_demsar_auc_table_ranked_from_scores():
    auc = _demsar("auc.csv")
    ranking = rank_scores(auc)
    np.testing.assert_allclose(ranking.average.to_numpy(), [3.143, 2.000, 2.929, 1.929],
                               atol=5e-4)
    assert ranking.ranks.loc["mushroom"].tolist() == [2.5, 2.5, 2.5, 2.5]
    assert ranking.ranks.loc["voting"].tolist() == [4.0, 1.0, 2.5, 2.5]
    assert friedman_test(auc).chi2 == pytest.approx(9.857, abs=5e-4)
    # Section 3.1.3: C4.5 against C4.5+m, the mushroom tie split evenly: R- = 12 (p < 0.05).
    control = wilcoxon_holm_control(auc, "C4.5")
    assert control.statistics["C4.5+m"] == 12.0
    assert control.pvalues["C4.5+m"] < 0.05
    assert control.median_difference["C4.5+m"] > 0


def test_nemenyi_q_matches_demsars_table_and_the_normal_quantile():
    # Demsar (2006) Table 5(a), k = 2..10, printed to 3 decimals (k = 3 truncates 2.3437).
    q05 = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]
    q10 = [1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920]
    for k, a, b in zip(range(2, 11), q05, q10):
        assert nemenyi_q(k, 0.05) == pytest.approx(a, abs=1e-3)
        assert nemenyi_q(k, 0.10) == pytest.approx(b, abs=1e-3)
    # For two configurations the range of two normals / sqrt(2) is |N(0, 1)|.
    assert nemenyi_q(2, 0.05) == pytest.approx(scipy.stats.norm.ppf(0.975), rel=1e-6)
    # No table cap: k = 50 works and grows monotonically.
    assert nemenyi_q(50, 0.05) > nemenyi_q(30, 0.05) > nemenyi_q(10, 0.05)
    assert nemenyi_critical_difference(4, 14, 0.05) == pytest.approx(
        nemenyi_q(4) * np.sqrt(4 * 5 / (6 * 14)))


# --- cross-checks against scipy and scikit-posthocs 

@pytest.mark.parametrize("n,k", [(5, 3), (20, 7), (12, 30), (40, 30)])
def test_friedman_matches_scipy_on_tie_free_tables(n, k):
    table = _random_table(np.random.default_rng(n * 100 + k), n, k)
    ours = friedman_test(table)
    reference = scipy.stats.friedmanchisquare(*table.to_numpy().T)
    assert ours.chi2 == pytest.approx(reference.statistic, rel=1e-10)
    assert ours.chi2_pvalue == pytest.approx(reference.pvalue, rel=1e-8)
    expected_f = (n - 1) * ours.chi2 / (n * (k - 1) - ours.chi2)
    assert ours.f == pytest.approx(expected_f)
    assert ours.f_pvalue == pytest.approx(scipy.stats.f.sf(expected_f, k - 1, (k - 1) * (n - 1)))


@pytest.mark.parametrize("n,k,decimals", [(10, 2, None), (15, 5, 1), (25, 12, 1), (30, 30, None)])
def test_nemenyi_pvalues_match_scikit_posthocs(n, k, decimals):
    table = _random_table(np.random.default_rng(k), n, k, decimals)
    ours = nemenyi_test(table)
    reference = scikit_posthocs.posthoc_nemenyi_friedman(table)
    np.testing.assert_allclose(ours.pvalues.to_numpy(), reference.to_numpy(), rtol=1e-7,
                               atol=1e-12)
    # Significance by critical difference agrees with p-value <= alpha.
    off_diagonal = ~np.eye(k, dtype=bool)
    assert np.array_equal(ours.significant.to_numpy()[off_diagonal],
                          (reference.to_numpy() <= 0.05)[off_diagonal])


@pytest.mark.parametrize("n,k,decimals", [(12, 3, 1), (20, 8, None), (30, 30, 1)])
def test_wilcoxon_holm_matches_scikit_posthocs(n, k, decimals):
    table = _random_table(np.random.default_rng(7 * k), n, k, decimals)
    ours = wilcoxon_holm_test(table)
    melted = table.melt(var_name="config", value_name="score")
    for adjust, matrix in ((None, ours.pvalues), ("holm", ours.adjusted_pvalues)):
        reference = scikit_posthocs.posthoc_wilcoxon(
            melted, val_col="score", group_col="config", zero_method="zsplit", p_adjust=adjust)
        np.testing.assert_allclose(matrix.to_numpy(), reference.loc[table.columns,
                                                                   table.columns].to_numpy(),
                                   rtol=1e-10)
    assert np.array_equal(ours.significant.to_numpy(), ours.adjusted_pvalues.to_numpy() <= 0.05)


@pytest.mark.parametrize("zero_method", ["zsplit", "pratt", "wilcox"])
def test_small_sample_signed_rank_matches_scipy_with_ties_and_zeros(zero_method):
    # N <= 13 takes the vectorized sign-flip enumeration; scipy enumerates one flip at a time.
    rng = np.random.default_rng(len(zero_method))
    for n in (2, 5, 8, 12):
        x = np.round(rng.normal(size=n), 1)
        y = np.round(x + rng.normal(scale=0.5, size=n), 1)
        y[: n // 3] = x[: n // 3]                        # zero differences
        table = pd.DataFrame({"x": x, "y": y, "z": x + 0.05})
        ours = wilcoxon_holm_test(table, zero_method=zero_method)
        for a, b in (("x", "y"), ("x", "z"), ("y", "z")) if n < 12 else (("x", "y"),):
            reference = scipy.stats.wilcoxon(table[a], table[b], zero_method=zero_method)
            assert ours.pvalues.loc[a, b] == pytest.approx(reference.pvalue, rel=1e-12)
            assert ours.statistics.loc[a, b] == pytest.approx(reference.statistic, rel=1e-12)


def test_wilcoxon_control_matches_scipy_and_statsmodels():
    table = _random_table(np.random.default_rng(3), 18, 6, decimals=1)
    result = wilcoxon_holm_control(table, "c2", zero_method="pratt")
    others = [c for c in table.columns if c != "c2"]
    raw = [scipy.stats.wilcoxon(table[c], table["c2"], zero_method="pratt") for c in others]
    np.testing.assert_allclose(result.pvalues.to_numpy(), [r.pvalue for r in raw])
    np.testing.assert_allclose(result.statistics.to_numpy(), [r.statistic for r in raw])
    np.testing.assert_allclose(result.adjusted_pvalues.to_numpy(),
                               multipletests([r.pvalue for r in raw], method="holm")[1])
    assert list(result.pvalues.index) == others


def test_holm_adjust_matches_statsmodels():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 45, 435):
        p = rng.uniform(0, 0.2, size=m) ** 2
        np.testing.assert_allclose(holm_adjust(p), multipletests(p, method="holm")[1])


# --- ranks, cliques and special cases 

def test_ranks_ties_and_direction():
    table = pd.DataFrame({"a": [0.9, 0.5, 0.7], "b": [0.8, 0.5, 0.7], "c": [0.8, 0.6, 0.1]},
                         index=["x", "y", "z"])
    ranking = rank_scores(table)
    assert ranking.ranks.loc["x"].tolist() == [1.0, 2.5, 2.5]
    assert ranking.ranks.loc["y"].tolist() == [2.5, 2.5, 1.0]
    assert ranking.ranks.loc["z"].tolist() == [1.5, 1.5, 3.0]
    np.testing.assert_allclose(ranking.average.to_numpy(), [5 / 3, 6.5 / 3, 6.5 / 3])
    assert ranking.order() == ["a", "b", "c"]  # ties keep column order
    lower = average_ranks(-table, higher_is_better=False)
    pd.testing.assert_series_equal(lower, ranking.average)
    # Ranks of each dataset always sum to k(k+1)/2.
    assert np.allclose(ranking.ranks.sum(axis=1), 6.0)


def test_cliques_on_a_known_significance_pattern():
    order = ["a", "b", "c", "d", "e"]
    significant = pd.DataFrame(False, index=order, columns=order)
    for x, y in [("a", "c"), ("a", "d"), ("a", "e"), ("b", "d"), ("b", "e")]:
        significant.loc[x, y] = significant.loc[y, x] = True
    assert cliques_from_significance(order, significant) == (("a", "b"), ("b", "c"),
                                                             ("c", "d", "e"))
    none = pd.DataFrame(False, index=order, columns=order)
    assert cliques_from_significance(order, none) == (tuple(order),)
    every = ~pd.DataFrame(np.eye(5, dtype=bool), index=order, columns=order)
    assert cliques_from_significance(order, every) == ()


def test_cliques_are_maximal_runs_without_significant_pairs():
    rng = np.random.default_rng(1)
    for _ in range(200):
        k = int(rng.integers(2, 9))
        upper = np.triu(rng.random((k, k)) < 0.35, 1)
        sig = upper | upper.T
        labels = list(range(k))
        cliques = cliques_from_significance(labels, pd.DataFrame(sig, index=labels,
                                                                 columns=labels))
        runs = {(i, j) for i in range(k) for j in range(i + 1, k)
                if not sig[i:j + 1, i:j + 1].any()}
        maximal = {(i, j) for i, j in runs
                   if not any(a <= i and j <= b and (a, b) != (i, j) for a, b in runs)}
        assert {(c[0], c[-1]) for c in cliques} == maximal
        assert all(list(c) == list(range(c[0], c[-1] + 1)) for c in cliques)


def test_perfect_agreement_gives_infinite_f():
    table = pd.DataFrame(np.tile([3.0, 2.0, 1.0], (6, 1)), columns=["a", "b", "c"])
    result = friedman_test(table)
    assert result.chi2 == pytest.approx(6 * 2)  # N (k - 1), the maximum
    assert result.f == np.inf and result.f_pvalue == 0.0


def test_identical_configurations_are_never_significant():
    table = _random_table(np.random.default_rng(5), 10, 3)
    table["copy"] = table["c0"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = wilcoxon_holm_test(table)
    assert result.pvalues.loc["c0", "copy"] == 1.0
    assert not result.significant.loc["c0", "copy"]


# --- bad input 

def _holey_table():
    table = _random_table(np.random.default_rng(2), 6, 3)
    table.loc["d1", "c0"] = np.nan
    table.loc["d4", "c2"] = np.nan
    return table


@pytest.mark.parametrize("test", [friedman_test, nemenyi_test, wilcoxon_holm_test, rank_scores])
def test_missing_scores_raise_listing_the_holes(test):
    with pytest.raises(ValueError) as error:
        test(_holey_table())
    message = str(error.value)
    assert "2 missing" in message and "('d1', 'c0')" in message and "('d4', 'c2')" in message
    assert "drop_incomplete=True" in message


def test_drop_incomplete_warns_and_reports():
    table = _holey_table()
    with pytest.warns(IncompleteScoresWarning, match=r"2 of 6.*'d1', 'd4'"):
        result = nemenyi_test(table, drop_incomplete=True)
    assert result.dropped_datasets == ("d1", "d4")
    assert result.n_datasets == 4
    expected = nemenyi_test(table.drop(index=["d1", "d4"]))
    pd.testing.assert_frame_equal(result.pvalues, expected.pvalues)
    with pytest.warns(IncompleteScoresWarning):
        assert friedman_test(table, drop_incomplete=True).dropped_datasets == ("d1", "d4")
    with pytest.warns(IncompleteScoresWarning):
        control = wilcoxon_holm_control(table, "c1", drop_incomplete=True)
    assert control.n_datasets == 4


def test_bad_tables_are_rejected_clearly():
    table = _random_table(np.random.default_rng(0), 5, 3)
    with pytest.raises(TypeError, match="pandas DataFrame"):
        friedman_test(table.to_numpy())
    with pytest.raises(ValueError, match="at least 2 configurations"):
        friedman_test(table[["c0"]])
    with pytest.raises(ValueError, match="at least 2 complete datasets"):
        nemenyi_test(table.iloc[:1])
    with pytest.raises(ValueError, match="duplicated datasets"):
        friedman_test(pd.concat([table, table.iloc[:1]]))
    with pytest.raises(TypeError, match="non-numeric.*'c1'"):
        friedman_test(table.assign(c1="x"))
    with pytest.raises(ValueError, match="infinite"):
        friedman_test(table.replace(table.iloc[0, 0], np.inf))
    with pytest.raises(ValueError, match="alpha"):
        nemenyi_test(table, alpha=1.5)
    with pytest.raises(ValueError, match="control 'zz'"):
        wilcoxon_holm_control(table, "zz")
    empty_column = table.assign(c2=np.nan)
    with pytest.warns(IncompleteScoresWarning), \
            pytest.raises(ValueError, match=r"without any score: \['c2'\]"):
        friedman_test(empty_column, drop_incomplete=True)
