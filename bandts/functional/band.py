"""How much of a spectrum to keep: static compression rates and energy cuts (docs/design.md,
"How many bins to keep").

Every kept coefficient set is described by a *level*. Each coefficient of a one-sided spectrum
has a level in 1..T, and keeping "level t" keeps every coefficient of level <= t:

- 1D: bin k has level k + 1, T = L // 2 + 1, so level t keeps the first t bins.
- 2D: an (Lh, Lw//2+1) rfft2 grid. Level t keeps rows at circular distance < ir(t) from row 0
  (rows 0..ir-1 and the last ir-1 rows) and columns < ic(t), with ir, ic growing in proportion to
  each axis' half-size and T = max of the half-sizes: a centred low-pass under conjugate symmetry.
  For a square grid ir = ic = t, the "lead" square of side idx = t.

Level T always keeps the whole spectrum.
"""

import dataclasses
import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

ENERGY_SCOPES = ("sample", "batch", "frozen")


def _as_real(value) -> float | None:
    """``value`` as a float if it is one real number (Python, NumPy scalar, 0-d array or
    tensor; not a bool), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, RuntimeError):
        return None
    return float(array) if array.ndim == 0 and array.dtype.kind in "iuf" else None


def _real(name: str, value, low: float, high: float, low_open: bool, high_open: bool) -> float:
    """``value`` as a float in the interval, else a ValueError naming the parameter."""
    number = _as_real(value)
    inside = number is not None and (low < number if low_open else low <= number) and (
        number < high if high_open else number <= high)
    if not inside:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a real number in {interval}, got {value!r}")
    return number


@dataclass(frozen=True)
class Band:
    """How much of each spectrum a band-limited convolution keeps: one validated value.

    Built once (by the estimator, a layer or the functional API) and trusted by everything below
    it; :func:`dataclasses.replace` or :meth:`with_changes` make a new one. Any real number type is
    accepted (Python, NumPy scalars, 0-d arrays) and stored as a float.

    Args:
        compress_rate: static cut c in [0, 1): of the T spectrum levels keep all for c = 0, else
            drop floor(T c) + 1 (1D; 2D keeps a centred square of side floor(T sqrt(1 - c))).
        preserve_energy: energy cut E in (0, 1]: keep the fewest low levels holding E of the input
            spectrum's power. Exclusive with compress_rate > 0.
        energy_scope: where an energy cut is measured: "sample" (each sample its own cut),
            "batch" (one cut per batch, the paper's) or "frozen" (``frozen_cut``, calibrated by
            :func:`bandts.nn.calibrate_cuts`; "batch" until then).
        frozen_cut: the calibrated cut as a fraction of the levels in (0, 1], or None.

    Raises:
        ValueError: a value outside its range, or a static and an energy cut at once.

    Examples:
        >>> Band(compress_rate=0.5)
        Band(compress_rate=0.5, preserve_energy=1.0, energy_scope='sample', frozen_cut=None)
        >>> Band(preserve_energy=0.99).is_static
        False
    """

    compress_rate: float = 0.0
    preserve_energy: float = 1.0
    energy_scope: str = "sample"
    frozen_cut: float | None = None

    def __post_init__(self):
        set_field = object.__setattr__  # frozen: normalise the fields once, here
        set_field(self, "compress_rate", _real("compress_rate", self.compress_rate, 0, 1,
                                               low_open=False, high_open=True))
        set_field(self, "preserve_energy", _real("preserve_energy", self.preserve_energy, 0, 1,
                                                 low_open=True, high_open=False))
        if self.compress_rate > 0 and self.preserve_energy < 1:
            raise ValueError(
                "give either compress_rate > 0 (a static cut) or preserve_energy < 1 (an energy "
                f"cut), not both (got compress_rate={self.compress_rate}, "
                f"preserve_energy={self.preserve_energy})")
        if self.energy_scope not in ENERGY_SCOPES:
            raise ValueError(f"energy_scope must be one of {ENERGY_SCOPES}, "
                             f"got {self.energy_scope!r}")
        if self.frozen_cut is not None:
            set_field(self, "frozen_cut", _real("frozen_cut", self.frozen_cut, 0, 1,
                                                low_open=True, high_open=False))

    @property
    def is_static(self) -> bool:
        """Whether the cut is known before the data is seen (no energy measurement)."""
        return self.preserve_energy >= 1.0 or (self.energy_scope == "frozen"
                                               and self.frozen_cut is not None)

    def with_changes(self, **changes) -> "Band":
        """A new Band with some fields changed; None leaves a field as it is. A new
        ``preserve_energy`` forgets the frozen cut (it was measured for another energy)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "preserve_energy" in changes and "frozen_cut" not in changes:
            energy = _real("preserve_energy", changes["preserve_energy"], 0, 1,
                           low_open=True, high_open=False)
            if energy != self.preserve_energy:
                changes["frozen_cut"] = None
        return dataclasses.replace(self, **changes)

    def cut_level(self, n_levels: int, static_level) -> int | None:
        """The level a static band keeps, None for a cut that depends on the data."""
        if self.preserve_energy >= 1.0:
            return static_level(n_levels, self.compress_rate)
        if self.energy_scope == "frozen" and self.frozen_cut is not None:
            return frozen_level(self.frozen_cut, n_levels)
        return None


def static_level_1d(n_levels: int, compress_rate: float) -> int:
    """Bins kept at a static rate: all for 0, else drop floor(T * c) + 1 (at least one kept)."""
    if compress_rate == 0:
        return n_levels
    return max(1, n_levels - (math.floor(n_levels * compress_rate) + 1))


def static_level_2d(n_levels: int, compress_rate: float) -> int:
    """Square side kept at a static rate: floor(T * sqrt(1 - c)), at least 1."""
    return max(1, min(n_levels, math.floor(n_levels * math.sqrt(1.0 - compress_rate))))


def axis_keep(level: int, half: int, n_levels: int) -> int:
    """Entries kept along an axis of half-size ``half`` at ``level`` (2D; proportional growth)."""
    return max(1, math.ceil(level * half / n_levels))


def levels_2d(fft_h: int, fft_w: int, device=None) -> torch.Tensor:
    """Level of every coefficient of an (fft_h, fft_w // 2 + 1) rfft2 grid (int64)."""
    half_h, half_w = fft_h // 2 + 1, fft_w // 2 + 1
    n_levels = max(half_h, half_w)
    steps = torch.arange(1, n_levels + 1)
    keep_h = torch.tensor([axis_keep(t, half_h, n_levels) for t in steps.tolist()])
    keep_w = torch.tensor([axis_keep(t, half_w, n_levels) for t in steps.tolist()])
    rows = torch.arange(fft_h)
    row_dist = torch.minimum(rows, fft_h - rows)
    # The smallest level whose kept extent covers each distance.
    row_level = torch.searchsorted(keep_h, row_dist, right=True) + 1
    col_level = torch.searchsorted(keep_w, torch.arange(half_w), right=True) + 1
    return torch.maximum(row_level[:, None], col_level[None, :]).to(device)


def energy_level(level_power: torch.Tensor, preserve_energy: float) -> torch.Tensor:
    """Smallest level whose cumulative power reaches ``preserve_energy`` of the total.

    Args:
        level_power: (..., T) non-negative power summed per level.
        preserve_energy: E in (0, 1]; 1 keeps everything.

    Returns:
        int64 tensor of shape (...) with levels in 1..T (1 for an all-zero spectrum).
    """
    n_levels = level_power.shape[-1]
    if preserve_energy >= 1.0:
        return torch.full(level_power.shape[:-1], n_levels, dtype=torch.int64, device=level_power.device)
    cumulative = level_power.to(torch.float64).cumsum(-1)
    target = preserve_energy * cumulative[..., -1:]
    return ((cumulative < target).sum(-1) + 1).clamp(max=n_levels)


def choose_levels(level_power, n_levels, static_level, band: Band):
    """The level the batch runs at, and per-sample levels in the "sample" scope.

    Args:
        level_power: callable returning the (N, T) power per sample and level; called only when an
            energy cut is needed (it costs a pass over the full spectrum).
        n_levels: T.
        static_level: function (T, compress_rate) -> level for the static rule of this dimension.
        band: the :class:`Band`.

    Returns:
        (level, per_sample) where per_sample is an (N,) int64 tensor of each sample's level in the
        "sample" scope and None otherwise.
    """
    level = band.cut_level(n_levels, static_level)
    if level is not None:
        return level, None
    power = level_power()
    if band.energy_scope == "sample":
        per_sample = energy_level(power, band.preserve_energy)
        return int(per_sample.max()), per_sample
    return int(energy_level(power.sum(0), band.preserve_energy)), None


def frozen_level(frozen_cut: float, n_levels: int) -> int:
    """Level of a calibrated cut stored as a fraction of the levels."""
    return min(n_levels, max(1, round(frozen_cut * n_levels)))
