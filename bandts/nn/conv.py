"""Band-limited convolution layers: drop-in replacements for ``torch.nn.Conv1d`` and ``Conv2d``."""

import torch
from torch import nn
from torch.nn import functional as F

from bandts.backends import BACKEND_NAMES
from bandts.functional import bandlimited_conv1d_report, bandlimited_conv2d_report
from bandts.functional.band import check_band
from bandts.functional.geometry import FFT_SIZE_RULES


class _BandLimitedMixin:
    """Band-limiting state shared by the 1D and 2D layers.

    Attributes:
        compress_rate, preserve_energy, energy_scope, fft_size, backend: as in
            :func:`bandts.functional.bandlimited_conv1d`; plain attributes that may be changed
            between calls (see :func:`bandts.nn.set_band`).
        frozen_cut: calibrated cut (fraction of the spectrum levels) used by the "frozen" scope,
            None until :func:`bandts.nn.calibrate_cuts` sets it. Saved in ``state_dict``.
        kept_bins: frequency coefficients kept on the last forward (largest cut of the batch).
        spectrum_bins: coefficients available on the last forward.
    """

    _functional = None

    def _init_band(self, compress_rate, preserve_energy, energy_scope, fft_size, backend):
        kind = type(self).__name__
        if any(d != 1 for d in self.dilation):
            raise NotImplementedError(f"{kind} supports dilation=1 only, got {self.dilation}")
        if self.groups != 1:
            raise NotImplementedError(f"{kind} supports groups=1 only, got {self.groups}")
        check_band(compress_rate, preserve_energy, energy_scope)
        if backend not in BACKEND_NAMES:
            raise ValueError(f"backend must be one of {BACKEND_NAMES}, got {backend!r}")
        if not isinstance(fft_size, (int, tuple, list)) and fft_size not in FFT_SIZE_RULES:
            raise ValueError(f"fft_size must be one of {FFT_SIZE_RULES} or an int, got {fft_size!r}")
        self.compress_rate = compress_rate
        self.preserve_energy = preserve_energy
        self.energy_scope = energy_scope
        self.fft_size = fft_size
        self.backend = backend
        self.frozen_cut = None
        self.kept_bins = None
        self.spectrum_bins = None
        self._calibration_max = None  # largest batch cut seen while calibrating, else None

    @classmethod
    def from_conv(cls, conv, **band):
        """A band-limited layer computing what ``conv`` computes, sharing its parameters.

        The new layer holds the same ``weight`` and ``bias`` Parameter objects, so an optimizer
        built on the old model keeps working, and draws nothing from torch's random generator.

        Args:
            conv: an ``nn.Conv1d`` (for BandLimitedConv1d) or ``nn.Conv2d``.
            **band: compress_rate, preserve_energy, energy_scope, fft_size, backend.
        """
        base = cls.__mro__[2]  # nn.Conv1d or nn.Conv2d
        if not isinstance(conv, base):
            raise TypeError(f"{cls.__name__}.from_conv needs an nn.{base.__name__}, got {type(conv).__name__}")
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                    padding=conv.padding, dilation=conv.dilation, groups=conv.groups,
                    bias=conv.bias is not None, padding_mode=conv.padding_mode,
                    device="meta", dtype=conv.weight.dtype, **band)  # no init, no RNG draws
        layer.weight = conv.weight
        layer.bias = conv.bias
        layer.train(conv.training)
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padding = self.padding
        if self.padding_mode != "zeros":
            x = F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            padding = 0
        calibrating = self._calibration_max is not None
        out, report = type(self)._functional(
            x, self.weight, self.bias, self.stride, padding, compress_rate=self.compress_rate,
            preserve_energy=self.preserve_energy,
            energy_scope="batch" if calibrating else self.energy_scope, fft_size=self.fft_size,
            backend=self.backend, frozen_cut=None if calibrating else self.frozen_cut)
        self.kept_bins, self.spectrum_bins = report["kept_bins"], report["spectrum_bins"]
        if calibrating:
            self._calibration_max = max(self._calibration_max, report["level"] / report["n_levels"])
        return out

    def get_extra_state(self):
        return {"frozen_cut": self.frozen_cut}

    def set_extra_state(self, state):
        self.frozen_cut = state["frozen_cut"]

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # A plain nn.Conv state dict has no extra state: accept it (the layer stays uncalibrated).
        extra = prefix + "_extra_state"
        if extra not in state_dict:
            state_dict = dict(state_dict)
            state_dict[extra] = {"frozen_cut": self.frozen_cut}
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def extra_repr(self) -> str:
        band = [f"compress_rate={self.compress_rate}", f"preserve_energy={self.preserve_energy}",
                f"energy_scope={self.energy_scope!r}", f"fft_size={self.fft_size!r}",
                f"backend={self.backend!r}"]
        if self.frozen_cut is not None:
            band.append(f"frozen_cut={self.frozen_cut:.4g}")
        return super().extra_repr() + ", " + ", ".join(band)


class BandLimitedConv1d(_BandLimitedMixin, nn.Conv1d):
    """``nn.Conv1d`` computed by :func:`bandts.functional.bandlimited_conv1d`.

    Same constructor arguments, defaults, parameters and initialisation as ``nn.Conv1d`` (an
    ``nn.Conv1d`` state dict loads), plus the band-limiting keywords. dilation and groups must be 1.
    Input (N, C_in, W) or (C_in, W); output (N, C_out, W_out).
    """

    _functional = staticmethod(bandlimited_conv1d_report)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None, *,
                 compress_rate=0.0, preserve_energy=1.0, energy_scope="sample", fft_size="minimal",
                 backend="auto"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)
        self._init_band(compress_rate, preserve_energy, energy_scope, fft_size, backend)


class BandLimitedConv2d(_BandLimitedMixin, nn.Conv2d):
    """``nn.Conv2d`` computed by :func:`bandts.functional.bandlimited_conv2d`.

    Same constructor arguments, defaults, parameters and initialisation as ``nn.Conv2d``, plus the
    band-limiting keywords. dilation and groups must be 1. Input (N, C_in, H, W) or (C_in, H, W).
    """

    _functional = staticmethod(bandlimited_conv2d_report)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None, *,
                 compress_rate=0.0, preserve_energy=1.0, energy_scope="sample", fft_size="minimal",
                 backend="auto"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)
        self._init_band(compress_rate, preserve_energy, energy_scope, fft_size, backend)
