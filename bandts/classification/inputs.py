"""Input validation and conversion for the bandts estimators (scikit-learn style errors).

Every accepted input becomes one float32 numpy array of shape (n, C, L) for series
(``spatial_dims=1``) or (n, C, H, W) for images (``spatial_dims=2``):

- series: 2D array-like (n, length) = univariate; 3D (n, channels, length); pandas wide frames
  (rows = series, columns = time points); sktime nested frames and (instance, time) multi-index
  frames (converted with sktime's ``convert_to``); lists of equal-length series.
- images: (n, H, W) = one channel, or (n, C, H, W).
"""

import numpy as np
import pandas as pd
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data


def _is_sktime_panel_frame(X) -> bool:
    """A multi-index frame (instance, time) or a nested frame (cells holding series)."""
    if not isinstance(X, pd.DataFrame):
        return False
    if isinstance(X.index, pd.MultiIndex):
        return True
    return len(X) > 0 and any(
        X[c].dtype == object and isinstance(X[c].iloc[0], (pd.Series, np.ndarray))
        for c in X.columns)


def _panel_frame_to_numpy3d(X: pd.DataFrame) -> np.ndarray:
    from sktime.datatypes import convert_to  # sktime is slow to import; only needed for its frames

    try:
        return np.asarray(convert_to(X, to_type="numpy3D", as_scitype="Panel"))
    except Exception as error:  # sktime raises several types for frames it cannot read
        raise ValueError(
            "X is a pandas frame that is neither a wide frame (rows = series, columns = time "
            "points), an sktime nested frame nor an sktime (instance, time) multi-index frame of "
            f"equal-length series; sktime could not convert it: {error}") from error


def _sequence_to_array(X):
    """Lists of equal-length series (or of (channels, length) arrays) -> numpy array."""
    items = [np.asarray(item) for item in X]
    shapes = {item.shape for item in items}
    if len(shapes) > 1:
        raise ValueError(
            f"all series in X must have the same shape; got shapes {sorted(shapes)[:5]}. "
            "Pad or resample them to one length first (e.g. bandts.datasets.load_ucr pads).")
    return np.asarray(items) if items else np.asarray(X)


def validate_X(estimator, X, *, reset: bool, spatial_dims: int) -> np.ndarray:
    """Validate ``X`` and return it as a float32 array (n, C, *S), S = (L,) or (H, W).

    With ``reset=True`` (fit) sets ``n_features_in_`` (values per channel: the series length, or
    H*W for images), ``n_channels_``, ``spatial_shape_`` and, for frames with string column
    names, ``feature_names_in_``. With ``reset=False`` checks X against them.

    Raises:
        ValueError: wrong number of dimensions, NaN or inf, empty input, unequal series lengths,
            or a channel / length mismatch with the data seen in fit.
        TypeError: sparse matrices (band-limited convolutions need dense series).
    """
    if _is_sktime_panel_frame(X):
        X = _panel_frame_to_numpy3d(X)
    elif isinstance(X, (list, tuple)) or _is_array_of_series(X):
        X = _sequence_to_array(X)
    ndim = getattr(X, "ndim", None) if not isinstance(X, pd.DataFrame) else 2
    name = type(estimator).__name__
    if spatial_dims == 1 and ndim is not None and ndim <= 2:
        # (n, length): sklearn's own validation, so feature names and messages match sklearn.
        X = validate_data(estimator, X, reset=reset, dtype=(np.float64, np.float32),
                          ensure_min_samples=1)
        X = X[:, np.newaxis, :]
    else:
        X = check_array(X, allow_nd=True, dtype=(np.float64, np.float32), estimator=estimator,
                        ensure_min_samples=1, ensure_2d=False)
        if X.ndim == 1:  # only a 1D array reaches here for images
            raise ValueError(f"{name} with spatial_dims=2 needs images shaped (n, H, W) or "
                             f"(n, C, H, W); got a 1D array of shape {X.shape}")
        expected = (spatial_dims + 1, spatial_dims + 2)
        if X.ndim not in expected:
            shapes = "(n, length) or (n, channels, length)" if spatial_dims == 1 else \
                "(n, H, W) or (n, C, H, W)"
            raise ValueError(f"{name} with spatial_dims={spatial_dims} needs X shaped {shapes}; "
                             f"got a {X.ndim}D array of shape {X.shape}")
        if X.ndim == spatial_dims + 1:
            X = X[:, np.newaxis]
        if min(X.shape[1:]) == 0:
            raise ValueError(f"X of shape {X.shape} has no values per sample; {name} needs at "
                             "least one channel and one time point / pixel")
        if reset:
            estimator.n_features_in_ = int(np.prod(X.shape[2:]))
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
    if reset:
        estimator.n_channels_ = int(X.shape[1])
        estimator.spatial_shape_ = tuple(int(s) for s in X.shape[2:])
    else:
        _check_matches_fit(estimator, X)
    return _as_float32(X, name)


def _is_array_of_series(X) -> bool:
    """An object ndarray whose items are series (e.g. ``np.array(list_of_series, dtype=object)``
    for series of different lengths), which numpy cannot cast to numbers."""
    return (isinstance(X, np.ndarray) and X.dtype == object and X.size > 0
            and isinstance(X.flat[0], (np.ndarray, list, tuple, pd.Series)))


def _as_float32(X: np.ndarray, name: str) -> np.ndarray:
    """X as a contiguous float32 array; ValueError if a value is beyond float32's range.

    The checks before run in float64, where 1e39 is finite; in float32 it would be inf and
    training would run on NaN losses to a constant prediction.
    """
    with np.errstate(over="ignore"):
        converted = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(converted).all():
        largest = float(np.max(np.abs(X)))
        raise ValueError(
            f"X has values beyond float32's range (largest magnitude {largest:.3g} > "
            f"{float(np.finfo(np.float32).max):.3g}); {name} computes in float32: rescale X, "
            "e.g. z-normalise each series (bandts.datasets.load_ucr does by default)")
    return converted


def _check_matches_fit(estimator, X: np.ndarray) -> None:
    name = type(estimator).__name__
    if X.shape[1] != estimator.n_channels_:
        raise ValueError(f"X has {X.shape[1]} channels, but {name} was fitted on "
                         f"{estimator.n_channels_} channels")
    spatial = tuple(X.shape[2:])
    if spatial != estimator.spatial_shape_:
        what = "series of length" if len(spatial) == 1 else "images of size"
        fitted = estimator.spatial_shape_[0] if len(spatial) == 1 else estimator.spatial_shape_
        got = spatial[0] if len(spatial) == 1 else spatial
        raise ValueError(f"X has {what} {got}, but {name} was fitted on {what} {fitted}; "
                         "resample or pad the series to the training length")


def validate_y(estimator, y, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (classes_, y as class indices int64) for 1D labels of any hashable type.

    Raises:
        ValueError: y missing, continuous or multi-output, wrong length, or fewer than 2 classes.
    """
    name = type(estimator).__name__
    if y is None:
        raise ValueError(f"This {name} estimator requires y to be passed, but the target y is "
                         "None.")
    y = column_or_1d(y, warn=True)
    if len(y) != n_samples:
        raise ValueError(f"X and y have inconsistent numbers of samples: {n_samples} and {len(y)}")
    try:
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
    except TypeError as error:  # e.g. ints mixed with strings cannot be sorted
        kinds = sorted({type(v).__name__ for v in y})
        raise ValueError(f"y mixes label types that cannot be ordered ({', '.join(kinds)}); "
                         "use labels of one type, e.g. all strings") from error
    if len(classes) < 2:
        raise ValueError(f"{name} needs samples of at least 2 classes in y; got only one class "
                         f"({classes[0]!r})")
    return classes, y_index.astype(np.int64)
