"""Class labels: typed from their text as written, and checked across the two splits."""

from __future__ import annotations

import numpy as np


def _as_finite_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def type_labels(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Give both splits' label text one dtype that keeps the original values.

    If every label of both splits is a finite number: int64 when all are integral ('1', '-1',
    '1.0000000e+00' -> 1, -1, 1), else float64. Otherwise the labels stay strings, unchanged.
    Both splits are typed together so that equal labels compare equal across them.
    """
    numbers = [_as_finite_number(text) for text in np.concatenate([train, test])]
    if any(number is None for number in numbers):
        return train.astype(str), test.astype(str)
    values = np.array(numbers, dtype=np.float64)
    if np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53):
        values = values.astype(np.int64)
    return values[: len(train)], values[len(train):]


def unseen_test_labels(train: np.ndarray, test: np.ndarray) -> dict:
    """{label: count in test} for test labels that never occur in the training split."""
    unseen, counts = np.unique(test[~np.isin(test, train)], return_counts=True)
    return dict(zip(unseen.tolist(), counts.tolist()))
