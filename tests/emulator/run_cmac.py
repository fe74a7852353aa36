"""Launch one emulated CMAC kernel on numpy arrays; also a command line for sanitizer runs.

Command line (used by the tests in a subprocess with ThreadSanitizer or AddressSanitizer
preloaded, which is why this imports numpy but not torch)::

    python run_cmac.py LIBRARY SOURCE KERNEL INPUTS.npz OUTPUT.npy GRID BLOCK SCHEDULE CONJ_A CONJ_B

INPUTS.npz holds ``a`` (K, M, J) and ``b`` (K, J, N); GRID and BLOCK are comma-separated ints.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def cmac_args(a_ptr, a_strides, b_ptr, b_strides, out_ptr, out_strides, kmjn, conj_a, conj_b):
    """The parameter list of every cmac_* kernel, as numpy scalars (strides in elements)."""
    return (np.uintp(a_ptr), np.uintp(b_ptr), np.uintp(out_ptr),
            *(np.int64(v) for v in (*kmjn, *a_strides, *b_strides, *out_strides)),
            np.int32(conj_a), np.int32(conj_b))


def numpy_cmac_args(a: np.ndarray, b: np.ndarray, out: np.ndarray, conj_a: bool, conj_b: bool):
    """:func:`cmac_args` for numpy arrays a (K, M, J), b (K, J, N), out (K, M, N)."""
    k, m, j = a.shape
    return cmac_args(a.ctypes.data, [s // a.itemsize for s in a.strides],
                     b.ctypes.data, [s // b.itemsize for s in b.strides],
                     out.ctypes.data, [s // out.itemsize for s in out.strides],
                     (k, m, j, b.shape[2]), conj_a, conj_b)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from emulator.emulated_kernels import EmulatedModule, pack_params

    library, source, kernel, inputs, output, grid, block, schedule, conj_a, conj_b = argv
    data = np.load(inputs)
    a, b = data["a"], data["b"]
    out = np.zeros((a.shape[0], a.shape[1], b.shape[2]), dtype=a.dtype)
    module = EmulatedModule(Path(library), Path(source).read_text())
    args = numpy_cmac_args(a, b, out, conj_a == "1", conj_b == "1")
    module.launch(kernel, pack_params(args), tuple(int(v) for v in grid.split(",")),
                  tuple(int(v) for v in block.split(",")), schedule=schedule)
    np.save(output, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
