"""``BandLimitedFCN``: the FCN with band-limited convolutions as a scikit-learn classifier."""

import copy
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from bandts.classification import persistence
from bandts.classification.inputs import validate_X, validate_y
from bandts.classification.training import COMPILE_MODES, RECIPES, train
from bandts.backends import BACKEND_NAMES
from bandts.functional import FFT_SIZE_RULES, Band
from bandts.models import CONV_KINDS, FCN
from bandts.nn import band_applied, bandlimited_layers, calibrate_cuts
# Samples per forward in predict and in calibration (bounds memory; results do not depend on it
# except through floating-point rounding).
PREDICT_BATCH_SIZE = 64


def resolve_device(device) -> torch.device:
    """``"auto"`` -> CUDA if available else CPU; ``"cpu"``; ``"cuda"`` / ``"cuda:N"``.

    Raises:
        ValueError: unknown name, or CUDA asked for but not available.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or not (device == "cpu" or device == "cuda"
                                           or device.startswith("cuda:")):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but this torch build sees no CUDA device "
                         f"(torch {torch.__version__}); use device='cpu' or 'auto'")
    return torch.device(device)


class BandLimitedFCN(ClassifierMixin, BaseEstimator):
    """Fully Convolutional Network (Wang et al. 2017) trained with band-limited convolutions.

    The convolutions run in the frequency domain keeping only low-frequency coefficients
    (Dziedzic et al., ICML 2019): less compute and less memory saved for backward.

    Parameters
    ----------
    compress_rate : float in [0, 1), default=0.0
        Fraction of the frequency coefficients dropped from the high end during training
        (0 = full band).
    preserve_energy : float in (0, 1], default=1.0
        Keep the smallest low-frequency prefix holding this fraction of the input spectrum's
        energy (1 = no energy cut).
    energy_scope : {"sample", "batch", "frozen"}, default="sample"
        Where the energy cut is measured: per sample (predictions independent of batching), per
        batch (the paper's behaviour), or "frozen": measured on the training data at the end of
        fit and fixed (static, fast inference).
    inference_compress_rate, inference_preserve_energy : float or None, default=None
        The band used by predict / predict_proba / score; None = the training value. Can be
        changed with ``set_params`` after fit (no refit): the paper's train-vs-test experiments.
        With ``energy_scope="frozen"`` the frozen cuts belong to the training energy, so an
        ``inference_preserve_energy`` different from ``preserve_energy`` is applied per sample.
    conv : {"fft", "direct"}, default="fft"
        Band-limited FFT convolutions, or torch's direct convolutions (the baseline; the band
        parameters are then ignored).
    fft_size : {"minimal", "pow2", "paper"}, default="minimal"
        FFT length rule of the band-limited layers (docs/design.md, "Spectrum sizes").
    backend : {"auto", "torch", "pycuda"}, default="auto"
        Complex multiply-accumulate backend of the band-limited layers.
    low_memory : bool, default=True
        Band-limited blocks (conv -> BatchNorm -> ReLU) keep only the compressed input and
        output spectra and the ReLU's mask bits for backward
        (:class:`bandts.nn.BandLimitedBlock`): about 2x less activation memory at
        ``compress_rate=0.5`` than the direct network, 4x less at 0.75, for about the CPU time
        per step of separate layers (README, "Memory"). False keeps the three layers separate.
        Predictions agree up to rounding.
    spatial_dims : {1, 2}, default=1
        1: series, X shaped (n, length) or (n, channels, length); 2: images, (n, H, W) or
        (n, C, H, W) (the same network with 2D convolutions).
    filters : tuple of int, default=(128, 256, 128)
        Channels of the three convolution blocks (the paper's widths by default).
    kernel_sizes : tuple of int, default=(8, 5, 3)
        Kernel sizes of the blocks (square kernels for images).
    n_epochs : int, default=100
        Training epochs. The recipes' published lengths are 300 ("paper") and 2000 ("fcn");
        100 is a CPU-friendly default: pass ``n_epochs=300`` to reproduce the paper.
    batch_size : int or None, default=None
        None = the recipe's (16 for "paper", ``min(n // 10, 16)`` for "fcn").
    learning_rate : float or None, default=None
        Adam's initial learning rate; None = the recipe's (1e-3).
    recipe : {"paper", "fcn"}, default="paper"
        Learning-rate schedule: ReduceLROnPlateau on the training loss with factor 0.1 /
        patience 10 ("paper") or factor 0.5 / patience 50 / min lr 1e-4 ("fcn"); both keep the
        weights of the epoch with the lowest monitored loss.
    validation_fraction : float in (0, 1) or None, default=None
        Hold out this fraction of the training data (stratified when every class has 2 samples);
        then the validation loss picks the kept weights and drives early stopping.
    n_iter_no_change : int or None, default=None
        Stop after this many epochs without improvement of the monitored loss (validation loss
        if ``validation_fraction`` is set, else training loss); None = train all epochs.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    compile_mode : {None, "default", "reduce-overhead", "max-autotune", \
"max-autotune-no-cudagraphs"}, default=None
        None trains eagerly. Otherwise the training steps' forward and backward (network and
        loss) run through ``torch.compile`` with this mode. On a GPU, "reduce-overhead" also
        captures them in CUDA graphs, removing the per-kernel launch cost, which dominates
        band-limited layers there (many small kernels); on a CPU it behaves like "default". The
        first steps pay the compilation (tens of seconds). Shapes are static
        (``dynamic=False``): the last, shorter batch of an epoch gets a second graph, compiled
        once; every sample is still trained on. Energy cuts (``preserve_energy < 1``) compile
        too, their data-dependent sizes included, but an energy cut's sizes keep CUDA graphs
        from capturing the step. The first training step runs eagerly (it measures
        ``saved_bytes_``), and with an energy cut ``history_`` has no kept_bins (compiled code
        does not report them). Prediction, validation loss and frozen-cut calibration stay
        eager; the fitted ``model_`` is the plain network (nothing compiled is kept or pickled).
        Predictions agree with eager training up to rounding.
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling and the validation split (no global RNG state is
        touched). The same integer gives identical predictions on CPU.
    verbose : bool, default=False
        tqdm progress bar over epochs.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    n_features_in_ : int
        Values per channel: the series length (or H*W for images). Predict needs the same.
    n_channels_ : int
    spatial_shape_ : tuple
        (length,) or (H, W).
    feature_names_in_ : ndarray
        Column names when fitted on a wide pandas frame with string column names.
    model_ : bandts.models.FCN
    history_ : list of dict
        Per epoch: epoch, loss, learning_rate, seconds, kept_bins {layer: int} (val_loss with
        validation). kept_bins is empty for ``conv="direct"``.
    n_epochs_ : int
        Epochs run (fewer than n_epochs after early stopping).
    saved_bytes_ : dict
        {layer name: bytes saved for backward} in the first training step (activations only,
        parameters excluded; measured with ``torch.autograd.graph.saved_tensors_hooks``).

    Notes
    -----
    Inputs are used as given: z-normalise each series beforehand if wanted
    (``bandts.datasets.load_ucr`` does by default).

    References
    ----------
    .. [1] A. Dziedzic, J. Paparrizos, S. Krishnan, A. Elmore, M. Franklin, "Band-limited
       Training and Inference for Convolutional Neural Networks", ICML 2019.
    .. [2] Z. Wang, W. Yan, T. Oates, "Time Series Classification from Scratch with Deep Neural
       Networks: A Strong Baseline", IJCNN 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from bandts import BandLimitedFCN
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 1, 32)).astype("float32")
    >>> y = np.array(["a", "b"] * 10)
    >>> clf = BandLimitedFCN(compress_rate=0.5, filters=(4, 4, 4), n_epochs=2, random_state=0)
    >>> clf.fit(X, y).predict(X[:3]).shape
    (3,)
    >>> sorted(clf.kept_bins().values())
    [9, 9, 10]
    """

    def __init__(self, compress_rate=0.0, preserve_energy=1.0, energy_scope="sample",
                 inference_compress_rate=None, inference_preserve_energy=None, conv="fft",
                 fft_size="minimal", backend="auto", low_memory=True, spatial_dims=1,
                 filters=(128, 256, 128),
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
        self.spatial_dims = spatial_dims
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

    # ------------------------------------------------------------------ validation of parameters
    def _check_params(self) -> None:
        def choice(name, options):
            if getattr(self, name) not in options:
                raise ValueError(f"{name} must be one of {options}, got {getattr(self, name)!r}")

        def number(name, low, high, *, low_open, high_open, optional=False):
            value = getattr(self, name)
            if value is None and optional:
                return
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and (
                (low < value if low_open else low <= value)
                and (value < high if high_open else value <= high))
            if not ok:
                interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
                raise ValueError(f"{name} must be a number in {interval}"
                                 f"{' or None' if optional else ''}, got {value!r}")

        def positive_int(name, optional=False):
            value = getattr(self, name)
            if value is None and optional:
                return
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer"
                                 f"{' or None' if optional else ''}, got {value!r}")

        self._training_band()
        self._inference_band()
        number("learning_rate", 0, np.inf, low_open=True, high_open=True, optional=True)
        number("validation_fraction", 0, 1, low_open=True, high_open=True, optional=True)
        choice("conv", CONV_KINDS)
        choice("fft_size", FFT_SIZE_RULES)
        choice("backend", BACKEND_NAMES)
        choice("spatial_dims", (1, 2))
        choice("low_memory", (True, False))
        choice("recipe", tuple(RECIPES))
        choice("compile_mode", (None, *COMPILE_MODES))
        positive_int("n_epochs")
        positive_int("batch_size", optional=True)
        positive_int("n_iter_no_change", optional=True)
        for name in ("filters", "kernel_sizes"):
            value = getattr(self, name)
            if (not isinstance(value, (tuple, list)) or not value or not all(
                    isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
                    for v in value)):
                raise ValueError(f"{name} must be a non-empty tuple of positive integers, "
                                 f"got {value!r}")
        if len(self.filters) != len(self.kernel_sizes):
            raise ValueError(f"filters and kernel_sizes must have the same length, got "
                             f"{self.filters!r} and {self.kernel_sizes!r}")
        resolve_device(self.device)

    # ---------------------------------------------------------------------------- model building
    def _training_band(self) -> Band:
        return Band(self.compress_rate, self.preserve_energy, self.energy_scope)

    def _inference_band(self) -> Band:
        """The band of predict / predict_proba / score (``inference_*`` None: the training one)."""
        band = self._training_band()
        changes = {}
        for field in ("compress_rate", "preserve_energy"):
            value = getattr(self, "inference_" + field)
            if value is not None:
                try:
                    changes[field] = getattr(Band(**{field: value}), field)
                except ValueError as error:
                    raise ValueError(f"inference_{field}: {error}") from None
        if (self.energy_scope == "frozen"
                and changes.get("preserve_energy", band.preserve_energy) != band.preserve_energy):
            changes["energy_scope"] = "sample"  # the frozen cuts hold the training energy
        try:
            return band.with_changes(**changes)
        except ValueError as error:
            raise ValueError(f"invalid inference band (inference_* = None takes the training "
                             f"value): {error}") from None

    def _build_model(self, n_channels: int, n_classes: int) -> FCN:
        return FCN(n_channels, n_classes, spatial_dims=self.spatial_dims, conv=self.conv,
                   filters=tuple(int(f) for f in self.filters),
                   kernel_sizes=tuple(int(k) for k in self.kernel_sizes),
                   band=self._training_band(), fft_size=self.fft_size, backend=self.backend,
                   low_memory=bool(self.low_memory))

    # ----------------------------------------------------------------------------------- fitting
    def fit(self, X, y):
        """Train the network on X (see the class docstring for shapes) and labels y (n,)."""
        self._check_params()
        X = validate_X(self, X, reset=True, spatial_dims=self.spatial_dims)
        classes, y_index = validate_y(self, y, len(X))
        if len(X) == 1 and int(np.prod(X.shape[2:])) == 1:
            raise ValueError("BatchNorm needs more than one value per channel: got 1 sample of "
                             "length 1; pass more samples")
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        recipe = RECIPES[self.recipe]

        validation = None
        X_train, y_train = X, y_index
        if self.validation_fraction is not None:
            counts = np.bincount(y_index)
            stratify = y_index if counts.min() >= 2 else None
            X_train, X_val, y_train, y_val = train_test_split(
                X, y_index, test_size=self.validation_fraction, random_state=rng,
                stratify=stratify)
            validation = (torch.from_numpy(X_val).to(device), torch.from_numpy(y_val).to(device))

        with torch.random.fork_rng(devices=[]):  # seeded initialisation without global side effects
            torch.manual_seed(seed)
            model = self._build_model(X.shape[1], len(classes)).to(device)
        generator = torch.Generator().manual_seed(seed)
        X_t = torch.from_numpy(X_train).to(device)
        result = train(
            model, X_t, torch.from_numpy(y_train).to(device), recipe=recipe,
            n_epochs=int(self.n_epochs),
            batch_size=int(self.batch_size or recipe.batch_size(len(X_train))),
            learning_rate=float(self.learning_rate or recipe.learning_rate),
            generator=generator, validation=validation,
            n_iter_no_change=self.n_iter_no_change, compile_mode=self.compile_mode,
            verbose=self.verbose)
        if self.conv == "fft" and self.energy_scope == "frozen":
            calibrate_cuts(model, X_t.split(PREDICT_BATCH_SIZE))
        model.eval()

        self.classes_ = classes
        self.model_ = model
        self.history_ = result.history
        self.n_epochs_ = result.n_epochs
        self.saved_bytes_ = result.saved_bytes
        return self

    # -------------------------------------------------------------------------------- prediction
    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self)
        X = validate_X(self, X, reset=False, spatial_dims=self.spatial_dims)
        device = resolve_device(self.device)
        model = self.model_.to(device).eval()
        with band_applied(model, self._inference_band()), torch.no_grad():
            chunks = [model(torch.from_numpy(chunk).to(device))
                      for chunk in np.array_split(X, max(1, -(-len(X) // PREDICT_BATCH_SIZE)))]
        logits = torch.cat(chunks).double().cpu()
        broken = torch.nonzero(~torch.isfinite(logits).all(dim=1)).flatten()
        if len(broken):  # NaN would be predicted as the first class
            raise ValueError(f"the network's outputs are not finite for {len(broken)} sample(s) "
                             f"(the first: {int(broken[0])}; largest input magnitude "
                             f"{float(np.abs(X).max()):.3g}): float32 overflows on large inputs; "
                             "rescale X as for training")
        return logits

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, n_classes), columns ordered as ``classes_``."""
        return torch.softmax(self._logits(X), dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Predicted labels (n,), values from ``classes_``."""
        best = self._logits(X).argmax(dim=1).numpy()
        return self.classes_[best]

    def kept_bins(self) -> dict:
        """{band-limited layer name: frequency coefficients kept on the last forward} (empty for
        ``conv="direct"``)."""
        check_is_fitted(self)
        return {name: int(layer.kept_bins) for name, layer in bandlimited_layers(self.model_)
                if layer.kept_bins is not None}

    # ------------------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Store parameters (JSON) and weights (tensors) in one file, readable by :meth:`load`."""
        persistence.save(self, path)

    @classmethod
    def load(cls, path) -> "BandLimitedFCN":
        """Load an estimator written by :meth:`save` (``torch.load(weights_only=True)``: no
        code is executed)."""
        return persistence.load(cls, path)

    def __getstate__(self):
        state = super().__getstate__()
        model = state.get("model_")
        if model is not None and any(p.device.type != "cpu" for p in model.parameters()):
            state["model_"] = copy.deepcopy(model).cpu()  # picklable without a GPU on load
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
