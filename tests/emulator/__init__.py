"""CPU harness for the CUDA kernels of kernels/: host emulation of CUDA C and a PyCUDA stand-in."""
