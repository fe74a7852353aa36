"""Memory of one FCN training step against the band: saved for backward, peak, kept bins.

The FCN (paper widths) on a FiftyWords batch (16 series of length 270, 50 classes), one
training step (forward, cross-entropy, backward, Adam step) for:

- ``direct``: bandts' network with torch's convolutions (the baseline);
- ``direct+checkpoint``: the same with ``torch.utils.checkpoint`` around every block (the
  standard way to trade time for memory);
- ``c=R``: band-limited at static compress rates 0, 0.25, 0.5, 0.75, 0.9;
- ``E=P``: band-limited with energy cuts (per-sample scope) at 0.99, 0.95, 0.9;
- ``c=R/separate``: band-limited with conv, BatchNorm and ReLU as separate layers
  (``low_memory=False``: nothing recomputed).

Per configuration: bytes saved for backward (``saved_tensors_hooks``, parameters excluded); the
CPU peak of the step: the highest total of live tensor bytes above the step's start, from the
allocation and free events of the torch profiler (``profile_memory=True``), plus the scratch
buffers the layers keep between calls (allocated by the previous step and held: the user pays
for them); the kept bins of each band-limited layer (the paper's Table 1 analogue); the step time
(median over interleaved rounds); on a GPU, ``torch.cuda.max_memory_allocated`` over the step.
Ratios are against ``direct`` from the same run. The step before each measurement builds the
optimizer state, the cached DFT matrices and the scratch buffers.

Usage:
    python benchmarks/bench_memory.py [--rounds 9] [--threads 2] [--device cpu|cuda]

Results: a table, ``benchmarks/results/bench_memory.{json,csv}`` and the plot
``docs/memory.svg`` (memory against compression).
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.checkpoint import checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import save_results  # noqa: E402

from bandts.backends import workspace  # noqa: E402
from bandts.datasets import load_ucr  # noqa: E402
from bandts.functional import Band  # noqa: E402
from bandts.models import FCN  # noqa: E402
from bandts.nn import bandlimited_layers  # noqa: E402
from bandts.nn.memory import record_saved_bytes  # noqa: E402

BATCH = 16
CONFIGS = ["direct", "direct+checkpoint", "c=0", "c=0.25", "c=0.5", "c=0.75", "c=0.9",
           "E=0.99", "E=0.95", "E=0.9", "c=0.5/separate", "c=0.75/separate"]
DOCS = Path(__file__).resolve().parent.parent / "docs"


class CheckpointedFCN(torch.nn.Module):
    """The direct FCN with every block recomputed in backward (torch.utils.checkpoint)."""

    def __init__(self, fcn: FCN):
        super().__init__()
        self.fcn = fcn

    def forward(self, x):
        for block in self.fcn.blocks:
            x = checkpoint(block, x, use_reentrant=False)
        return self.fcn.head(x.mean(dim=2))


def build(config: str, n_classes: int, device) -> torch.nn.Module:
    torch.manual_seed(0)
    if config.startswith("direct"):
        model = FCN(1, n_classes, conv="direct")
        model = CheckpointedFCN(model) if config.endswith("checkpoint") else model
    elif config.startswith("c="):
        rate, _, layout = config[2:].partition("/")
        model = FCN(1, n_classes, band=Band(compress_rate=float(rate)),
                    low_memory=layout != "separate")
    else:
        model = FCN(1, n_classes, band=Band(preserve_energy=float(config[2:])))
    return model.to(device)


def batch(device):
    X, y, _, _ = load_ucr("FiftyWords")
    classes = {label: i for i, label in enumerate(sorted(set(y)))}
    x = torch.from_numpy(X[:BATCH]).float().to(device)
    labels = torch.tensor([classes[label] for label in y[:BATCH]], device=device)
    return x, labels, len(classes)


def stepper(model, x, y):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return step


def cpu_step_peak_bytes(step) -> int:
    """Highest total of live CPU tensor bytes above the start while ``step()`` runs."""
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = []
    pending = list(prof.profiler.kineto_results.experimental_event_tree())
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        if node.tag == _EventType.Allocation and node.extra_fields.device.type == "cpu":
            events.append((node.start_time_ns, node.extra_fields.alloc_size))
    live = peak = 0
    for _, size in sorted(events):
        live += size
        peak = max(peak, live)
    return peak


def measure(config: str, device) -> dict:
    """Memory of one step of ``config``."""
    x, y, n_classes = batch(device)
    workspace.release()
    model = build(config, n_classes, device)
    step = stepper(model, x, y)
    step()  # first step: optimizer state, cached DFT matrices, scratch buffers
    with record_saved_bytes(model) as saved:
        model(x)
    result = {"saved_mb": sum(saved.values()) / 1e6,
              "kept_bins": {name: layer.kept_bins for name, layer in bandlimited_layers(model)},
              "spectrum_bins": {name: layer.spectrum_bins
                                for name, layer in bandlimited_layers(model)}}
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        result["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 1e6
    else:
        result["step_peak_mb"] = cpu_step_peak_bytes(step) / 1e6
        result["scratch_mb"] = workspace.kept_bytes() / 1e6
        result["cpu_peak_mb"] = result["step_peak_mb"] + result["scratch_mb"]
    return result


def step_times(configs, device, rounds: int, repeats: int) -> dict:
    """Median step time of every configuration, interleaved rounds in this process."""
    x, y, n_classes = batch(device)
    steps = {config: stepper(build(config, n_classes, device), x, y) for config in configs}
    for step in steps.values():
        step()
    samples = {config: [] for config in configs}
    for _ in range(rounds):
        for config, step in steps.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(repeats):
                step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            samples[config].append((time.perf_counter() - start) * 1e3 / repeats)
    return {config: statistics.median(values) for config, values in samples.items()}


def plot(rows, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    static = [r for r in rows if r["config"].startswith("c=") and "/" not in r["config"]]
    rates = [float(r["config"][2:]) for r in static]
    figure = Figure(figsize=(6.4, 4.0))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    direct = next(r for r in rows if r["config"] == "direct")
    checkpointed = next(r for r in rows if r["config"] == "direct+checkpoint")
    peak_key = "cuda_peak_mb" if "cuda_peak_mb" in direct else "cpu_peak_mb"
    axes.plot(rates, [r["saved_mb"] for r in static], "o-", label="bandts: saved for backward")
    axes.plot(rates, [r[peak_key] for r in static], "s-", label="bandts: peak of the step + kept scratch")
    for value, style, label in ((direct["saved_mb"], "--", "direct: saved"),
                                (direct[peak_key], ":", "direct: peak"),
                                (checkpointed[peak_key], "-.", "direct + checkpoint: peak")):
        axes.axhline(value, linestyle=style, color="grey", label=label)
    axes.set_xlabel("compress rate c (static band)")
    axes.set_ylabel("MB per training step")
    axes.set_title("FCN on FiftyWords, batch 16: memory of one training step")
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [{"config": config, **measure(config, torch.device(args.device))}
            for config in CONFIGS]
    times = step_times(CONFIGS, torch.device(args.device), args.rounds, args.repeats)
    direct = rows[0]
    peak_key = "cuda_peak_mb" if "cuda_peak_mb" in direct else "cpu_peak_mb"
    for row in rows:
        row["step_ms"] = round(times[row["config"]], 2)
        row["saved_vs_direct"] = round(row["saved_mb"] / direct["saved_mb"], 3)
        row["peak_vs_direct"] = round(row[peak_key] / direct[peak_key], 3)
        row["time_vs_direct"] = round(row["step_ms"] / times["direct"], 3)
    print(f"{'config':>18} {'saved MB':>9} {'x':>6} {'peak MB':>9} {'x':>6} {'step ms':>8} "
          f"{'x':>6}  kept bins per layer")
    for r in rows:
        kept = ", ".join(f"{r['kept_bins'][k]}/{r['spectrum_bins'][k]}" for k in r["kept_bins"])
        print(f"{r['config']:>18} {r['saved_mb']:9.2f} {r['saved_vs_direct']:6.2f} "
              f"{r[peak_key]:9.2f} {r['peak_vs_direct']:6.2f} {r['step_ms']:8.1f} "
              f"{r['time_vs_direct']:6.2f}  {kept}")
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "torch": torch.__version__,
            "device": args.device, "threads": args.threads, "batch": BATCH,
            "rounds": args.rounds, "repeats": args.repeats, "peak": peak_key}
    for row in rows:
        row["kept_bins"] = json.dumps(row["kept_bins"])
        row["spectrum_bins"] = json.dumps(row["spectrum_bins"])
    path = save_results(args.out, "bench_memory", meta, rows)
    plot(rows, DOCS / "memory.svg")
    print(f"\nwrote {path} and .csv, and {DOCS / 'memory.svg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
