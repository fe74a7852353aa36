"""How much of a spectrum to keep: static compression rates and energy cuts (DESIGN.md sections 3, 4).

Every kept coefficient set is described by a *level*. Each coefficient of a one-sided spectrum
has a level in 1..T, and keeping "level t" keeps every coefficient of level <= t:

- 1D: bin k has level k + 1, T = L // 2 + 1, so level t keeps the first t bins.
- 2D: an (Lh, Lw//2+1) rfft2 grid. Level t keeps rows at circular distance < ir(t) from row 0
  (rows 0..ir-1 and the last ir-1 rows) and columns < ic(t), with ir, ic growing in proportion to
  each axis' half-size and T = max of the half-sizes: a centred low-pass under conjugate symmetry.
  For a square grid ir = ic = t, the "lead" square of side idx = t.

Level T always keeps the whole spectrum.
"""

import math

import torch

ENERGY_SCOPES = ("sample", "batch", "frozen")


def check_band(compress_rate, preserve_energy, energy_scope) -> None:
    """Raise a clear error for an invalid band-limiting setting."""
    if isinstance(compress_rate, bool) or not isinstance(compress_rate, (int, float)) \
            or not 0.0 <= compress_rate < 1.0:
        raise ValueError(f"compress_rate must be a number in [0, 1), got {compress_rate!r}")
    if isinstance(preserve_energy, bool) or not isinstance(preserve_energy, (int, float)) \
            or not 0.0 < preserve_energy <= 1.0:
        raise ValueError(f"preserve_energy must be a number in (0, 1], got {preserve_energy!r}")
    if compress_rate > 0 and preserve_energy < 1:
        raise ValueError(
            "give either compress_rate > 0 (a static cut) or preserve_energy < 1 (an energy cut), "
            f"not both (got compress_rate={compress_rate}, preserve_energy={preserve_energy})")
    if energy_scope not in ENERGY_SCOPES:
        raise ValueError(f"energy_scope must be one of {ENERGY_SCOPES}, got {energy_scope!r}")


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


def choose_levels(level_power, n_levels, static_level, compress_rate, preserve_energy,
                  energy_scope, frozen_cut):
    """The level the batch runs at, and per-sample levels when samples differ.

    Args:
        level_power: callable returning the (N, T) power per sample and level; called only when an
            energy cut is needed (it costs a pass over the full spectrum).
        n_levels: T.
        static_level: function (T, compress_rate) -> level for the static rule of this dimension.
        frozen_cut: for the "frozen" scope, the calibrated fraction of levels in (0, 1], or None
            (then the batch's own cut is used, as in "batch").

    Returns:
        (level, per_sample) where per_sample is an (N,) int64 tensor or None.
    """
    if preserve_energy >= 1.0:
        return static_level(n_levels, compress_rate), None
    if energy_scope == "frozen" and frozen_cut is not None:
        return frozen_level(frozen_cut, n_levels), None
    power = level_power()
    if energy_scope == "sample":
        per_sample = energy_level(power, preserve_energy)
        level = int(per_sample.max())
        return level, (per_sample if bool((per_sample < level).any()) else None)
    return int(energy_level(power.sum(0), preserve_energy)), None


def frozen_level(frozen_cut: float, n_levels: int) -> int:
    """Level of a calibrated cut stored as a fraction of the levels."""
    if not 0.0 < frozen_cut <= 1.0:
        raise ValueError(f"frozen_cut must be a fraction in (0, 1], got {frozen_cut!r}")
    return min(n_levels, max(1, round(frozen_cut * n_levels)))
