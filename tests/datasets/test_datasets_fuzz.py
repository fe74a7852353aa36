"""Fuzzing the dataset readers (TSV 2018, CSV 2015, whitespace .txt, sktime .ts).

Generated files must read back exactly; random and mutated files must either load into a
consistent split or raise MalformedDatasetError naming the file, and never hang. The number of
examples is set by the hypothesis profile (see tests/fuzzing.py: a few dozen in CI,
``--hypothesis-profile=fuzz`` for thousands).
"""

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bandts.datasets import MalformedDatasetError, load_ucr
from bandts.datasets.readers import read_split
from fuzzing import mutated, no_hang
from split_facts import read_facts, scanned_facts

# (format name, file suffix, separator): the layouts bandts reads.
LAYOUTS = [("tsv", ".tsv", "\t"), ("csv", "", ","), ("csv", ".csv", ","), ("txt", ".txt", " "),
           ("ts", ".ts", None)]
LABELS = ["1", "2", "-1", "0.5", "a", "B", "class_3"]


@st.composite
def tables(draw):
    """(labels, series): each series a (channels, length) list of floats, NaN = missing value;
    the last value of every channel is observed (a trailing NaN would be padding)."""
    channels = draw(st.integers(1, 3))
    values = st.floats(allow_nan=False, allow_infinity=False) | st.just(math.nan)
    labels, series = [], []
    for _ in range(draw(st.integers(1, 6))):
        length = draw(st.integers(1, 7))
        rows = [draw(st.lists(values, min_size=length - 1, max_size=length - 1))
                + [draw(st.floats(allow_nan=False, allow_infinity=False))]
                for _ in range(channels)]
        labels.append(draw(st.sampled_from(LABELS)))
        series.append(rows)
    return labels, series


def _number(value, missing):
    return missing if math.isnan(value) else repr(value)


def render(layout, labels, series) -> bytes:
    format_name, _, separator = layout
    if format_name == "ts":
        declared = " ".join(sorted(set(LABELS)))
        lines = ["@problemName Fuzz", "@timeStamps false", "@missing true",
                 f"@univariate {'true' if len(series[0]) == 1 else 'false'}",
                 f"@classLabel true {declared}", "@data"]
        lines += [":".join(",".join(_number(v, "?") for v in channel) for channel in rows)
                  + f":{label}" for label, rows in zip(labels, series)]
    else:
        width = max(len(rows[0]) for rows in series)
        lines = [separator.join([label] + [_number(v, "NaN") for v in rows[0]]
                                + ["NaN"] * (width - len(rows[0])))
                 for label, rows in zip(labels, series)]
    return ("\n".join(lines) + "\n").encode()


@st.composite
def files(draw):
    layout = draw(st.sampled_from(LAYOUTS))
    labels, series = draw(tables())
    if layout[0] != "ts":
        series = [rows[:1] for rows in series]  # delimited files hold one channel
    return layout, labels, series


def _write(directory, layout, data: bytes, split="TRAIN") -> Path:
    path = Path(directory) / "Fuzz" / f"Fuzz_{split}{layout[1]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def check_consistent(raw, path):
    """What every successful read must satisfy, whatever the file held."""
    n, channels, width = raw.values.shape
    assert raw.path == path and len(raw.labels) == len(raw.lengths) == n >= 1
    assert channels >= 1 and raw.lengths.min() >= 1 and raw.lengths.max() == width
    assert not np.isinf(raw.values).any()
    for row, length in enumerate(raw.lengths):
        assert np.isnan(raw.values[row, :, length:]).all()  # beyond a series: padding only
    assert all(label.strip() == label and label for label in raw.labels)


def read_or_malformed(path, format_name):
    """read_split's result, or None after checking its MalformedDatasetError names the file."""
    try:
        with no_hang():
            raw = read_split(path, format_name)
    except MalformedDatasetError as error:
        assert error.path == path and str(error).startswith(str(path))
        assert error.line is None or error.line >= 1
        return None
    check_consistent(raw, path)
    return raw


@given(files())
def test_generated_files_read_back_exactly(file):
    layout, labels, series = file
    with tempfile.TemporaryDirectory() as directory:
        path = _write(directory, layout, render(layout, labels, series))
        with no_hang():
            raw = read_split(path, layout[0])
        check_consistent(raw, path)
        assert raw.labels.tolist() == labels
        assert raw.lengths.tolist() == [len(rows[0]) for rows in series]
        for row, rows in enumerate(series):
            expected = np.array(rows, dtype=np.float64)
            np.testing.assert_array_equal(raw.values[row, :, : expected.shape[1]], expected)
        scanned = scanned_facts(path, layout[0])
        assert scanned is None or scanned == read_facts(raw)


@given(st.data())
def test_mutated_files_load_consistently_or_raise_naming_the_file(data):
    layout, labels, series = data.draw(files())
    damaged = data.draw(mutated(render(layout, labels, series)))
    with tempfile.TemporaryDirectory() as directory:
        path = _write(directory, layout, damaged)
        raw = read_or_malformed(path, layout[0])
        scanned = scanned_facts(path, layout[0])
        if raw is not None and scanned is not None:
            assert scanned == read_facts(raw)


@given(st.sampled_from(LAYOUTS), st.binary(max_size=300))
def test_random_bytes_load_consistently_or_raise_naming_the_file(layout, data):
    with tempfile.TemporaryDirectory() as directory:
        read_or_malformed(_write(directory, layout, data), layout[0])


@pytest.mark.filterwarnings("ignore::bandts.datasets.UnseenTestLabelWarning")  # damaged labels
@given(st.data())
def test_load_ucr_on_a_damaged_training_file_gives_finite_series_or_names_the_file(data):
    layout, labels, series = data.draw(files())
    valid = render(layout, labels, series)
    with tempfile.TemporaryDirectory() as directory:
        train = _write(directory, layout, data.draw(mutated(valid)))
        _write(directory, layout, valid, split="TEST")
        try:
            with no_hang():
                X_train, y_train, X_test, y_test = load_ucr("Fuzz", root=directory)
        except MalformedDatasetError as error:
            assert str(error).startswith(str(Path(directory) / "Fuzz"))
            return
        assert np.isfinite(X_train).all() and np.isfinite(X_test).all()
        assert len(X_train) == len(y_train) and X_train.shape[1:] == X_test.shape[1:]
        assert train.exists()
