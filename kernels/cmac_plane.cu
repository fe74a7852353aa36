// The paper's CMAC kernel (Dziedzic et al. 2019): one thread block per (m, n) output pair, the
// threads of the block striding over the frequencies k, each thread summing over j in registers
// with the 3-multiplication complex product.
//
//   out[k, m, n] = sum_j op(a)[k, m, j] * op(b)[k, j, n],   op = conj when conj_a / conj_b != 0
//
// a: (K, M, J), b: (K, J, N), out: (K, M, N), all with arbitrary element strides (in complex
// elements, 64-bit), so transposed or permuted views need no copy. Coalesced when the k stride
// of the operands and of out is 1 (the layout of the rfft output; the host picks a k-fastest out).
//
// Grid: x strides over the M*N (m, n) pairs, y over chunks of blockDim.x frequencies; both loops
// are grid-stride loops, so any grid size covers any shape. No shared memory, no barrier.
#include "cmac_common.cuh"

template <typename Real>
__device__ void cmac_plane(const typename ComplexOf<Real>::type* __restrict__ a,
                           const typename ComplexOf<Real>::type* __restrict__ b,
                           typename ComplexOf<Real>::type* __restrict__ out,
                           long long K, long long M, long long J, long long N,
                           long long sak, long long sam, long long saj,
                           long long sbk, long long sbj, long long sbn,
                           long long sok, long long som, long long son,
                           int conj_a, int conj_b) {
    const Real sign_a = conj_a ? Real(-1) : Real(1);
    const Real sign_b = conj_b ? Real(-1) : Real(1);
    const long long pairs = M * N;
    const long long k_step = (long long)blockDim.x * gridDim.y;
    for (long long p = blockIdx.x; p < pairs; p += gridDim.x) {
        const long long m = p / N;
        const long long n = p - m * N;
        for (long long k = (long long)blockIdx.y * blockDim.x + threadIdx.x; k < K; k += k_step) {
            const typename ComplexOf<Real>::type* pa = a + k * sak + m * sam;
            const typename ComplexOf<Real>::type* pb = b + k * sbk + n * sbn;
            Accumulator<Real> acc = {Real(0), Real(0)};
            for (long long j = 0; j < J; ++j) {
                mac3(acc, load_complex<Real>(pa + j * saj, sign_a),
                     load_complex<Real>(pb + j * sbj, sign_b));
            }
            out[k * sok + m * som + n * son] = to_complex(acc);
        }
    }
}

extern "C" __global__ void cmac_plane_c64(const float2* __restrict__ a,
                                          const float2* __restrict__ b,
                                          float2* __restrict__ out,
                                          long long K, long long M, long long J, long long N,
                                          long long sak, long long sam, long long saj,
                                          long long sbk, long long sbj, long long sbn,
                                          long long sok, long long som, long long son,
                                          int conj_a, int conj_b) {
    cmac_plane<float>(a, b, out, K, M, J, N, sak, sam, saj, sbk, sbj, sbn, sok, som, son,
                      conj_a, conj_b);
}

extern "C" __global__ void cmac_plane_c128(const double2* __restrict__ a,
                                           const double2* __restrict__ b,
                                           double2* __restrict__ out,
                                           long long K, long long M, long long J, long long N,
                                           long long sak, long long sam, long long saj,
                                           long long sbk, long long sbj, long long sbn,
                                           long long sok, long long som, long long son,
                                           int conj_a, int conj_b) {
    cmac_plane<double>(a, b, out, K, M, J, N, sak, sam, saj, sbk, sbj, sbn, sok, som, son,
                       conj_a, conj_b);
}
