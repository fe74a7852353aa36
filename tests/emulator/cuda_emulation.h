// Host emulation of the CUDA C subset used by kernels/*.cu, for verifying the kernels without a
// GPU (issue 6). Force-included (g++ -include) before a kernel source; the runtime that launches
// grids is cuda_emulation_runtime.cpp, linked into the same shared library (see
// emulated_kernels.py, which also appends a launch thunk per __global__ function).
//
// Execution model: every thread of a block is a real std::thread; __shared__ arrays are
// function-local statics shared by the block's threads (blocks of a launch run one after
// another and launches are serialised); __syncthreads is a real barrier. See the runtime for the
// schedules and the checks.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
};
struct float2 {
    float x, y;
};
struct double2 {
    double x, y;
};

extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;

void __syncthreads();

namespace emu {

inline size_t align_up(size_t offset, size_t alignment) {
    return (offset + alignment - 1) / alignment * alignment;
}

// Copies one kernel parameter out of a CUDA-style packed parameter buffer (natural alignment).
template <typename T>
inline T read_param(const char* buffer, size_t& offset) {
    offset = align_up(offset, alignof(T));
    T value;
    std::memcpy(&value, buffer + offset, sizeof(T));
    offset += sizeof(T);
    return value;
}

template <typename T>
inline void add_param_size(size_t& offset) {
    offset = align_up(offset, alignof(T)) + sizeof(T);
}

}  // namespace emu
