"""GPU time of the CUDA CMAC kernels against the torch backend (cuBLAS) and cuDNN convolution.

For each FCN layer (docs/design.md, "The FCN and its training") at a few compression rates, times the three CMACs of one
band-limited convolution step (forward, input gradient, weight gradient) with the PyCUDA kernels
(plane, tiled, and the design "auto" picks) and with the torch backend (a batched complex GEMM,
cuBLAS), and, for scale, cuDNN's own conv1d forward + backward of the same layer. Times are medians
of CUDA-event timings over interleaved rounds; ratios are against the torch backend in the same run.

Prints a table and writes benchmarks/results/bench_kernels_gpu.{json,csv}. Needs PyCUDA and a CUDA
device; without them it says so and exits with status 2 (no numbers are made up).

    python benchmarks/bench_kernels_gpu.py [--rounds 20] [--length 270] [--batch 16]
"""

import argparse
import platform
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from bandts.functional.band import static_level_1d
from bandts.functional.geometry import next_5_smooth
from results_io import save_results

RESULTS = Path(__file__).parent / "results"
RATES = (0.0, 0.5, 0.75)
FCN_LAYERS = [("FCN 1->128 k8", 1, 128, 8), ("FCN 128->256 k5", 128, 256, 5),
              ("FCN 256->128 k3", 256, 128, 3)]


def gpu_unavailable_reason():
    try:
        import pycuda.driver  # noqa: F401
    except ImportError as error:
        return f"PyCUDA is not importable ({error}); install it with pip install 'bandts[cuda]'"
    if not torch.cuda.is_available():
        return "torch sees no CUDA device"
    return None


def kept_bins(length, kernel, rate):
    """Kept one-sided bins of a 'same'-padded layer with the "minimal" FFT size (docs/design.md, "Spectrum sizes")."""
    fft_len = next_5_smooth(length + 2 * (kernel // 2))
    return static_level_1d(fft_len // 2 + 1, rate)


def cmac_operands(keep, batch, c_in, c_out, dtype):
    """The (a, b, conj_a) of the forward, input-gradient and weight-gradient CMACs of a layer."""
    def rand(*shape):
        return torch.randn(*shape, dtype=dtype, device="cuda")

    x = rand(batch, c_in, keep).permute(2, 0, 1)  # (keep, N, C), frequency fastest like rfft
    w_fwd = rand(keep, c_in, c_out)  # conj(Wf) as (keep, C, F)
    grad = rand(batch, c_out, keep).permute(2, 0, 1)  # (keep, N, F)
    w_bwd = rand(keep, c_out, c_in)  # Wf as (keep, F, C)
    return {"forward": (x, w_fwd, False), "input grad": (grad, w_bwd, False),
            "weight grad": (grad.transpose(1, 2), x, True)}


def time_cuda(fn, rounds):
    """Median milliseconds of fn() over rounds, by CUDA events, after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(rounds):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def run(rounds, length, batch):
    from bandts.backends import pycuda_cmac, torch_cmac

    rows = []
    for label, c_in, c_out, kernel in FCN_LAYERS:
        x = torch.randn(batch, c_in, length, device="cuda", requires_grad=True)
        w = torch.randn(c_out, c_in, kernel, device="cuda", requires_grad=True)

        def cudnn_step():
            out = F.conv1d(x, w, padding=kernel // 2)
            torch.autograd.grad(out.sum(), (x, w))

        cudnn_ms = time_cuda(cudnn_step, rounds)
        for rate in RATES:
            keep = kept_bins(length, kernel, rate)
            operands = cmac_operands(keep, batch, c_in, c_out, torch.complex64)
            variants = {
                "torch (cuBLAS)": lambda: [torch_cmac.cmac(a, b, conj_a=c)
                                           for a, b, c in operands.values()],
                "pycuda plane": lambda: [pycuda_cmac.cmac(a, b, c, design="plane")
                                         for a, b, c in operands.values()],
                "pycuda tiled": lambda: [pycuda_cmac.cmac(a, b, c, design="tiled")
                                         for a, b, c in operands.values()],
                "pycuda auto": lambda: [pycuda_cmac.cmac(a, b, c) for a, b, c in operands.values()],
            }
            times = {name: [] for name in variants}
            for _ in range(3):  # interleave so clock changes hit every variant alike
                for name, fn in variants.items():
                    times[name].append(time_cuda(fn, max(1, rounds // 3)))
            baseline = statistics.median(times["torch (cuBLAS)"])
            for name, samples in times.items():
                ms = statistics.median(samples)
                rows.append({"layer": label, "compress_rate": rate, "kept_bins": keep,
                             "variant": name, "cmac_ms": ms, "ratio_vs_torch": ms / baseline,
                             "cudnn_conv_step_ms": cudnn_ms})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--length", type=int, default=270, help="series length (FiftyWords: 270)")
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args(argv)
    reason = gpu_unavailable_reason()
    if reason is not None:
        print(f"bench_kernels_gpu: cannot run: {reason}. This benchmark needs PyCUDA and a CUDA "
              "device; no GPU numbers were measured.", file=sys.stderr)
        return 2
    rows = run(args.rounds, args.length, args.batch)
    print(f"{'layer':18} {'rate':>5} {'bins':>5} {'variant':16} {'CMAC ms':>9} {'vs torch':>9} "
          f"{'cuDNN step ms':>14}")
    for r in rows:
        print(f"{r['layer']:18} {r['compress_rate']:5.2f} {r['kept_bins']:5d} {r['variant']:16} "
              f"{r['cmac_ms']:9.3f} {r['ratio_vs_torch']:9.2f} {r['cudnn_conv_step_ms']:14.3f}")
    meta = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
            "python": platform.python_version(), "rounds": args.rounds, "length": args.length,
            "batch": args.batch}
    save_results(RESULTS, "bench_kernels_gpu", meta, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
