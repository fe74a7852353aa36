"""Pairwise Wilcoxon signed-rank p-values for small N with ties: bandts against scipy, same run.

scipy.stats.wilcoxon switches to an exact permutation test when N <= 13 and the differences have
ties or zeros, evaluating its statistic one sign flip at a time. bandts.evaluation.stats runs the
same enumeration vectorized. This times all k(k-1)/2 pairs of a score table both ways, checks the
p-values agree, and writes benchmarks/results/bench_wilcoxon.{json,csv}.

    python benchmarks/bench_wilcoxon.py [--rounds 3] [--configs 6]
"""

import argparse
import itertools
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import scipy.stats

from bandts.evaluation.stats import wilcoxon_holm_test
from results_io import save_results


def scipy_pairs(table):
    values = table.to_numpy()
    return [scipy.stats.wilcoxon(values[:, i], values[:, j], zero_method="zsplit").pvalue
            for i, j in itertools.combinations(range(values.shape[1]), 2)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--configs", type=int, default=6)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for n in (6, 10, 13, 20):
        # Accuracies on small test sets: two decimals, so ties and zero differences are common.
        table = pd.DataFrame(np.round(rng.uniform(0.6, 0.9, size=(n, args.configs)), 2),
                             columns=[f"c{j}" for j in range(args.configs)])
        ours_s, scipy_s = [], []
        for _ in range(args.rounds):          # interleaved, so noise hits both alike
            start = time.perf_counter()
            ours = wilcoxon_holm_test(table)
            ours_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            reference = scipy_pairs(table)
            scipy_s.append(time.perf_counter() - start)
        pairs = list(itertools.combinations(table.columns, 2))
        max_diff = max(abs(ours.pvalues.loc[a, b] - p) for (a, b), p in zip(pairs, reference))
        rows.append({"n_datasets": n, "n_configs": args.configs, "pairs": len(pairs),
                     "bandts_median_s": statistics.median(ours_s),
                     "scipy_median_s": statistics.median(scipy_s),
                     "speedup": statistics.median(scipy_s) / statistics.median(ours_s),
                     "max_abs_pvalue_diff": max_diff})
    print(f"{'N':>3} {'pairs':>5} {'bandts s':>9} {'scipy s':>9} {'speedup':>8} {'max |dp|':>9}")
    for r in rows:
        print(f"{r['n_datasets']:>3} {r['pairs']:>5} {r['bandts_median_s']:>9.3f} "
              f"{r['scipy_median_s']:>9.3f} {r['speedup']:>8.1f} {r['max_abs_pvalue_diff']:>9.1e}")
    meta = {"python": platform.python_version(), "scipy": scipy.__version__,
            "machine": platform.machine(), "rounds": args.rounds}
    save_results(Path(__file__).resolve().parent / "results", "bench_wilcoxon", meta, rows)


if __name__ == "__main__":
    main()
