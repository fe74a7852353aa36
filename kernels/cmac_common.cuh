// Shared pieces of the CMAC kernels (DESIGN.md section 5).
//
// Complex numbers are CUDA's float2 / double2 vector types (x = real, y = imaginary), which is
// the memory layout of torch.complex64 / torch.complex128. Accumulation happens in the scalar
// type of the input (float for complex64, double for complex128): never narrower than the input.
#pragma once

#define CMAC_TILE 16

template <typename Real> struct ComplexOf;
template <> struct ComplexOf<float> { typedef float2 type; };
template <> struct ComplexOf<double> { typedef double2 type; };

template <typename Real> struct Accumulator {
    Real re;
    Real im;
};

// Loads one complex element, negating its imaginary part when conj is set (conj_sign is +1 or
// -1, so the loaded value is exact either way and no branch diverges).
template <typename Real>
__device__ __forceinline__ typename ComplexOf<Real>::type
load_complex(const typename ComplexOf<Real>::type* p, Real conj_sign) {
    typename ComplexOf<Real>::type v = *p;
    v.y *= conj_sign;
    return v;
}

// acc += x * y with the 3-multiplication complex product:
// k1 = c(a + b), k2 = a(d - c), k3 = b(c + d);  x*y = (k1 - k3) + i(k1 + k2)
// for x = a + ib, y = c + id.
template <typename Real, typename Complex>
__device__ __forceinline__ void mac3(Accumulator<Real>& acc, Complex x, Complex y) {
    const Real k1 = y.x * (x.x + x.y);
    const Real k2 = x.x * (y.y - y.x);
    const Real k3 = x.y * (y.x + y.y);
    acc.re += k1 - k3;
    acc.im += k1 + k2;
}

template <typename Real>
__device__ __forceinline__ typename ComplexOf<Real>::type to_complex(Accumulator<Real> acc) {
    typename ComplexOf<Real>::type v;
    v.x = acc.re;
    v.y = acc.im;
    return v;
}
