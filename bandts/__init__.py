"""bandts: band-limited convolutional networks for time series and images.

Layers: ``bandts.functional`` (band-limited conv1d / conv2d) and ``bandts.nn`` (drop-in
``nn.Conv1d`` / ``nn.Conv2d`` replacements). Classifier: :class:`BandLimitedFCN` (scikit-learn);
``bandts.sktime.BandLimitedFCNClassifier`` for sktime. Data: ``bandts.datasets``. Evaluation,
statistics and CD diagrams: ``bandts.evaluation``; command line: ``bandts --help``.
"""

__version__ = "0.1.0"
__all__ = ["BandLimitedFCN", "__version__"]


def __getattr__(name):
    # BandLimitedFCN is imported on first use: importing torch and scikit-learn takes seconds,
    # which every `bandts` command that needs neither (datasets, rank, export) would pay.
    if name == "BandLimitedFCN":
        from bandts.classification import BandLimitedFCN

        return BandLimitedFCN
    raise AttributeError(f"module 'bandts' has no attribute {name!r}")
