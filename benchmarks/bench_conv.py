"""Forward+backward time and saved-for-backward bytes of the band-limited convolutions against
torch's own conv1d / conv2d, measured in the same run.

Prints a table and writes benchmarks/results/bench_conv.{json,csv}. Times are medians over
interleaved rounds (each round runs every variant of a shape once, in a random order), so machine
noise hits all variants alike; ratios are against torch's conv of the same round set.

    python benchmarks/bench_conv.py [--rounds 15] [--threads N] [--quick]
"""

import os
import platform
import random
import statistics
import time

import torch
import torch.nn.functional as F

from bandts.functional import bandlimited_conv1d, bandlimited_conv2d
from results_io import save_results
from timing_cli import set_up_torch, timing_parser

RATES = (0.0, 0.5, 0.75)
# (label, spatial dims, batch, in channels, out channels, kernel, spatial size)
SHAPES = [
    ("FCN 1->128 k8", 1, 32, 1, 128, 8, 270), ("FCN 128->256 k5", 1, 32, 128, 256, 5, 270),
    ("FCN 256->128 k3", 1, 32, 256, 128, 3, 270),
    ("FCN 1->128 k8", 1, 32, 1, 128, 8, 1024), ("FCN 128->256 k5", 1, 32, 128, 256, 5, 1024),
    ("FCN 256->128 k3", 1, 32, 256, 128, 3, 1024),
    ("2D 64->64 3x3", 2, 32, 64, 64, 3, 32),
]


def activation_bytes_saved(step, parameters):
    """Bytes of distinct storages saved for backward, excluding the parameters (which exist anyway)."""
    storages = {}
    parameter_ptrs = {p.untyped_storage().data_ptr() for p in parameters}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in parameter_ptrs:
            storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = step()
    return sum(storages.values()), out


def run(rounds, quick):
    results = []
    shuffler = random.Random(0)
    shapes = SHAPES[:2] + SHAPES[-1:] if quick else SHAPES
    for label, dims, n, c, f, k, size in shapes:
        x = torch.randn(n, c, *([size] * dims), requires_grad=True)
        w = torch.randn(f, c, *([k] * dims), requires_grad=True)
        b = torch.randn(f, requires_grad=True)
        direct = F.conv1d if dims == 1 else F.conv2d
        ours = bandlimited_conv1d if dims == 1 else bandlimited_conv2d
        variants = {"torch conv": lambda: direct(x, w, b, padding="same")}
        for rate in RATES:
            variants[f"bandts c={rate}"] = (
                lambda rate=rate: ours(x, w, b, padding="same", compress_rate=rate, backend="torch"))
        times = {name: [] for name in variants}
        for fn in variants.values():  # warm-up
            fn().sum().backward()
        order = list(variants)
        for _ in range(rounds):
            # A fresh order every round: a variant's time depends on what ran just before it
            # (memory the previous one freed is faulted in again), so no variant may always
            # follow the same one.
            shuffler.shuffle(order)
            for name in order:
                fn = variants[name]
                x.grad = w.grad = b.grad = None
                start = time.perf_counter()
                fn().sum().backward()
                times[name].append(time.perf_counter() - start)
        input_bytes = x.numel() * x.element_size()
        base = statistics.median(times["torch conv"])
        for name, fn in variants.items():
            saved, _ = activation_bytes_saved(fn, (w, b))
            median = statistics.median(times[name])
            results.append({
                "shape": label, "length": size, "variant": name, "median_ms": round(median * 1e3, 2),
                "time_vs_torch": round(median / base, 3), "saved_bytes": saved,
                "saved_vs_input": round(saved / input_bytes, 3)})
    return results


def main():
    parser = timing_parser(__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three shapes only")
    args = parser.parse_args()
    set_up_torch(args)
    rows = run(args.rounds, args.quick)
    header = f"{'shape':<18}{'L':>6}  {'variant':<16}{'fwd+bwd ms':>11}{'x torch':>9}{'saved MB':>10}{'saved/x':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['shape']:<18}{r['length']:>6}  {r['variant']:<16}{r['median_ms']:>11.2f}"
              f"{r['time_vs_torch']:>9.3f}{r['saved_bytes'] / 2**20:>10.2f}{r['saved_vs_input']:>9.3f}")
    meta = {"torch": torch.__version__, "threads": args.threads, "rounds": args.rounds,
            "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count()}
    path = save_results(args.out, "bench_conv", meta, rows)
    print(f"\nwrote {path} and .csv ({meta})")


if __name__ == "__main__":
    main()
