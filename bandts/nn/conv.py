"""Band-limited convolution layers: drop-in replacements for ``torch.nn.Conv1d`` and ``Conv2d``."""

from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional as F

from bandts.functional.band import Band
from bandts.functional.conv1d import conv1d_with_band
from bandts.functional.conv2d import conv2d_with_band
from bandts.functional.inputs import TORCHSCRIPT_UNSUPPORTED, check_options


class _BandLimitedMixin:
    """Band-limiting state shared by the 1D and 2D layers.

    Attributes:
        band: the :class:`~bandts.functional.Band` of the layer; swap it with :meth:`set_band`
            (or :func:`bandts.nn.set_band` for a whole model). Its frozen cut is saved in
            ``state_dict`` once calibrated.
        fft_size, backend, plan: as in :func:`bandts.functional.bandlimited_conv1d`.
        kept_bins: frequency coefficients kept on the last eager forward (largest cut of the
            batch); not updated inside ``torch.compile``d code.
        spectrum_bins: coefficients available on the last eager forward.
    """

    _with_band = None

    def _init_band(self, band, fft_size, backend, plan):
        kind = type(self).__name__
        if any(d != 1 for d in self.dilation):
            raise NotImplementedError(f"{kind} supports dilation=1 only, got {self.dilation}")
        if self.groups != 1:
            raise NotImplementedError(f"{kind} supports groups=1 only, got {self.groups}")
        check_options(fft_size, backend, plan)
        self.band = band
        self.fft_size = fft_size
        self.backend = backend
        self.plan = plan
        self.kept_bins = None
        self.spectrum_bins = None
        self._calibration_max = None  # largest batch cut seen inside calibrating(), else None

    @property
    def compress_rate(self) -> float:
        return self.band.compress_rate

    @property
    def preserve_energy(self) -> float:
        return self.band.preserve_energy

    @property
    def energy_scope(self) -> str:
        return self.band.energy_scope

    @property
    def frozen_cut(self):
        return self.band.frozen_cut

    def set_band(self, band: Band) -> None:
        """Compute with ``band`` from the next call on."""
        if not isinstance(band, Band):
            raise TypeError(f"set_band needs a bandts.functional.Band, got {type(band).__name__}")
        self.band = band

    @contextmanager
    def calibrating(self):
        """Measure the energy cut of every batch run inside the block over the whole batch and,
        on leaving it, freeze the largest one (``energy_scope="frozen"`` then uses it)."""
        self._calibration_max = 0.0
        try:
            yield self
            if self.band.preserve_energy < 1 and self._calibration_max > 0:
                self.band = self.band.with_changes(frozen_cut=self._calibration_max)
        finally:
            self._calibration_max = None

    @classmethod
    def from_conv(cls, conv, *, band: Band = None, fft_size="minimal", backend="auto",
                  plan="auto"):
        """A band-limited layer computing what ``conv`` computes, sharing its parameters.

        The new layer holds the same ``weight`` and ``bias`` Parameter objects, so an optimizer
        built on the old model keeps working, and draws nothing from torch's random generator.

        Args:
            conv: an ``nn.Conv1d`` (for BandLimitedConv1d) or ``nn.Conv2d``.
            band: the :class:`~bandts.functional.Band` (default: full band).
            fft_size, backend, plan: as in the constructor.
        """
        base = cls.__mro__[2]  # nn.Conv1d or nn.Conv2d
        if not isinstance(conv, base) or isinstance(conv, _BandLimitedMixin):
            raise TypeError(f"{cls.__name__}.from_conv needs an nn.{base.__name__}, "
                            f"got {type(conv).__name__}")
        band = Band() if band is None else band
        if not isinstance(band, Band):
            raise TypeError(f"band must be a bandts.functional.Band, got {type(band).__name__}")
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                    padding=conv.padding, dilation=conv.dilation, groups=conv.groups,
                    bias=conv.bias is not None, padding_mode=conv.padding_mode,
                    device="meta", dtype=conv.weight.dtype, compress_rate=band.compress_rate,
                    preserve_energy=band.preserve_energy, energy_scope=band.energy_scope,
                    fft_size=fft_size, backend=backend, plan=plan)  # no init, no RNG draws
        layer.band = band
        layer.weight = conv.weight
        layer.bias = conv.bias
        layer.train(conv.training)
        return layer

    def to_conv(self):
        """The plain ``nn.Conv1d`` / ``nn.Conv2d`` this layer computes at full band, sharing its
        parameters (see :func:`bandts.nn.unbandlimit`)."""
        base = type(self).__mro__[2]
        conv = base(self.in_channels, self.out_channels, self.kernel_size, stride=self.stride,
                    padding=self.padding, dilation=self.dilation, groups=self.groups,
                    bias=self.bias is not None, padding_mode=self.padding_mode, device="meta",
                    dtype=self.weight.dtype)
        conv.weight = self.weight
        conv.bias = self.bias
        conv.train(self.training)
        return conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, padding = self._padded(x)
        if torch.compiler.is_compiling():  # compiled code keeps no Python state
            return type(self)._with_band(x, self.weight, self.bias, self.stride, padding,
                                         self._call_band(), self.fft_size, self.backend,
                                         self.plan)
        out, report = type(self)._with_band(x, self.weight, self.bias, self.stride, padding,
                                            self._call_band(), self.fft_size, self.backend,
                                            self.plan, return_report=True)
        self._record(report)
        return out

    def _padded(self, x):
        """(x, padding): x padded here for padding modes other than zeros (then padding 0)."""
        if self.padding_mode != "zeros":
            return F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode), 0
        return x, self.padding

    def _call_band(self) -> Band:
        """The band of this call: the layer's, or its batch-scope version while calibrating."""
        if self._calibration_max is None:
            return self.band
        return Band(self.band.compress_rate, self.band.preserve_energy, "batch")

    def _record(self, report) -> None:
        """Keep what an eager call reports (kept bins; the largest cut while calibrating)."""
        if report is None:
            return
        self.kept_bins, self.spectrum_bins = report.kept_bins, report.spectrum_bins
        if self._calibration_max is not None:
            self._calibration_max = max(self._calibration_max, report.level / report.n_levels)

    def __prepare_scriptable__(self):
        raise RuntimeError(TORCHSCRIPT_UNSUPPORTED)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        # Only a calibrated cut is extra state: an uncalibrated layer's state dict is exactly
        # nn.Conv's, and loads strictly into it.
        if self.band.frozen_cut is not None:
            destination[prefix + "frozen_cut"] = torch.tensor(self.band.frozen_cut,
                                                              dtype=torch.float64)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key, legacy = prefix + "frozen_cut", prefix + "_extra_state"  # legacy: bandts 0.1 files
        if key in state_dict:
            self.band = self.band.with_changes(frozen_cut=float(state_dict[key]))
        elif legacy in state_dict and state_dict[legacy]["frozen_cut"] is not None:
            self.band = self.band.with_changes(frozen_cut=state_dict[legacy]["frozen_cut"])
        state_dict = {k: v for k, v in state_dict.items() if k not in (key, legacy)}
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def extra_repr(self) -> str:
        band = [f"compress_rate={self.band.compress_rate}",
                f"preserve_energy={self.band.preserve_energy}",
                f"energy_scope={self.band.energy_scope!r}", f"fft_size={self.fft_size!r}",
                f"backend={self.backend!r}"]
        if self.plan != "auto":
            band.append(f"plan={self.plan!r}")
        if self.band.frozen_cut is not None:
            band.append(f"frozen_cut={self.band.frozen_cut:.4g}")
        return super().extra_repr() + ", " + ", ".join(band)


class BandLimitedConv1d(_BandLimitedMixin, nn.Conv1d):
    """``nn.Conv1d`` computed by :func:`bandts.functional.bandlimited_conv1d`.

    Same constructor arguments, defaults, parameters and initialisation as ``nn.Conv1d`` (an
    ``nn.Conv1d`` state dict loads, and an uncalibrated layer's loads into ``nn.Conv1d``), plus
    the band-limiting keywords. dilation and groups must be 1.

    Args:
        compress_rate, preserve_energy, energy_scope: the :class:`~bandts.functional.Band`.
        fft_size: FFT length rule, "minimal", "pow2", "paper" or an int.
        backend: CMAC backend, "auto", "torch" or "pycuda".
        plan: execution plan, "auto", "cpu" or "accelerator" (:mod:`bandts.functional.plans`).

    Shape:
        - Input: (N, C_in, W) or (C_in, W).
        - Output: (N, C_out, W_out), W_out = (W + 2 p - K) // stride + 1.

    Examples:
        >>> conv = BandLimitedConv1d(3, 8, 5, padding="same", compress_rate=0.5)
        >>> conv(torch.randn(4, 3, 100)).shape, conv.kept_bins, conv.spectrum_bins
        (torch.Size([4, 8, 100]), 27, 55)
    """

    _with_band = staticmethod(conv1d_with_band)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None, *,
                 compress_rate=0.0, preserve_energy=1.0, energy_scope="sample", fft_size="minimal",
                 backend="auto", plan="auto"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)
        self._init_band(Band(compress_rate, preserve_energy, energy_scope), fft_size, backend,
                        plan)


class BandLimitedConv2d(_BandLimitedMixin, nn.Conv2d):
    """``nn.Conv2d`` computed by :func:`bandts.functional.bandlimited_conv2d`.

    Same constructor arguments, defaults, parameters and initialisation as ``nn.Conv2d``, plus the
    band-limiting keywords of :class:`BandLimitedConv1d`. dilation and groups must be 1.

    Shape:
        - Input: (N, C_in, H, W) or (C_in, H, W).
        - Output: (N, C_out, H_out, W_out).

    Examples:
        >>> conv = BandLimitedConv2d(3, 4, 3, padding=1, compress_rate=0.5)
        >>> conv(torch.randn(2, 3, 16, 16)).shape
        torch.Size([2, 4, 16, 16])
    """

    _with_band = staticmethod(conv2d_with_band)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None, *,
                 compress_rate=0.0, preserve_energy=1.0, energy_scope="sample", fft_size="minimal",
                 backend="auto", plan="auto"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)
        self._init_band(Band(compress_rate, preserve_energy, energy_scope), fft_size, backend,
                        plan)
