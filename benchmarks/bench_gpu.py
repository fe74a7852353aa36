"""Band-limited training on a GPU against cuDNN: FCN training steps and the FCN's layers.

For each shape (batch x length; default the FiftyWords shape 16 x 270 and 64 x 1024), times:

- ``step``: one FCN training step (forward, cross-entropy, backward, Adam step) of bandts'
  network with ``conv="direct"`` (cuDNN, the baseline) and with band-limited layers at each
  compress rate and CMAC backend;
- ``step-graphed``: the same step captured once in a CUDA graph and replayed (static shapes;
  what launch overhead leaves), graphed against graphed;
- ``layer``: forward + backward of each of the three FCN convolutions alone.

Times are CUDA-event medians over interleaved rounds (each round runs every configuration once,
in turn), and ``torch.cuda.max_memory_allocated`` is read over one step after a reset (parameters
and optimizer state included, as for the baseline). Ratios are against the direct network of the
same shape in the same run. GPU name, driver, torch and CPU model are recorded.

Usage:
    python benchmarks/bench_gpu.py [--rounds 15] [--rates 0 0.5 0.75] [--backends torch pycuda]

Without a CUDA device it says so and exits with status 2 (``--allow-cpu`` runs the same code on
the CPU, with wall-clock timers, to check the script itself).

Results: a table on stdout and ``benchmarks/results/bench_gpu.{json,csv}``.
"""

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import print_table, save_results  # noqa: E402

from bandts.functional import Band  # noqa: E402
from bandts.models import FCN  # noqa: E402
from bandts.nn import BandLimitedConv1d  # noqa: E402

N_CLASSES = 50  # FiftyWords
LAYERS = ((1, 128, 8), (128, 256, 5), (256, 128, 3))  # the FCN's convolutions


class Timer:
    """CUDA events on a GPU, the wall clock elsewhere; ``measure(fn)`` returns milliseconds."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def measure(self, fn, repeats: int) -> float:
        if self.cuda:
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(repeats):
                fn()
            stop.record()
            torch.cuda.synchronize()
            return start.elapsed_time(stop) / repeats
        begin = time.perf_counter()
        for _ in range(repeats):
            fn()
        return (time.perf_counter() - begin) * 1e3 / repeats


def training_step(model, x, y, graphed: bool):
    """A callable running one training step; with ``graphed``, the step captured in a CUDA graph
    (static x and y) and replayed."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=graphed)

    def step():
        optimizer.zero_grad(set_to_none=False)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    if not graphed:
        return step
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up outside the graph: caches, allocator, Adam state
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def layer_pass(layer, x):
    def run():
        layer(x).sum().backward()
    return run


def peak_memory_mb(fn, device) -> float:
    if device.type != "cuda":
        return float("nan")
    fn()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def configurations(args, device):
    """(name, kind, build) for every network configuration: build() -> model on device."""
    def network(conv, band=None, backend="auto"):
        def build():
            torch.manual_seed(0)
            return FCN(1, N_CLASSES, conv=conv, band=band, backend=backend).to(device)
        return build

    yield "direct", network("direct")
    for backend in args.backends:
        for rate in args.rates:
            yield f"c={rate:g}/{backend}", network("fft", Band(compress_rate=rate), backend)


def gpu_description(device) -> dict:
    if device.type != "cuda":
        return {"gpu": None}
    properties = torch.cuda.get_device_properties(device)
    try:
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        driver = None
    return {"gpu": properties.name, "gpu_memory_gib": round(properties.total_memory / 2**30, 1),
            "driver": driver, "cuda": torch.version.cuda}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=5, help="steps timed per round")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.5, 0.75])
    parser.add_argument("--backends", nargs="+", default=["torch", "pycuda"],
                        choices=("torch", "pycuda"))
    parser.add_argument("--shapes", nargs="+", default=["16x270", "64x1024"],
                        help="batch x length of the FCN input")
    parser.add_argument("--no-graphs", action="store_true", help="skip the CUDA-graph replays")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="run on the CPU (to check the script; no GPU numbers)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if torch.cuda.is_available():
        device = torch.device("cuda")
    elif args.allow_cpu:
        device = torch.device("cpu")
    else:
        print("bench_gpu: no CUDA device (torch.cuda.is_available() is False); this benchmark "
              "needs a GPU (--allow-cpu checks the script on the CPU)", file=sys.stderr)
        return 2
    if "pycuda" in args.backends and (device.type != "cuda"
                                      or importlib.util.find_spec("pycuda") is None):
        print("bench_gpu: PyCUDA or CUDA missing, the pycuda backend is skipped", file=sys.stderr)
        args.backends = [b for b in args.backends if b != "pycuda"]
    timer = Timer(device)
    graph_modes = [False] if (args.no_graphs or device.type != "cuda") else [False, True]
    rows = []
    for shape in args.shapes:
        batch, length = (int(v) for v in shape.split("x"))
        x = torch.randn(batch, 1, length, device=device)
        y = torch.randint(0, N_CLASSES, (batch,), device=device)
        runs = {}
        for name, build in configurations(args, device):
            for graphed in graph_modes:
                step = training_step(build(), x, y, graphed)
                kind = "step-graphed" if graphed else "step"
                runs[(kind, name)] = (step, peak_memory_mb(step, device))
        for c_in, c_out, k in LAYERS:
            layer_x = torch.randn(batch, c_in, length, device=device, requires_grad=c_in > 1)
            for name, build in configurations(args, device):
                torch.manual_seed(0)
                direct = torch.nn.Conv1d(c_in, c_out, k, padding="same").to(device)
                layer = direct if name == "direct" else BandLimitedConv1d.from_conv(
                    direct, band=Band(compress_rate=float(name.split("/")[0][2:])),
                    backend=name.split("/")[1])
                runs[(f"layer {c_in}->{c_out} k{k}", name)] = (layer_pass(layer, layer_x),
                                                               float("nan"))
        times = {key: [] for key in runs}
        for _ in range(args.rounds):
            for key, (fn, _) in runs.items():
                times[key].append(timer.measure(fn, args.repeats))
        for (kind, name), samples in times.items():
            ms = statistics.median(samples)
            rows.append({"shape": shape, "kind": kind, "config": name, "ms": round(ms, 4),
                         "peak_mb": round(runs[(kind, name)][1], 2), "runs_ms": samples})
        for row in rows:
            if row["shape"] == shape:
                base = next(r for r in rows if r["shape"] == shape and r["kind"] == row["kind"]
                            and r["config"] == "direct")
                row["ms_vs_direct"] = round(row["ms"] / base["ms"], 3)
                row["peak_vs_direct"] = round(row["peak_mb"] / base["peak_mb"], 3) \
                    if base["peak_mb"] == base["peak_mb"] and base["peak_mb"] else None
    print_table(rows, [("shape", "shape", ">8"), ("kind", "kind", ">22"),
                       ("config", "config", ">14"), ("ms", "ms", ">9.3f"),
                       ("x direct", "ms_vs_direct", ">9.2f"), ("peak MB", "peak_mb", ">9.1f"),
                       ("x direct", "peak_vs_direct", ">9.2f")])
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "torch": torch.__version__,
            "device": str(device), "rounds": args.rounds, "repeats": args.repeats,
            **gpu_description(device)}
    name = "bench_gpu" if device.type == "cuda" else "bench_gpu-cpu-check"
    path = save_results(args.out, name, meta, rows, csv_skip=("runs_ms",))
    print(f"\nwrote {path} and .csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
