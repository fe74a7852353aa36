"""Sizes read from the line structure (bandts.datasets.shapes) against full reads of the files."""

import pytest

from bandts.datasets.readers import read_split
from bandts.datasets.shapes import scan_delimited, scan_ts
from bandts.datasets.sources import find_dataset
from split_facts import read_facts, scanned_facts


def full_facts(path, format_name):
    return read_facts(read_split(path, format_name))


# Equal-length TSV, TSV with NaN padding (unequal lengths), multivariate and unequal-length .ts.
@pytest.mark.parametrize("name", ["Coffee", "AllGestureWiimoteX", "BasicMotions", "JapaneseVowels"])
def test_scans_of_archive_files_equal_full_reads(name):
    location = find_dataset(name)
    for path in (location.train, location.test):
        assert scanned_facts(path, location.format) == full_facts(path, location.format)


@pytest.mark.parametrize("content, facts", [
    ("1\t0.5\t0.25\tNaN\n-2\t1e-3\tNaN\t2\n\n", ([2, 3], ["1", "-2"], 1, True)),
    ("3,1,2,3\r\n4,5,NaN,NaN\r\n", ([3, 1], ["3", "4"], 1, False)),
])
def test_scans_of_plain_delimited_files(tmp_path, content, facts):
    path = tmp_path / "X_TRAIN.tsv"
    path.write_text(content, newline="")
    assert scanned_facts(path, "tsv") == full_facts(path, "tsv") == facts


@pytest.mark.parametrize("content", [
    "a\t0.5\n",             # a text label
    "1\t?\t0.5\n",          # another missing-value marker
    "1\tnan\t0.5\n",        # another spelling of NaN
    "1\t0.5 \n",            # a space
    "1,0.5,\n",             # an empty field
    "1\t0.5\n2\t0,5\n",     # both separators
    "1\tNaN\n",             # a series with no values
    "NaN\t1\n",             # a missing label
    "1\t0.5\r2\t1\n",       # a lone carriage return
])
def test_files_that_are_not_plain_take_the_full_read(tmp_path, content):
    path = tmp_path / "X_TRAIN.tsv"
    path.write_text(content, newline="")
    assert scan_delimited(path) is None


def test_ts_scan_with_missing_values_and_files_it_leaves_to_sktime(tmp_path):
    header = ("@problemName X\n@timeStamps false\n@missing true\n@univariate false\n"
              "@classLabel true a b\n@data\n")
    path = tmp_path / "X_TRAIN.ts"
    path.write_text("# a comment\n" + header + "1,?,3:4,5,6:a\n\n7,8:9,10:b\n")
    assert scanned_facts(path, "ts") == full_facts(path, "ts") == ([3, 2], ["a", "b"], 2, True)
    for data in ("1,2:3:a\n", "1,,2:a\n", "(0,1):a\n", "1,x:a\n", "1,2:c\n", "1:a\n# note\n"):
        path.write_text(header + data)
        assert scan_ts(path) is None
    for tag in ("@classLabel true a b", "@univariate false", "@problemName X"):
        path.write_text(header.replace(tag, "@classLabel false" if "class" in tag else "") + "1:a\n")
        assert scan_ts(path) is None
