"""Sizes of a split file read from its line structure, without parsing the values.

``bandts datasets --metadata`` needs, per file, the number of series, their lengths and labels.
Parsing every value (pandas) is most of the time of a full read. A file made only of digits,
signs, decimal points, exponents, ``NaN``, one kind of separator and line breaks, with no empty
field, is sized without converting a number: a series' label is its first field and its length
its count of separators once the trailing ``NaN`` (UCR 2018 padding) are cut; a ``NaN`` before
that is a missing value. These are the facts :func:`bandts.datasets.readers.read_split` gives.
Values are still checked when the dataset is loaded.

``.ts`` files are sized the same way (:func:`scan_ts`), which also spares importing sktime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Every byte a plain numeric table (numeric labels and NaN included) is made of.
_PLAIN_BYTES = b"0123456789.+-eENa\t,\r\n"


def scan_delimited(path: Path) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(lengths int64, labels str, has missing values) of a delimited split, or None when a full
    read is needed.

    None unless the file holds only the bytes of a plain numeric table, separated by tabs or by
    commas (not both), with no empty field (a missing label or value, or padding), no lone
    carriage return and no series without values; "N" and "a" only in ``NaN``. Text, other
    spellings of NaN, ``?`` and spaces all take the full read.
    """
    data = Path(path).read_bytes()
    if data.translate(None, _PLAIN_BYTES) or data.count(b"\r") != data.count(b"\r\n"):
        return None
    nans = data.count(b"NaN")
    if data.count(b"N") != 2 * nans or data.count(b"a") != nans:
        return None
    lines = [line.rstrip(b"\r") for line in data.split(b"\n")]
    lines = [line for line in lines if line]
    if not lines:
        return None
    separator = b"\t" if b"\t" in lines[0] else b"," if b"," in lines[0] else None
    other = b"," if separator == b"\t" else b"\t"
    if separator is None or other in data or separator * 2 in data or any(
            line.startswith(separator) or line.endswith(separator) for line in lines):
        return None
    labels = [line.partition(separator)[0] for line in lines]
    if b"NaN" in b"".join(labels):
        return None  # a missing label: the full read reports it
    # Cut trailing padding: the NaN fields and their separators at the end of each line.
    series = [line.rstrip(separator + b"Na") for line in lines]
    lengths = np.array([line.count(separator) for line in series], dtype=np.int64)
    if lengths.min() == 0:
        return None  # a series with no values: the full read reports it
    missing = any(b"NaN" in line for line in series)
    return lengths, np.array([label.decode("ascii") for label in labels], dtype=str), missing


# Every byte of the values part of a plain .ts data line ("?" is a missing value there).
_PLAIN_TS_BYTES = b"0123456789.+-eE,:?"
_PRINTABLE = bytes(range(32, 127)) + b"\t\r\n"


def scan_ts(path: Path) -> tuple[np.ndarray, np.ndarray, int, bool] | None:
    """(lengths, labels, channels, has missing values) of a ``.ts`` classification file, or None
    when a full read (sktime's parser) is needed.

    None unless the file is printable ASCII, the header has the tags sktime requires (problem
    name, no timestamps, univariate, class labels), and every data line is
    ``values:...:values:label`` with plain numbers or ``?``, no empty value, a declared label,
    all channels of one length, and as many channels as the other lines. The header is otherwise
    checked when the dataset is loaded.
    """
    data = Path(path).read_bytes()
    # Printable ASCII only (bytes and text then strip alike) and no lone carriage return (a
    # line break for the full read).
    if data.translate(None, _PRINTABLE) or data.count(b"\r") != data.count(b"\r\n"):
        return None
    lines = [line.strip() for line in data.split(b"\n")]
    lines = [line for line in lines if line]
    header = [line.lower() for line in lines]
    if b"@data" not in header:
        return None
    start = header.index(b"@data")
    header = [line for line in header[:start] if not line.startswith(b"#")]
    tags = {line.split(b" ")[0]: line.split(b" ")[1:] for line in header}
    declared = tags.get(b"@classlabel", [])
    if (b"@problemname" not in tags or tags.get(b"@timestamps") != [b"false"]
            or tags.get(b"@univariate") not in ([b"true"], [b"false"])
            or declared[:1] != [b"true"] or len(declared) < 2):
        return None
    rows = [line.rpartition(b":") for line in lines[start + 1:]]
    if not {row[2].strip().lower() for row in rows} <= {label.strip() for label in declared[1:]}:
        return None
    values = b"\n".join(row[0] for row in rows)
    if (not rows or values.translate(None, _PLAIN_TS_BYTES + b"\n")
            or any(empty in values for empty in (b",,", b"::", b":,", b",:"))):
        return None
    shapes = set()
    lengths = []
    for channels_text, _, _ in rows:
        channels = channels_text.split(b":")
        counts = {channel.count(b",") + 1 for channel in channels}
        if len(counts) != 1 or any(not c or c[:1] == b"," or c[-1:] == b"," for c in channels):
            return None
        shapes.add(len(channels))
        lengths.append(counts.pop())
    if len(shapes) != 1:
        return None
    labels = [row[2].strip().decode("ascii") for row in rows]
    if not all(labels):
        return None
    return (np.array(lengths, dtype=np.int64), np.array(labels, dtype=str), shapes.pop(),
            b"?" in values)
