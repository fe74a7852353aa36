// Tiled shared-memory CMAC kernel: a complex GEMM per frequency k, the faster design when M, N
// and J are large (every loaded element is reused CMAC_TILE times from shared memory).
//
//   out[k, m, n] = sum_j op(a)[k, m, j] * op(b)[k, j, n],   op = conj when conj_a / conj_b != 0
//
// a: (K, M, J), b: (K, J, N), out: (K, M, N), arbitrary 64-bit element strides. Block:
// (CMAC_TILE, CMAC_TILE) threads, thread (x, y) owning out[k, m0 + y, n0 + x] of a
// CMAC_TILE x CMAC_TILE output tile. Grid: x strides over the output tiles of one frequency,
// y over the frequencies (grid-stride loops, so any grid covers any shape; every loop bound is
// uniform over the block, so all threads reach every __syncthreads).
#include "cmac_common.cuh"

template <typename Real>
__device__ void cmac_tiled(const typename ComplexOf<Real>::type* __restrict__ a,
                           const typename ComplexOf<Real>::type* __restrict__ b,
                           typename ComplexOf<Real>::type* __restrict__ out,
                           long long K, long long M, long long J, long long N,
                           long long sak, long long sam, long long saj,
                           long long sbk, long long sbj, long long sbn,
                           long long sok, long long som, long long son,
                           int conj_a, int conj_b) {
    typedef typename ComplexOf<Real>::type Complex;
    // +1 column: the transposed tile writes below then hit distinct shared-memory banks.
    __shared__ Complex a_tile[CMAC_TILE][CMAC_TILE + 1];  // [m][j]
    __shared__ Complex b_tile[CMAC_TILE][CMAC_TILE + 1];  // [j][n]

    const Real sign_a = conj_a ? Real(-1) : Real(1);
    const Real sign_b = conj_b ? Real(-1) : Real(1);
    Complex zero;
    zero.x = Real(0);
    zero.y = Real(0);

    // Loading a tile, consecutive threads (x) walk the operand axis with the smaller stride, so
    // global reads coalesce both for contiguous operands and for transposed views.
    const int tx = threadIdx.x;
    const int ty = threadIdx.y;
    const bool a_m_fast = llabs(sam) < llabs(saj);
    const bool b_j_fast = llabs(sbj) < llabs(sbn);
    const int a_row = a_m_fast ? tx : ty;  // m within the tile
    const int a_col = a_m_fast ? ty : tx;  // j within the tile
    const int b_row = b_j_fast ? tx : ty;  // j within the tile
    const int b_col = b_j_fast ? ty : tx;  // n within the tile

    const long long tiles_n = (N + CMAC_TILE - 1) / CMAC_TILE;
    const long long tiles = ((M + CMAC_TILE - 1) / CMAC_TILE) * tiles_n;
    for (long long k = blockIdx.y; k < K; k += gridDim.y) {
        for (long long t = blockIdx.x; t < tiles; t += gridDim.x) {
            const long long m0 = (t / tiles_n) * CMAC_TILE;
            const long long n0 = (t - (t / tiles_n) * tiles_n) * CMAC_TILE;
            Accumulator<Real> acc = {Real(0), Real(0)};
            for (long long j0 = 0; j0 < J; j0 += CMAC_TILE) {
                const long long am = m0 + a_row;
                const long long aj = j0 + a_col;
                a_tile[a_row][a_col] = (am < M && aj < J)
                    ? load_complex<Real>(a + k * sak + am * sam + aj * saj, sign_a) : zero;
                const long long bj = j0 + b_row;
                const long long bn = n0 + b_col;
                b_tile[b_row][b_col] = (bj < J && bn < N)
                    ? load_complex<Real>(b + k * sbk + bj * sbj + bn * sbn, sign_b) : zero;
                __syncthreads();  // the tiles are complete before anyone reads them
                const int width = (J - j0 < CMAC_TILE) ? (int)(J - j0) : CMAC_TILE;
                for (int jj = 0; jj < width; ++jj) {
                    mac3(acc, a_tile[ty][jj], b_tile[jj][tx]);
                }
                __syncthreads();  // everyone is done reading before the next load overwrites
            }
            const long long m = m0 + ty;
            const long long n = n0 + tx;
            if (m < M && n < N) {
                out[k * sok + m * som + n * son] = to_complex(acc);
            }
        }
    }
}

extern "C" __global__ void cmac_tiled_c64(const float2* __restrict__ a,
                                          const float2* __restrict__ b,
                                          float2* __restrict__ out,
                                          long long K, long long M, long long J, long long N,
                                          long long sak, long long sam, long long saj,
                                          long long sbk, long long sbj, long long sbn,
                                          long long sok, long long som, long long son,
                                          int conj_a, int conj_b) {
    cmac_tiled<float>(a, b, out, K, M, J, N, sak, sam, saj, sbk, sbj, sbn, sok, som, son,
                      conj_a, conj_b);
}

extern "C" __global__ void cmac_tiled_c128(const double2* __restrict__ a,
                                           const double2* __restrict__ b,
                                           double2* __restrict__ out,
                                           long long K, long long M, long long J, long long N,
                                           long long sak, long long sam, long long saj,
                                           long long sbk, long long sbj, long long sbn,
                                           long long sok, long long som, long long son,
                                           int conj_a, int conj_b) {
    cmac_tiled<double>(a, b, out, K, M, J, N, sak, sam, saj, sbk, sbj, sbn, sok, som, son,
                       conj_a, conj_b);
}
