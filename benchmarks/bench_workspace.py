"""Does keeping scratch buffers between calls pay? The band-limited 1D convolution's forward and
backward with its scratch buffers kept (every size), bounded (the workspace's own policy) and
fresh (none kept), same run.

The CPU plan lends its large temporaries from :mod:`bandts.backends.workspace`. Keeping one
between calls saves allocating (and faulting in) its memory on the next call, but the memory
stays held. Per layer shape of the FCN (as in bench_conv.py) and compress rate, this prints the
median forward+backward time of each policy, the ratios to keeping everything and the bytes held
(the largest buffer, all buffers kept, those the bounded policy keeps), and torch's conv1d as the
context. Variants run in a fresh
random order every round, interleaved with torch's conv as in bench_conv.py (memory that another
operation freed is faulted in again). The workspace keeps a buffer only from
``workspace.KEEP_MIN_BYTES`` on: the size from which this benchmark shows a gain (bounded as fast
as kept, holding much less).

    python benchmarks/bench_workspace.py [--rounds 15] [--threads N]

Results: a table and benchmarks/results/bench_workspace.{json,csv}.
"""

import random
import statistics
import time

import torch
import torch.nn.functional as F

from bandts.backends import workspace
from bandts.functional import bandlimited_conv1d
from results_io import print_table, save_results
from timing_cli import set_up_torch, timing_parser

RATES = (0.5, 0.75)
# (label, batch, in channels, out channels, kernel, length): the FCN's layers, as bench_conv.py.
SHAPES = [("FCN 1->128 k8", 32, 1, 128, 8, 270), ("FCN 128->256 k5", 32, 128, 256, 5, 270),
          ("FCN 256->128 k3", 32, 256, 128, 3, 270), ("FCN 1->128 k8", 32, 1, 128, 8, 1024),
          ("FCN 128->256 k5", 32, 128, 256, 5, 1024), ("FCN 256->128 k3", 32, 256, 128, 3, 1024)]
# (KEEP_MIN_BYTES, KEEP_MAX_BYTES): every buffer kept, the workspace's own bounds, none kept.
TABLE = [("shape", "shape", "<17"), ("L", "length", ">5"), ("c", "rate", ">5"),
         ("torch ms", "torch_ms", ">9.2f"), ("kept ms", "kept_ms", ">8.2f"),
         ("bounded", "bounded_ms", ">8.2f"), ("fresh ms", "fresh_ms", ">8.2f"),
         ("fresh/kept", "fresh_vs_kept", ">10.3f"), ("bounded/kept", "bounded_vs_kept", ">12.3f"),
         ("largest MiB", "largest_buffer_mib", ">11.2f"),
         ("held MiB kept", "kept_held_mib", ">13.2f"), ("bounded", "bounded_held_mib", ">7.2f")]
POLICIES = {"kept": (0, 2**62), "bounded": (workspace.KEEP_MIN_BYTES, workspace.KEEP_MAX_BYTES),
            "fresh": (2**62, 0)}


def _set_policy(policy: str, call) -> None:
    """Keep the buffers that ``policy`` keeps, grown by one call as a previous step would."""
    workspace.KEEP_MIN_BYTES, workspace.KEEP_MAX_BYTES = POLICIES[policy]
    workspace.release()
    call()


def _call(x, w, b, rate):
    x.grad = w.grad = b.grad = None
    out = (F.conv1d(x, w, b, padding="same") if rate is None
           else bandlimited_conv1d(x, w, b, padding="same", compress_rate=rate))
    out.sum().backward()


def kept_sizes(x, w, b, rate, policy: str) -> tuple:
    """(largest buffer, all buffers) in bytes that ``policy`` holds after a call."""
    _set_policy(policy, lambda: _call(x, w, b, rate))
    sizes = [buffer.numel() * buffer.element_size() for buffer, _ in workspace._slots().values()]
    return max(sizes, default=0), sum(sizes)


def run(rounds: int) -> list:
    defaults = workspace.KEEP_MIN_BYTES, workspace.KEEP_MAX_BYTES
    shuffler = random.Random(0)
    rows = []
    try:
        for label, n, c, f, k, length in SHAPES:
            x = torch.randn(n, c, length, requires_grad=True)
            w = torch.randn(f, c, k, requires_grad=True)
            b = torch.randn(f, requires_grad=True)
            variants = [(None, None)] + [(rate, policy) for rate in RATES for policy in POLICIES]
            for rate, _ in variants:  # warm-up
                _call(x, w, b, rate)
            times = {variant: [] for variant in variants}
            for _ in range(rounds):
                shuffler.shuffle(variants)
                for rate, policy in variants:
                    if policy is not None:  # set outside the timed call
                        _set_policy(policy, lambda: _call(x, w, b, rate))
                    start = time.perf_counter()
                    _call(x, w, b, rate)
                    times[rate, policy].append(time.perf_counter() - start)
            torch_ms = statistics.median(times[None, None]) * 1e3
            for rate in RATES:
                ms = {p: statistics.median(times[rate, p]) * 1e3 for p in POLICIES}
                largest, held = kept_sizes(x, w, b, rate, "kept")
                rows.append({"shape": label, "length": length, "rate": rate,
                             "torch_ms": round(torch_ms, 2),
                             **{f"{p}_ms": round(value, 2) for p, value in ms.items()},
                             "fresh_vs_kept": round(ms["fresh"] / ms["kept"], 3),
                             "bounded_vs_kept": round(ms["bounded"] / ms["kept"], 3),
                             "largest_buffer_mib": round(largest / 2**20, 2),
                             "kept_held_mib": round(held / 2**20, 2),
                             "bounded_held_mib": round(
                                 kept_sizes(x, w, b, rate, "bounded")[1] / 2**20, 2)})
    finally:
        workspace.KEEP_MIN_BYTES, workspace.KEEP_MAX_BYTES = defaults
        workspace.release()
    return rows


def main():
    args = timing_parser(__doc__.splitlines()[0]).parse_args()
    set_up_torch(args)
    rows = run(args.rounds)
    print_table(rows, TABLE)
    meta = {"torch": torch.__version__, "threads": args.threads, "rounds": args.rounds,
            "keep_min_bytes": workspace.KEEP_MIN_BYTES, "keep_max_bytes": workspace.KEEP_MAX_BYTES}
    path = save_results(args.out, "bench_workspace", meta, rows)
    print(f"\nwrote {path} and .csv")


if __name__ == "__main__":
    main()
