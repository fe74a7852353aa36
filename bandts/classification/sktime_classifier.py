"""``BandLimitedFCNClassifier``: :class:`bandts.BandLimitedFCN` as an sktime classifier.

For sktime pipelines, benchmarks and model selection. sktime converts any of its Panel formats
(nested frames, multi-index frames, numpy 3D, ...) to numpy (n, channels, length) before
``_fit`` / ``_predict``; the work is done by a :class:`~bandts.classification.BandLimitedFCN`.
"""

from sktime.classification.base import BaseClassifier

from bandts.classification import BandLimitedFCN


class BandLimitedFCNClassifier(BaseClassifier):
    """Band-limited Fully Convolutional Network classifier for sktime (series only).

    Parameters are those of :class:`bandts.BandLimitedFCN` (see there) except ``spatial_dims``:
    sktime's time-series containers hold series, so the network is always 1D.

    Note that sktime's ``set_params`` resets a fitted estimator. To predict under another band
    without refitting, set it on the fitted inner estimator:
    ``clf.estimator_.set_params(inference_compress_rate=0.5)``.

    Fitted attributes: ``estimator_`` (the fitted BandLimitedFCN), and from it ``history_``,
    ``n_epochs_``, ``saved_bytes_``.

    Examples
    --------
    >>> from bandts.sktime import BandLimitedFCNClassifier
    >>> from sktime.datasets import load_unit_test
    >>> X_train, y_train = load_unit_test(split="train")
    >>> X_test, y_test = load_unit_test(split="test")
    >>> clf = BandLimitedFCNClassifier(compress_rate=0.5, n_epochs=5, random_state=0)
    >>> clf.fit(X_train, y_train)  # doctest: +ELLIPSIS
    BandLimitedFCNClassifier(...)
    >>> y_pred = clf.predict(X_test)
    """

    _tags = {
        "authors": ["bandts developers"],
        "maintainers": ["bandts developers"],
        "python_dependencies": ["torch"],
        "X_inner_mtype": "numpy3D",
        "y_inner_mtype": "numpy1D",
        "capability:multivariate": True,
        "capability:unequal_length": False,
        "capability:missing_values": False,
        "capability:predict_proba": True,
        "capability:random_state": True,
        "property:randomness": "derandomized",
    }

    def __init__(self, compress_rate=0.0, preserve_energy=1.0, energy_scope="sample",
                 inference_compress_rate=None, inference_preserve_energy=None, conv="fft",
                 fft_size="minimal", backend="auto", low_memory=True, filters=(128, 256, 128),
                 kernel_sizes=(8, 5, 3), n_epochs=100, batch_size=None, learning_rate=None,
                 recipe="paper", validation_fraction=None, n_iter_no_change=None, device="auto",
                 compile_mode=None, random_state=None, verbose=False):
        self.compress_rate = compress_rate
        self.preserve_energy = preserve_energy
        self.energy_scope = energy_scope
        self.inference_compress_rate = inference_compress_rate
        self.inference_preserve_energy = inference_preserve_energy
        self.conv = conv
        self.fft_size = fft_size
        self.backend = backend
        self.low_memory = low_memory
        self.filters = filters
        self.kernel_sizes = kernel_sizes
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.recipe = recipe
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.compile_mode = compile_mode
        self.random_state = random_state
        self.verbose = verbose
        super().__init__()

    def _fit(self, X, y):
        """X: numpy (n, channels, length); y: numpy (n,) labels."""
        self.estimator_ = BandLimitedFCN(spatial_dims=1, **self.get_params(deep=False)).fit(X, y)
        self.history_ = self.estimator_.history_
        self.n_epochs_ = self.estimator_.n_epochs_
        self.saved_bytes_ = self.estimator_.saved_bytes_
        return self

    def _predict(self, X):
        """Labels (n,) for X numpy (n, channels, length)."""
        return self.estimator_.predict(X)

    def _predict_proba(self, X):
        """Probabilities (n, n_classes), columns in the order of ``classes_``."""
        return self.estimator_.predict_proba(X)

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Tiny settings for sktime's conformance tests (a few epochs, narrow layers)."""
        fast = {"filters": (4, 8, 4), "n_epochs": 2, "batch_size": 8, "learning_rate": 0.01,
                "random_state": 0}
        return [
            {**fast, "conv": "direct"},
            {**fast, "conv": "fft", "compress_rate": 0.5, "kernel_sizes": (4, 3, 2)},
        ]
