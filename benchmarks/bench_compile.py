"""torch.compile of band-limited networks: compile time and compiled step time against eager.

For the FCN (paper widths, FiftyWords shape: batch 16, length 270, 50 classes) at each
configuration: the time of the first compiled training step (compilation included, on-disk
compile caches off), then the median step time, eager and compiled, over interleaved
rounds in the same process, and the largest difference between eager and compiled outputs and
gradients on one batch (they must agree).

Usage:
    python benchmarks/bench_compile.py [--rounds 9] [--threads 2]

Results: a table and ``benchmarks/results/bench_compile.{json,csv}``.
"""

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import print_table, save_results  # noqa: E402

from bandts.functional import Band  # noqa: E402
from bandts.models import FCN  # noqa: E402

CONFIGS = {"direct": dict(conv="direct"), "c=0.5": dict(band=Band(compress_rate=0.5)),
           "c=0.75": dict(band=Band(compress_rate=0.75)),
           "E=0.95": dict(band=Band(preserve_energy=0.95))}


def step_of(model, x, y):
    def step():
        model.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss
    return step


def agreement(eager_model, compiled_model, x, y) -> float:
    """Largest absolute difference of outputs and gradients between the two (same weights)."""
    results = []
    for model in (eager_model, compiled_model):
        model.zero_grad(set_to_none=True)
        out = model(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        results.append([out.detach()] + [p.grad for p in model.parameters()])
    return max(float((a - b).abs().max()) for a, b in zip(*results))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # Energy cuts give a data-dependent number of kept bins: one graph needs this flag.
    torch._dynamo.config.capture_dynamic_output_shape_ops = True
    # Compile from scratch every time (no on-disk caches), so the compile times are honest.
    torch._inductor.config.fx_graph_cache = False
    torch._functorch.config.enable_autograd_cache = False
    torch._dynamo.reset()
    x, y = torch.randn(16, 1, 270), torch.randint(0, 50, (16,))
    runs, rows = {}, []
    for name, options in CONFIGS.items():
        torch.manual_seed(0)
        eager = FCN(1, 50, **options)
        twin = copy.deepcopy(eager)
        compiled = torch.compile(twin)
        start = time.perf_counter()
        step_of(compiled, x, y)()
        first = time.perf_counter() - start
        difference = agreement(eager, compiled, x, y)
        runs[name] = {"eager": step_of(eager, x, y), "compiled": step_of(compiled, x, y)}
        rows.append({"config": name, "first_compiled_step_s": round(first, 2),
                     "max_abs_difference": difference})
    times = {(name, kind): [] for name in runs for kind in ("eager", "compiled")}
    for _ in range(args.rounds):
        for name, steps in runs.items():
            for kind, step in steps.items():
                start = time.perf_counter()
                step()
                times[(name, kind)].append((time.perf_counter() - start) * 1e3)
    for row in rows:
        eager_ms = statistics.median(times[(row["config"], "eager")])
        compiled_ms = statistics.median(times[(row["config"], "compiled")])
        row.update(eager_ms=round(eager_ms, 2), compiled_ms=round(compiled_ms, 2),
                   compiled_vs_eager=round(compiled_ms / eager_ms, 3))
    print_table(rows, [("config", "config", ">8"), ("compile s", "first_compiled_step_s", ">10.1f"),
                       ("eager ms", "eager_ms", ">9.1f"), ("compiled ms", "compiled_ms", ">12.1f"),
                       ("ratio", "compiled_vs_eager", ">6.2f"),
                       ("max |diff|", "max_abs_difference", ">11.1e")])
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "torch": torch.__version__,
            "threads": args.threads, "rounds": args.rounds, "batch": 16, "length": 270}
    path = save_results(args.out, "bench_compile", meta, rows)
    print(f"\nwrote {path} and .csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
