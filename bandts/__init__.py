"""bandts: band-limited convolutional networks for time series and images.

Layers: ``bandts.functional`` (band-limited conv1d / conv2d) and ``bandts.nn`` (drop-in
``nn.Conv1d`` / ``nn.Conv2d`` replacements). Classifier: :class:`BandLimitedFCN` (scikit-learn);
``bandts.sktime.BandLimitedFCNClassifier`` for sktime. Data: ``bandts.datasets``. Evaluation,
statistics and CD diagrams: ``bandts.evaluation``; command line: ``bandts --help``.
"""

from bandts.classification import BandLimitedFCN

__version__ = "0.1.0"
__all__ = ["BandLimitedFCN", "__version__"]
