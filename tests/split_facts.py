"""The facts bandts.datasets.shapes reads without parsing values, from a scan or a full read."""

from bandts.datasets import preprocessing
from bandts.datasets.shapes import scan_delimited, scan_ts


def scanned_facts(path, format_name):
    """(lengths, labels, channels, has missing values) from the scan, or None if it declined."""
    if format_name == "ts":
        scan = scan_ts(path)
        return None if scan is None else (scan[0].tolist(), scan[1].tolist(), scan[2], scan[3])
    scan = scan_delimited(path)
    return None if scan is None else (scan[0].tolist(), scan[1].tolist(), 1, scan[2])


def read_facts(raw):
    """The same facts from a split read in full (a RawSplit)."""
    missing = bool(preprocessing.rows_with_missing(raw.values, raw.lengths).any())
    return raw.lengths.tolist(), raw.labels.tolist(), int(raw.values.shape[1]), missing
