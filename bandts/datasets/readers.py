"""Read one split file (delimited text or sktime ``.ts``) into a padded array, as stored.

Delimited text (UCR 2018 ``.tsv``, UCR 2015 comma-separated, whitespace ``.txt``): one series per
line, the class label first. The separator is taken from the first line (tab, else comma, else
whitespace). Missing values are written ``NaN``, ``?`` or left empty. Following the UCR 2018
convention, NaN at the end of a line pad a shorter series: they set its length, they are not
missing values.

``.ts`` (sktime/UEA, multivariate included): parsed by sktime's reader; each series has an explicit
length, so a ``?`` anywhere (also at the end) is a missing value. sktime lowercases the labels, so
the labels are re-read as written from the end of each data line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bandts.datasets.errors import MalformedDatasetError

_MISSING_TOKENS = ("", "?", "nan")
# The spellings of _MISSING_TOKENS that pandas' fast path treats as missing (any other spelling,
# e.g. "nAn", sends the file to the line-by-line reader, which lowercases).
_PANDAS_MISSING = ["", "?", "nan", "NaN", "NAN"]


@dataclass(frozen=True)
class RawSplit:
    """One split as stored in its file.

    values: (n, channels, max_length) float64; NaN where a value is missing or past a series' end.
    lengths: (n,) int64, the length of each series (all its channels share it).
    labels: (n,) str, the class labels as written.
    path: the file read.
    """

    values: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    path: Path

    def line_of(self, index: int) -> int:
        """1-based line number of series ``index`` in the file (for error messages)."""
        return data_line_numbers(self.path)[index]


def read_split(path: Path, format_name: str) -> RawSplit:
    """Read a split file; ``format_name`` is "ts" or a delimited format ("tsv", "csv", "txt")."""
    path = Path(path)
    return read_ts(path) if format_name == "ts" else read_delimited(path)


def read_text(path: Path) -> str:
    """The file's text with every line break as ``\\n``; MalformedDatasetError naming the line if
    it is not UTF-8 text.

    ``\\r\\n`` and a lone ``\\r`` end a line, as in Python's text files (and so for sktime's
    reader); pandas would otherwise split lines where the line reader does not. NUL bytes also
    mark a binary file (they are valid UTF-8, but no dataset has them and pandas would silently
    cut a line at one).
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedDatasetError(
            path, f"byte {error.start} is not UTF-8 text ({error.reason}); is this a dataset "
            "file?", _line_of_end(data[: error.start].decode("utf-8"))) from None
    nul = text.find("\0")
    if nul >= 0:
        raise MalformedDatasetError(path, "a NUL byte: this is a binary file, not a text dataset "
                                    "file", _line_of_end(text[:nul]))
    return _unix_lines(text)


def _unix_lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _line_of_end(text: str) -> int:
    """1-based line number of the position just after ``text`` (the start of a file)."""
    return _unix_lines(text).count("\n") + 1


def _data_lines(path: Path, text: str | None = None):
    """(1-based line number, stripped text) of each data line (one per series) of a split file.

    Delimited files: every non-blank line. ``.ts`` files: the non-blank lines after ``@data``
    that are not ``#`` comments. ``text``: the file's text if already read.
    """
    is_ts = path.suffix.lower() == ".ts"
    in_data = not is_ts
    for number, line in enumerate(io.StringIO(read_text(path) if text is None else text), 1):
        text_line = line.strip()
        if not text_line or (is_ts and text_line.startswith("#")):
            continue
        if in_data:
            yield number, text_line
        elif text_line.lower().startswith("@data"):
            in_data = True


def data_line_numbers(path: Path, text: str | None = None) -> list[int]:
    """1-based line numbers of the data lines (one per series) of a split file."""
    return [number for number, _ in _data_lines(path, text)]


def _first_line(path: Path, text: str) -> str:
    for line in io.StringIO(text):
        if line.strip():
            return line
    raise MalformedDatasetError(path, "the file is empty; expected one series per line.")


def _separator(line: str) -> str | None:
    """Tab or comma if the line has one, else None (any whitespace)."""
    return "\t" if "\t" in line else "," if "," in line else None


def read_delimited(path: Path) -> RawSplit:
    """Read a delimited split: label, then values, one series per line.

    A fast pandas pass reads well-formed files; anything unusual (ragged rows, text where a number
    should be, a missing label, infinite values) is re-read line by line, which either reads it
    (ragged rows are shorter series) or raises MalformedDatasetError naming the line and field.
    Quotes have no special meaning in either reader; both parse numbers exactly as Python does.
    """
    text = read_text(path)
    separator = _separator(_first_line(path, text))
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=separator or r"\s+", header=None, dtype={0: str},
            keep_default_na=False, na_values=_PANDAS_MISSING, quoting=csv.QUOTE_NONE, engine="c",
            float_precision="round_trip",  # pandas' default may be one unit in the last place off
        )
        values = frame.iloc[:, 1:]
        labels = frame.iloc[:, 0]
        readable = (
            values.shape[1] > 0
            and not labels.isna().any()
            and all(dtype.kind in "fiu" for dtype in values.dtypes)
        )
        table = values.to_numpy(np.float64) if readable else None
        if table is None or np.isinf(table).any():
            raise ValueError("not a plain numeric table")
        label_text = labels.str.strip().to_numpy(str)
        if np.isin(np.char.lower(label_text), _MISSING_TOKENS).any():
            raise ValueError("a label is missing")
    except (ValueError, pd.errors.ParserError):  # pandas' EmptyDataError is a ValueError
        label_text, table = _read_delimited_lines(path, text, separator)
    lengths = _lengths_before_trailing_nan(table)
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise MalformedDatasetError(
            path, f"the series has no values ({empty.size} such line(s) in the file).",
            data_line_numbers(path, text)[empty[0]])
    table = table[:, : lengths.max()]
    return RawSplit(table[:, None, :], lengths, label_text, path)


def _read_delimited_lines(path: Path, text: str,
                          separator: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Line-by-line reader with exact diagnostics; ragged rows are padded with NaN."""
    labels, rows = [], []
    for number, line in enumerate(io.StringIO(text), 1):
        if not line.strip():
            continue
        # Keep a leading separator: it means an empty first field (a missing label).
        line = line.strip() if separator is None else line.rstrip("\r\n")
        tokens = [token.strip() for token in line.split(separator)]
        if tokens[0].lower() in _MISSING_TOKENS:
            raise MalformedDatasetError(path, "the class label (first field) is missing.", number)
        row = np.full(len(tokens) - 1, np.nan)
        for field, token in enumerate(tokens[1:], 2):
            if token.lower() not in _MISSING_TOKENS:
                row[field - 2] = _finite_number(token, path, number, field)
        labels.append(tokens[0])
        rows.append(row)
    if not rows:
        raise MalformedDatasetError(path, "no series found; expected one series per line.")
    width = max(len(row) for row in rows)
    table = np.full((len(rows), width), np.nan)
    for index, row in enumerate(rows):
        table[index, : len(row)] = row
    return np.array(labels, dtype=str), table


def _finite_number(token: str, path: Path, line: int, field: int) -> float:
    try:
        value = float(token)
    except ValueError:
        raise MalformedDatasetError(path, f"{token!r} is not a number.", line, field) from None
    if not np.isfinite(value):
        raise MalformedDatasetError(path, f"{token!r} is not a finite number.", line, field)
    return value


def _lengths_before_trailing_nan(table: np.ndarray) -> np.ndarray:
    """(n,) lengths of rows of a (n, width) table whose trailing NaN pad shorter series."""
    if table.shape[1] == 0:  # labels only, no values at all
        return np.zeros(len(table), dtype=np.int64)
    observed = ~np.isnan(table)
    last = table.shape[1] - np.argmax(observed[:, ::-1], axis=1)
    return np.where(observed.any(axis=1), last, 0).astype(np.int64)


def read_ts(path: Path) -> RawSplit:
    """Read a sktime/UEA ``.ts`` classification file with sktime's reader."""
    from sktime.datasets import load_from_tsfile_to_dataframe

    text = read_text(path)
    try:
        result = load_from_tsfile_to_dataframe(str(path), replace_missing_vals_with="NaN")
    except Exception as error:  # noqa: BLE001 - sktime raises many types for a malformed file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MalformedDatasetError(path, f"{reason}{_locate_problem(path, text)}") from error
    if not isinstance(result, tuple):
        raise MalformedDatasetError(path, "the file has no class labels (@classLabel false).")
    frame, lowered_labels = result
    lines = list(_data_lines(path, text))
    labels = [line.rpartition(":")[2].strip() for _, line in lines]
    unlabelled = [number for (number, _), label in zip(lines, labels) if not label]
    if unlabelled:
        raise MalformedDatasetError(path, "the class label (after the last ':') is missing.",
                                    unlabelled[0])
    if [label.lower() for label in labels] != [str(label) for label in lowered_labels]:
        raise MalformedDatasetError(
            path, "could not match the class labels at the ends of the data lines with the "
            "labels sktime read; check that every data line ends with ':<label>'.")
    n_series, n_channels = frame.shape
    channel_lengths = np.array(
        [[len(frame.iat[row, channel]) for channel in range(n_channels)] for row in range(n_series)]
    ).reshape(n_series, n_channels)
    lengths = channel_lengths[:, 0].astype(np.int64) if n_channels else np.zeros(n_series, int)
    uneven = np.flatnonzero((channel_lengths != lengths[:, None]).any(axis=1))
    if uneven.size:
        raise MalformedDatasetError(
            path, f"the channels of this series have different lengths "
            f"{channel_lengths[uneven[0]].tolist()}; bandts needs the channels of one series to "
            "share a length.", lines[uneven[0]][0])
    if n_series == 0:
        raise MalformedDatasetError(path, "no series found after @data.")
    empty = np.flatnonzero(lengths == 0)
    if empty.size or n_channels == 0:
        raise MalformedDatasetError(path, "the series has no values.",
                                    lines[empty[0] if empty.size else 0][0])
    values = np.full((n_series, n_channels, lengths.max()), np.nan)
    for row in range(n_series):
        for channel in range(n_channels):
            values[row, channel, : lengths[row]] = frame.iat[row, channel].to_numpy(np.float64)
    infinite = np.flatnonzero(np.isinf(values).any(axis=(1, 2)))
    if infinite.size:
        raise MalformedDatasetError(path, "the series has an infinite value.",
                                    lines[infinite[0]][0])
    return RawSplit(values, lengths, np.array(labels, dtype=str), path)


def _locate_problem(path: Path, text: str) -> str:
    """' (line N: ...)' for the first data line with a wrong channel count or a value that is not
    a number (sktime's messages for these do not name the line), else ''."""
    channels = None
    for number, line in _data_lines(path, text):
        if "(" in line:  # timestamped series: sktime's own messages give the line
            return ""
        fields = line.split(":")[:-1]  # the last field is the label
        channels = len(fields) if channels is None else channels
        if len(fields) != channels:
            return f" (line {number}: {len(fields)} channel(s), the first series has {channels})"
        for token in ",".join(fields).split(","):
            token = token.strip()
            if token.lower() in _MISSING_TOKENS:
                continue
            try:
                float(token)
            except ValueError:
                return f" (line {number}: {token!r} is not a number)"
    return ""
