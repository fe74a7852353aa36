"""Independent references for band-limited convolutions: direct sums and explicit DFT matrices in
NumPy (no torch, no FFT library), float64."""

import numpy as np


def circular_correlation_1d(x, w, length):
    """c[t] = sum_s x[(t + s) mod L] w[s] for t in 0..L-1; x (W,) already padded, w (K,)."""
    xp = np.zeros(length)
    xp[:len(x)] = x
    return np.array([sum(xp[(t + s) % length] * w[s] for s in range(len(w))) for t in range(length)])


def ideal_lowpass_1d(signal, keep):
    """Keep the DFT bins with circular index distance < keep (the one-sided bins 0..keep-1 and
    their mirrors), by explicit DFT matrices."""
    n = len(signal)
    k = np.arange(n)
    dft = np.exp(-2j * np.pi * np.outer(k, k) / n)
    spectrum = dft @ signal
    spectrum[np.minimum(k, n - k) >= keep] = 0
    return (dft.conj() @ spectrum).real / n


def bandlimited_conv1d_reference(x, w, bias, stride, pad_left, pad_right, fft_len, keep):
    """x (N, C, W), w (F, C, K) -> (N, F, W_out): low-passed exact correlation of the padded input."""
    n, c, width = x.shape
    f, _, k = w.shape
    full_out = width + pad_left + pad_right - k + 1
    out = np.zeros((n, f, full_out))
    for i in range(n):
        for j in range(f):
            total = np.zeros(fft_len)
            for ch in range(c):
                padded = np.concatenate([np.zeros(pad_left), x[i, ch], np.zeros(pad_right)])
                total += circular_correlation_1d(padded, w[j, ch], fft_len)
            out[i, j] = ideal_lowpass_1d(total, keep)[:full_out] + (0 if bias is None else bias[j])
    return out[..., ::stride]


def bandlimited_conv2d_reference(x, w, pads, fft_shape, keep_rows, keep_cols):
    """x (N, C, H, W), w (F, C, kH, kW), pads ((top, bottom), (left, right)), stride 1.

    Low-pass: keep 2D DFT coefficients (r, c) with circular row distance < keep_rows and circular
    column distance < keep_cols.
    """
    (pt, pb), (pl, pr) = pads
    lh, lw = fft_shape
    n, ch, h, wd = x.shape
    f, _, kh, kw = w.shape
    out_h, out_w = h + pt + pb - kh + 1, wd + pl + pr - kw + 1
    rh, rw = np.arange(lh), np.arange(lw)
    dft_h = np.exp(-2j * np.pi * np.outer(rh, rh) / lh)
    dft_w = np.exp(-2j * np.pi * np.outer(rw, rw) / lw)
    mask = (np.minimum(rh, lh - rh)[:, None] < keep_rows) & (np.minimum(rw, lw - rw)[None, :] < keep_cols)
    out = np.zeros((n, f, out_h, out_w))
    for i in range(n):
        for j in range(f):
            corr = np.zeros((lh, lw))
            for c in range(ch):
                padded = np.zeros((lh, lw))
                padded[pt:pt + h, pl:pl + wd] = x[i, c]
                for a in range(kh):
                    for b in range(kw):
                        corr += w[j, c, a, b] * np.roll(padded, (-a, -b), axis=(0, 1))
            spectrum = dft_h @ corr @ dft_w.T
            spectrum[~mask] = 0
            out[i, j] = (dft_h.conj() @ spectrum @ dft_w.conj().T).real[:out_h, :out_w] / (lh * lw)
    return out
