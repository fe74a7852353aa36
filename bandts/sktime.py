"""bandts for sktime: :class:`BandLimitedFCNClassifier` (a separate module, so that ``import
bandts`` does not import sktime)."""

from bandts.classification.sktime_classifier import BandLimitedFCNClassifier

__all__ = ["BandLimitedFCNClassifier"]
