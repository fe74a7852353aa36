"""Shapes of a band-limited convolution: padding, output length and FFT length, per spatial axis.

All lengths are in samples (1D) or pixels (2D, one axis at a time).
"""

from dataclasses import dataclass

FFT_SIZE_RULES = ("minimal", "pow2", "paper")


@dataclass(frozen=True)
class AxisGeometry:
    """One spatial axis of a convolution.

    Attributes:
        in_len: input length W.
        kernel: filter length K.
        pad_left, pad_right: zeros added on each side.
        stride: output stride s.
        fft_len: FFT length L >= W + pad_left + pad_right.
    """

    in_len: int
    kernel: int
    pad_left: int
    pad_right: int
    stride: int
    fft_len: int

    @property
    def full_out_len(self) -> int:
        """Output length before stride: W + pads - K + 1."""
        return self.in_len + self.pad_left + self.pad_right - self.kernel + 1

    @property
    def out_len(self) -> int:
        """Output length after stride."""
        return (self.full_out_len - 1) // self.stride + 1

    @property
    def n_bins(self) -> int:
        """One-sided spectrum length L // 2 + 1."""
        return self.fft_len // 2 + 1


def next_5_smooth(n: int) -> int:
    """Smallest integer >= n whose prime factors are all 2, 3 or 5 (fast FFT lengths)."""
    m = max(1, n)
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def fft_length(rule, in_len: int, kernel: int, pad_left: int, pad_right: int) -> int:
    """FFT length for one axis under ``rule`` (docs/design.md, "Spectrum sizes").

    Args:
        rule: "minimal" (smallest 5-smooth >= padded length), "pow2", "paper"
            (padded + 2 * max(K - 1, out - 1), rounded up to a power of two) or an int >= padded.
    """
    padded = in_len + pad_left + pad_right
    if isinstance(rule, bool):
        raise TypeError(f"fft_size must be one of {FFT_SIZE_RULES} or an int, got {rule!r}")
    if isinstance(rule, int):
        if rule < padded:
            raise ValueError(
                f"fft_size={rule} is shorter than the padded input ({padded}); "
                f"give an int >= {padded} or one of {FFT_SIZE_RULES}")
        return rule
    if rule == "minimal":
        return next_5_smooth(padded)
    if rule == "pow2":
        return next_pow2(padded)
    if rule == "paper":
        out = padded - kernel + 1
        return next_pow2(padded + 2 * max(kernel - 1, out - 1))
    raise ValueError(f"fft_size must be one of {FFT_SIZE_RULES} or an int, got {rule!r}")


def _per_axis(value, n_axes: int, name: str):
    if isinstance(value, (tuple, list)):
        if len(value) != n_axes:
            raise ValueError(f"{name} needs {n_axes} values, got {value!r}")
        return tuple(value)
    return (value,) * n_axes


def resolve_geometry(in_shape, kernel_shape, stride, padding, fft_size) -> tuple:
    """Validate stride, padding and fft_size and return one :class:`AxisGeometry` per axis.

    Args:
        in_shape: spatial input sizes, e.g. (W,) or (H, W).
        kernel_shape: spatial filter sizes, same length.
        stride: int or one int per axis, >= 1.
        padding: int, one int per axis, "valid" or "same" (stride 1 only, as in torch).
        fft_size: a rule of :data:`FFT_SIZE_RULES`, an int, or one of these per axis.
    """
    n = len(in_shape)
    strides = _per_axis(stride, n, "stride")
    for s in strides:
        if isinstance(s, bool) or not isinstance(s, int) or s < 1:
            raise ValueError(f"stride must be a positive int, got {stride!r}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * n
        elif padding == "same":
            if any(s != 1 for s in strides):
                raise ValueError("padding='same' is not supported for strided convolutions (as in torch)")
            pads = [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel_shape]
        else:
            raise ValueError(f"padding must be an int, a tuple of ints, 'valid' or 'same', got {padding!r}")
    else:
        pads = []
        for p in _per_axis(padding, n, "padding"):
            if isinstance(p, bool) or not isinstance(p, int) or p < 0:
                raise ValueError(f"padding must be a non-negative int, got {padding!r}")
            pads.append((p, p))
    rules = fft_size if isinstance(fft_size, (tuple, list)) else (fft_size,) * n
    if len(rules) != n:
        raise ValueError(f"fft_size needs {n} values, got {fft_size!r}")
    axes = []
    for w, k, (pl, pr), s, rule in zip(in_shape, kernel_shape, pads, strides, rules):
        if k > w + pl + pr:
            raise ValueError(
                f"kernel size {k} is larger than the padded input ({w} + {pl + pr} padding); "
                "use a shorter kernel or more padding")
        axes.append(AxisGeometry(w, k, pl, pr, s, fft_length(rule, w, k, pl, pr)))
    return tuple(axes)

