"""Missing values, unequal lengths and per-series z-normalisation on padded series arrays.

Every function takes ``values`` (n, channels, width) float64 and ``lengths`` (n,): series i
occupies ``values[i, :, :lengths[i]]`` (all its channels share the length); what lies beyond is
padding and is ignored. NaN inside a series are missing values. Inputs are never modified.
"""

from __future__ import annotations

import numpy as np


def _inside(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(n, 1, width) bool: True where a position lies inside its series."""
    return (np.arange(values.shape[2]) < lengths[:, None])[:, None, :]


def rows_with_missing(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(n,) bool: the series that have at least one NaN inside their length."""
    return (np.isnan(values) & _inside(values, lengths)).any(axis=(1, 2))


def rows_with_unobserved_channel(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(n,) bool: the series with a channel that is NaN over its whole length (not fillable)."""
    observed = ~np.isnan(values) & _inside(values, lengths)
    return ~observed.any(axis=2).all(axis=1)


def interpolate_missing(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Fill NaN inside each series linearly between the nearest observed values.

    Interior gaps are linear interpolations; a gap at the start or end of a series takes the
    nearest observed value (constant extension). Every channel must have an observed value
    (check with rows_with_unobserved_channel first).
    """
    filled = values.copy()
    for row in np.flatnonzero(rows_with_missing(values, lengths)):
        positions = np.arange(lengths[row])
        for channel in range(values.shape[1]):
            series = filled[row, channel, : lengths[row]]
            known = ~np.isnan(series)
            if not known.any():
                raise ValueError(f"series {row}, channel {channel}: no observed value to fill from")
            series[~known] = np.interp(positions[~known], positions[known], series[known])
    return filled


def resample(values: np.ndarray, lengths: np.ndarray, length: int) -> np.ndarray:
    """(n, channels, length): every series linearly resampled over its span to ``length`` points.

    Point j of the result sits at position j * (l - 1) / (length - 1) of a series of length l, so
    the first and last values are kept; a series of length 1 becomes constant.
    """
    resampled = np.empty(values.shape[:2] + (length,))
    for row, size in enumerate(lengths):
        targets = np.linspace(0.0, size - 1.0, length)
        positions = np.arange(size)
        for channel in range(values.shape[1]):
            resampled[row, channel] = np.interp(targets, positions, values[row, channel, :size])
    return resampled


def znormalize(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each channel of each series minus its mean, divided by its (population) standard deviation.

    Statistics are taken over the series' own length. A constant series (max == min) becomes all
    zeros instead of 0/0. Padding beyond each length is returned unchanged.

    Each series is first divided by a power of two near its largest magnitude: the z-score does
    not change (division by a power of two is exact), and squares of values up to float64's
    maximum no longer overflow to inf (which made such series zeros).
    """
    inside = _inside(values, lengths)
    counts = lengths[:, None, None].astype(np.float64)
    largest = np.where(inside, np.abs(values), 0.0).max(axis=2, keepdims=True)
    scale = np.ldexp(1.0, np.frexp(np.where(largest > 0, largest, 1.0))[1] - 1)
    scaled_values = np.where(inside, values, 0.0) / scale
    mean = scaled_values.sum(axis=2, keepdims=True) / counts
    centred = np.where(inside, scaled_values - mean, 0.0)
    std = np.sqrt((centred**2).sum(axis=2, keepdims=True) / counts)
    constant = (np.where(inside, values, -np.inf).max(axis=2, keepdims=True)
                == np.where(inside, values, np.inf).min(axis=2, keepdims=True))
    scaled = centred / np.where(constant, 1.0, std)
    return np.where(inside, np.where(constant, 0.0, scaled), values)


def pad(values: np.ndarray, lengths: np.ndarray, length: int) -> np.ndarray:
    """(n, channels, length): each series followed by zeros up to ``length`` (>= every length)."""
    if lengths.max() > length:
        raise ValueError(f"cannot pad series of length {lengths.max()} to {length}")
    padded = np.zeros(values.shape[:2] + (length,))
    width = min(values.shape[2], length)
    padded[:, :, :width] = np.where(_inside(values, lengths), values, 0.0)[:, :, :width]
    return padded
