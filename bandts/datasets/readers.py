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

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bandts.datasets.errors import MalformedDatasetError

_MISSING_TOKENS = ("", "?", "nan")


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


def _data_lines(path: Path):
    """(1-based line number, stripped text) of each data line (one per series) of a split file.

    Delimited files: every non-blank line. ``.ts`` files: the non-blank lines after ``@data``
    that are not ``#`` comments.
    """
    is_ts = path.suffix.lower() == ".ts"
    in_data = not is_ts
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            text = line.strip()
            if not text or (is_ts and text.startswith("#")):
                continue
            if in_data:
                yield number, text
            elif text.lower().startswith("@data"):
                in_data = True


def data_line_numbers(path: Path) -> list[int]:
    """1-based line numbers of the data lines (one per series) of a split file."""
    return [number for number, _ in _data_lines(path)]


def _first_line(path: Path) -> str:
    with open(path, encoding="utf-8") as file:
        for line in file:
            if line.strip():
                return line
    raise MalformedDatasetError(f"{path}: the file is empty; expected one series per line.")


def _separator(line: str) -> str | None:
    """Tab or comma if the line has one, else None (any whitespace)."""
    return "\t" if "\t" in line else "," if "," in line else None


def read_delimited(path: Path) -> RawSplit:
    """Read a delimited split: label, then values, one series per line.

    A fast pandas pass reads well-formed files; anything unusual (ragged rows, text where a number
    should be, a missing label, infinite values) is re-read line by line, which either reads it
    (ragged rows are shorter series) or raises MalformedDatasetError naming the line and field.
    """
    separator = _separator(_first_line(path))
    try:
        frame = pd.read_csv(
            path, sep=separator or r"\s+", header=None, dtype={0: str}, na_values=["?"],
            engine="c",
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
    except (ValueError, pd.errors.ParserError):  # pandas' EmptyDataError is a ValueError
        label_text, table = _read_delimited_lines(path, separator)
    lengths = _lengths_before_trailing_nan(table)
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        line = data_line_numbers(path)[empty[0]]
        raise MalformedDatasetError(
            f"{path}, line {line}: the series has no values "
            f"({empty.size} such line(s) in the file)."
        )
    table = table[:, : lengths.max()]
    return RawSplit(table[:, None, :], lengths, label_text, path)


def _read_delimited_lines(path: Path, separator: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Line-by-line reader with exact diagnostics; ragged rows are padded with NaN."""
    labels, rows = [], []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            # Keep a leading separator: it means an empty first field (a missing label).
            text = line.strip() if separator is None else line.rstrip("\r\n")
            tokens = [token.strip() for token in text.split(separator)]
            if tokens[0].lower() in _MISSING_TOKENS:
                raise MalformedDatasetError(
                    f"{path}, line {number}: the class label (first field) is missing."
                )
            row = np.full(len(tokens) - 1, np.nan)
            for field, token in enumerate(tokens[1:], 2):
                if token.lower() not in _MISSING_TOKENS:
                    row[field - 2] = _finite_number(token, f"{path}, line {number}, field {field}")
            labels.append(tokens[0])
            rows.append(row)
    if not rows:
        raise MalformedDatasetError(f"{path}: no series found; expected one series per line.")
    width = max(len(row) for row in rows)
    table = np.full((len(rows), width), np.nan)
    for index, row in enumerate(rows):
        table[index, : len(row)] = row
    return np.array(labels, dtype=str), table


def _finite_number(token: str, where: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise MalformedDatasetError(f"{where}: {token!r} is not a number.") from None
    if not np.isfinite(value):
        raise MalformedDatasetError(f"{where}: {token!r} is not a finite number.")
    return value


def _lengths_before_trailing_nan(table: np.ndarray) -> np.ndarray:
    """(n,) lengths of rows of a (n, width) table whose trailing NaN pad shorter series."""
    observed = ~np.isnan(table)
    last = table.shape[1] - np.argmax(observed[:, ::-1], axis=1)
    return np.where(observed.any(axis=1), last, 0).astype(np.int64)


def read_ts(path: Path) -> RawSplit:
    """Read a sktime/UEA ``.ts`` classification file with sktime's reader."""
    from sktime.datasets import load_from_tsfile_to_dataframe

    try:
        result = load_from_tsfile_to_dataframe(str(path), replace_missing_vals_with="NaN")
    except (OSError, ValueError) as error:
        raise MalformedDatasetError(f"{path}: {error}{_locate_problem(path)}") from error
    if not isinstance(result, tuple):
        raise MalformedDatasetError(f"{path}: the file has no class labels (@classLabel false).")
    frame, lowered_labels = result
    labels = _ts_labels_as_written(path)
    if [label.lower() for label in labels] != [str(label) for label in lowered_labels]:
        raise MalformedDatasetError(
            f"{path}: could not match the class labels at the ends of the data lines with the "
            "labels sktime read; check that every data line ends with ':<label>'."
        )
    n_series, n_channels = frame.shape
    channel_lengths = np.array(
        [[len(frame.iat[row, channel]) for channel in range(n_channels)] for row in range(n_series)]
    )
    lengths = channel_lengths[:, 0].astype(np.int64)
    uneven = np.flatnonzero((channel_lengths != lengths[:, None]).any(axis=1))
    if uneven.size:
        line = data_line_numbers(path)[uneven[0]]
        raise MalformedDatasetError(
            f"{path}, line {line}: the channels of this series have different lengths "
            f"{channel_lengths[uneven[0]].tolist()}; bandts needs the channels of one series to "
            "share a length."
        )
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        line = data_line_numbers(path)[empty[0]]
        raise MalformedDatasetError(f"{path}, line {line}: the series has no values.")
    values = np.full((n_series, n_channels, lengths.max()), np.nan)
    for row in range(n_series):
        for channel in range(n_channels):
            values[row, channel, : lengths[row]] = frame.iat[row, channel].to_numpy(np.float64)
    return RawSplit(values, lengths, np.array(labels, dtype=str), path)


def _ts_labels_as_written(path: Path) -> list[str]:
    return [text.rpartition(":")[2].strip() for _, text in _data_lines(path)]


def _locate_problem(path: Path) -> str:
    """' (line N: ...)' for the first data line with a wrong channel count or a value that is not
    a number (sktime's messages for these do not name the line), else ''."""
    channels = None
    for number, text in _data_lines(path):
        if "(" in text:  # timestamped series: sktime's own messages give the line
            return ""
        fields = text.split(":")[:-1]  # the last field is the label
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
