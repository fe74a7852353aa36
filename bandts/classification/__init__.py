"""Classifiers in the scikit-learn and sktime conventions: the estimator, its input checks,
training loop and file format.

:class:`BandLimitedFCN` is the scikit-learn estimator (also ``bandts.BandLimitedFCN``); the sktime
classifier lives in ``bandts.sktime`` so that importing bandts does not import sktime.
"""

from bandts.classification.estimator import BandLimitedFCN
from bandts.classification.persistence import ModelFileError

__all__ = ["BandLimitedFCN", "ModelFileError"]
