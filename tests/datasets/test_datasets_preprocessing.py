"""bandts.datasets preprocessing and label typing, against independent references."""

import numpy as np
import pandas as pd
import pytest
from scipy.interpolate import interp1d
from scipy.stats import zscore

from bandts.datasets import preprocessing
from bandts.datasets.labels import type_labels, unseen_test_labels


def _padded(series_list):
    """(n, channels, width) NaN-padded array and lengths from a list of (channels, l) arrays."""
    width = max(s.shape[1] for s in series_list)
    values = np.full((len(series_list), series_list[0].shape[0], width), np.nan)
    for i, s in enumerate(series_list):
        values[i, :, : s.shape[1]] = s
    return values, np.array([s.shape[1] for s in series_list])


def test_znormalize_matches_scipy_zscore_over_each_series_own_length():
    rng = np.random.default_rng(1)
    series = [rng.normal(3.0, 2.0, (2, n)) for n in (7, 12, 3)]
    values, lengths = _padded(series)
    out = preprocessing.znormalize(values, lengths)
    for i, s in enumerate(series):
        np.testing.assert_allclose(out[i, :, : s.shape[1]], zscore(s, axis=1), rtol=1e-12)
        assert np.isnan(out[i, :, s.shape[1]:]).all()  # padding untouched
    assert np.isnan(values[0, 0, 7:]).all() and values[0, 0, 0] == series[0][0, 0]  # input kept


def test_znormalize_constant_series_become_zeros_without_nan():
    values = np.array([[[0.1] * 5, [-7.0] * 5]])
    values[0, 1, 4] = np.nan  # padding: channel-shared length 4 below
    out = preprocessing.znormalize(values, np.array([4]))
    assert np.array_equal(out[0, :, :4], np.zeros((2, 4)))
    single = preprocessing.znormalize(np.array([[[5.0]]]), np.array([1]))
    assert single[0, 0, 0] == 0.0


def test_interpolate_missing_matches_pandas_linear_both_directions():
    row = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, 2.0, np.nan, np.nan])
    values = np.array([[row, np.arange(8.0)]])
    out = preprocessing.interpolate_missing(values, np.array([7]))  # last NaN is padding
    expected = pd.Series(row[:7]).interpolate(method="linear", limit_direction="both")
    np.testing.assert_allclose(out[0, 0, :7], expected.to_numpy())
    assert out[0, 0, :7].tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 2.0, 2.0]
    assert np.isnan(out[0, 0, 7])
    np.testing.assert_array_equal(out[0, 1], np.arange(8.0))
    assert np.isnan(values[0, 0, 2])  # input kept


def test_rows_with_missing_and_unobserved_channel_ignore_padding():
    values, lengths = _padded(
        [np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, np.nan]]), np.array([[np.nan, np.nan]])]
    )
    assert preprocessing.rows_with_missing(values, lengths).tolist() == [False, True, True]
    assert preprocessing.rows_with_unobserved_channel(values, lengths).tolist() == [
        False, False, True,
    ]


def test_resample_matches_scipy_linear_interpolation_over_the_span():
    rng = np.random.default_rng(2)
    series = [rng.normal(size=(1, n)) for n in (5, 9, 1)]
    values, lengths = _padded(series)
    out = preprocessing.resample(values, lengths, 9)
    assert out.shape == (3, 1, 9)
    stretched = interp1d(np.linspace(0, 1, 5), series[0][0])(np.linspace(0, 1, 9))
    np.testing.assert_allclose(out[0, 0], stretched, rtol=1e-12)
    np.testing.assert_allclose(out[1, 0], series[1][0], rtol=1e-12)  # already the target length
    assert np.all(out[2, 0] == series[2][0, 0])


def test_pad_appends_zeros_and_refuses_to_truncate():
    values, lengths = _padded([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0, 5.0]])])
    out = preprocessing.pad(values, lengths, 5)
    assert out.tolist() == [[[1.0, 2.0, 0.0, 0.0, 0.0]], [[3.0, 4.0, 5.0, 0.0, 0.0]]]
    with pytest.raises(ValueError, match="cannot pad"):
        preprocessing.pad(values, lengths, 2)


@pytest.mark.parametrize(
    "train, test, dtype, expected_train",
    [
        (["1", "-1", "1.0000000e+00"], ["2"], np.int64, [1, -1, 1]),
        (["0.5", "1"], ["1"], np.float64, [0.5, 1.0]),
        (["Walk", "run"], ["1"], np.str_, ["Walk", "run"]),
        (["1", "2"], ["nan"], np.str_, ["1", "2"]),  # 'nan' is not a number label
    ],
)
def test_type_labels_keeps_original_values(train, test, dtype, expected_train):
    y_train, y_test = type_labels(np.array(train), np.array(test))
    assert y_train.dtype.type is dtype and y_test.dtype.type is dtype
    assert y_train.tolist() == expected_train
    assert len(y_test) == len(test)


def test_unseen_test_labels_counts_labels_missing_from_training():
    assert unseen_test_labels(np.array([1, 2]), np.array([2, 3, 3, 4])) == {3: 2, 4: 1}
    assert unseen_test_labels(np.array(["a"]), np.array(["a"])) == {}
