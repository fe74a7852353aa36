"""Where the GEMM transform of bandts.functional.transforms beats torch.fft.

For each frame length L and number of kept bins, times spectrum_of + signal_of (one analysis and
one synthesis, as in a forward and backward pass) by both methods on the same data, in interleaved
rounds, and prints the median times and their ratio. The crossover sets
``bandts.functional.transforms.GEMM_BINS_PER_LOG2``. Writes
benchmarks/results/bench_transforms.{json,csv}.

    python benchmarks/bench_transforms.py [--rounds 15] [--threads N]
"""

import math
import os
import statistics
import time
from unittest import mock

import torch

from bandts.functional import transforms
from results_io import save_results
from timing_cli import set_up_torch, timing_parser

# (rows R, signal length P, frame length L): the FCN layers at L = 270 and 1024, batch 32.
CASES = [(4096, 270, 288), (8192, 270, 288), (4096, 1024, 1080), (8192, 1024, 1080)]
BIN_FRACTIONS = (0.06, 0.12, 0.25, 0.5, 1.0)


def round_trip(rows, bins, fft_len):
    spectrum = transforms.spectrum_of(rows, bins, 1, fft_len)
    return transforms.signal_of(spectrum, rows.shape[1], 1, fft_len, inverse=True)


def run(rounds):
    results = []
    for n_rows, length, fft_len in CASES:
        rows = torch.randn(n_rows, length)
        n_bins = fft_len // 2 + 1
        for fraction in BIN_FRACTIONS:
            bins = max(1, round(fraction * n_bins))
            times = {"gemm": [], "fft": []}
            for _ in range(rounds + 2):
                for method, per_log2 in (("gemm", math.inf), ("fft", 0.0)):
                    with mock.patch.object(transforms, "GEMM_BINS_PER_LOG2", per_log2):
                        start = time.perf_counter()
                        round_trip(rows, bins, fft_len)
                        times[method].append(time.perf_counter() - start)
            gemm, fft = (statistics.median(times[m][2:]) for m in ("gemm", "fft"))
            results.append({"rows": n_rows, "length": length, "fft_len": fft_len, "bins": bins,
                            "bins_per_log2": round(bins / math.log2(fft_len), 1),
                            "gemm_ms": round(gemm * 1e3, 3), "fft_ms": round(fft * 1e3, 3),
                            "gemm_vs_fft": round(gemm / fft, 3)})
    return results


def main():
    parser = timing_parser(__doc__.splitlines()[0])
    args = parser.parse_args()
    set_up_torch(args)
    rows = run(args.rounds)
    header = f"{'R':>6}{'L':>6}{'bins':>6}{'bins/log2L':>11}{'gemm ms':>9}{'fft ms':>9}{'gemm/fft':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['rows']:>6}{r['fft_len']:>6}{r['bins']:>6}{r['bins_per_log2']:>11}"
              f"{r['gemm_ms']:>9.2f}{r['fft_ms']:>9.2f}{r['gemm_vs_fft']:>9.2f}")
    meta = {"torch": torch.__version__, "threads": args.threads, "rounds": args.rounds,
            "cpus": os.cpu_count()}
    print(f"\nwrote {save_results(args.out, 'bench_transforms', meta, rows)} and .csv")


if __name__ == "__main__":
    main()
