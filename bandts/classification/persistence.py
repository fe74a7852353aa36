"""Saving and loading fitted bandts estimators without pickle.

One file written by ``torch.save``: a dict with ``"meta"`` (a JSON string: format, class name,
parameters, fitted attributes) and ``"state_dict"`` (the network's tensors, plus the frozen cuts
the band-limited layers keep as extra state). Loading uses ``torch.load(weights_only=True)``,
which only rebuilds tensors and plain containers, so a file cannot execute code.

A file that cannot be read as one (empty, truncated, random bytes, another program's file,
contents that contradict each other) raises :class:`ModelFileError`.
"""

import json
import os
import pickle
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from bandts.nn import bandlimited_layers

FORMAT = "bandts.fcn"
FORMAT_VERSION = 1
_TUPLE_PARAMS = ("filters", "kernel_sizes")
_JSON_SCALARS = (str, int, float, bool, type(None))
_META_KEYS = ("format", "format_version", "class", "params", "classes", "n_features_in",
              "n_channels", "spatial_shape", "feature_names_in", "n_epochs", "history",
              "saved_bytes")


class ModelFileError(ValueError):
    """A file is not a readable bandts model file.

    ``path`` is the file and ``reason`` what is wrong with it; the message is
    ``"not a bandts model file: <path> (<reason>)"``.
    """

    def __init__(self, path, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"not a bandts model file: {path} ({reason})")

    def __reduce__(self):
        return type(self), (self.path, self.reason)


def _labels_to_json(classes: np.ndarray) -> dict:
    # scikit-learn's target checks admit only str, int, float and bool labels: all JSON values.
    return {"values": classes.tolist(),
            "dtype": classes.dtype.str if classes.dtype != object else "object"}


def _params_to_json(params: dict) -> dict:
    out = {}
    for name, value in params.items():
        if isinstance(value, (tuple, list)):
            value = [int(v) for v in value]
        elif isinstance(value, np.generic):
            value = value.item()
        elif not isinstance(value, _JSON_SCALARS):
            warnings.warn(f"save stores {name}={value!r} as None: only JSON values are stored "
                          "(it only matters for refitting)", UserWarning, stacklevel=3)
            value = None
        out[name] = value
    return out


def save(estimator, path) -> None:
    """Write a fitted estimator to ``path``.

    Raises:
        NotFittedError: the estimator is not fitted.
    """
    check_is_fitted(estimator)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "params": _params_to_json(estimator.get_params()),
        "classes": _labels_to_json(estimator.classes_),
        "n_features_in": int(estimator.n_features_in_),
        "n_channels": int(estimator.n_channels_),
        "spatial_shape": list(estimator.spatial_shape_),
        "feature_names_in": (estimator.feature_names_in_.tolist()
                             if hasattr(estimator, "feature_names_in_") else None),
        "n_epochs": int(estimator.n_epochs_),
        "history": estimator.history_,
        "saved_bytes": estimator.saved_bytes_,
    }
    state = {name: value.detach().cpu() if torch.is_tensor(value) else value
             for name, value in estimator.model_.state_dict().items()}
    torch.save({"meta": json.dumps(meta), "state_dict": state}, path)


def load(cls, path):
    """Read an estimator of class ``cls`` written by :func:`save`.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        ModelFileError: the file is not a bandts model file (empty, damaged, another format),
            was written by another format version, holds another class, or its contents
            contradict each other (metadata, parameters, weights).
    """
    payload = _read_payload(path)
    try:
        meta = json.loads(payload["meta"])
    except (TypeError, ValueError):
        raise ModelFileError(path, "its metadata is not JSON text") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(path, "it has no bandts metadata")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(path, f"format version {meta.get('format_version')!r}; this bandts "
                                   f"reads version {FORMAT_VERSION}")
    missing = [key for key in _META_KEYS if key not in meta]
    if missing:
        raise ModelFileError(path, f"its metadata lacks {missing}")
    if meta["class"] != cls.__name__:
        raise ModelFileError(path, f"it holds a {meta['class']}, not a {cls.__name__}")
    problem = _meta_problem(meta)
    if problem:
        raise ModelFileError(path, f"inconsistent metadata: {problem}")
    try:
        return _estimator_from(cls, meta, payload["state_dict"], path)
    except ModelFileError:
        raise
    except Exception as error:  # noqa: BLE001 - any inconsistency of a file's contents
        raise ModelFileError(path, f"inconsistent contents: {_first_line(error)}") from error


def _read_payload(path) -> dict:
    """The dict ``torch.load`` reads from ``path``; ModelFileError if it cannot be one of ours."""
    if isinstance(path, (str, os.PathLike)) and os.path.isfile(path) and not os.path.getsize(path):
        raise ModelFileError(path, "the file is empty")
    try:
        with warnings.catch_warnings():
            # A damaged file can look like a pickle of another protocol; the error says enough.
            warnings.filterwarnings("ignore", message="Detected pickle protocol",
                                    category=UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except pickle.UnpicklingError:
        # torch's own message suggests weights_only=False, which would run code from the file.
        raise ModelFileError(path, "not written by torch.save, or holding more than tensors and "
                                   "plain values") from None
    except Exception as error:  # noqa: BLE001 - torch raises many types for damaged files
        raise ModelFileError(path, f"damaged or truncated: {_first_line(error)}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("meta"), str) or \
            not isinstance(payload.get("state_dict"), dict):
        raise ModelFileError(path, "not a file written by bandts' save()")
    return payload


def _is_count(value, low: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _meta_problem(meta: dict) -> str:
    """What is wrong with the fitted attributes recorded in ``meta`` ("" if nothing): what
    :func:`save` writes always passes; anything else could load and fail later in predict."""
    if not isinstance(meta["params"], dict):
        return "params is not a mapping"
    labels = meta["classes"]
    if not (isinstance(labels, dict) and isinstance(labels.get("values"), list)
            and isinstance(labels.get("dtype"), str) and len(labels["values"]) >= 2
            and all(isinstance(v, (str, int, float, bool)) for v in labels["values"])):
        return "classes must hold at least 2 labels and their dtype"
    shape = meta["spatial_shape"]
    spatial_dims = meta["params"].get("spatial_dims", 1)
    if not (isinstance(shape, list) and all(_is_count(size) for size in shape)
            and len(shape) == spatial_dims):
        return f"spatial_shape {shape!r} is not {spatial_dims} positive size(s)"
    if meta["n_features_in"] != int(np.prod(shape)) or not _is_count(meta["n_channels"]):
        return (f"n_features_in {meta['n_features_in']!r} and n_channels {meta['n_channels']!r} "
                f"do not fit spatial_shape {shape}")
    names = meta["feature_names_in"]
    if names is not None and not (isinstance(names, list) and len(names) == meta["n_features_in"]
                                  and all(isinstance(name, str) for name in names)):
        return "feature_names_in is not one name per feature"
    if not (_is_count(meta["n_epochs"], 0) and isinstance(meta["history"], list)
            and isinstance(meta["saved_bytes"], dict)):
        return "n_epochs, history or saved_bytes has the wrong type"
    return ""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _estimator_from(cls, meta: dict, state: dict, path):
    params = {name: tuple(value) if name in _TUPLE_PARAMS and value is not None else value
              for name, value in meta["params"].items()}
    estimator = cls(**params)
    estimator._check_params()
    labels = meta["classes"]
    estimator.classes_ = np.array(labels["values"], dtype=object if labels["dtype"] == "object"
                                  else np.dtype(labels["dtype"]))
    estimator.n_features_in_ = meta["n_features_in"]
    estimator.n_channels_ = meta["n_channels"]
    estimator.spatial_shape_ = tuple(meta["spatial_shape"])
    if meta["feature_names_in"] is not None:
        estimator.feature_names_in_ = np.array(meta["feature_names_in"], dtype=object)
    estimator.n_epochs_ = meta["n_epochs"]
    estimator.history_ = meta["history"]
    estimator.saved_bytes_ = meta["saved_bytes"]
    n_classes = len(estimator.classes_)
    # Compare shapes on a network without memory first: parameters altered in the file could
    # otherwise ask for a network of any size.
    with torch.device("meta"):
        skeleton = estimator._build_model(estimator.n_channels_, n_classes)
    _check_state(skeleton.state_dict(), state, path,
                 [name for name, _ in bandlimited_layers(skeleton)])
    model = estimator._build_model(estimator.n_channels_, n_classes)
    model.load_state_dict(state)
    estimator.model_ = model.eval()
    return estimator


def _is_cut(value) -> bool:
    """Whether a layer state value is a calibrated cut: a number (or 0-d tensor) in (0, 1]."""
    if torch.is_tensor(value):
        if value.dim() != 0 or not value.is_floating_point():
            return False
        value = float(value)
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0.0 < value <= 1.0)


def _check_state(expected: dict, found: dict, path, band_limited: list) -> None:
    """ModelFileError unless ``found`` (the file's state dict) has the entries of ``expected``
    (a network built from the file's parameters), with tensors of their shapes holding finite
    values, and, for the band-limited layers, calibrated cuts in (0, 1] ("frozen_cut" entries,
    or the "_extra_state" dicts of bandts 0.1 files)."""
    found = dict(found)
    for layer in band_limited:
        cut = found.pop(f"{layer}.frozen_cut", None)
        legacy = found.pop(f"{layer}._extra_state", None)
        if legacy is not None:
            if not (isinstance(legacy, dict) and set(legacy) == {"frozen_cut"}):
                raise ModelFileError(path, f"its layer state {layer}._extra_state is "
                                           f"{legacy!r}, expected {{'frozen_cut': ...}}")
            cut = legacy["frozen_cut"] if cut is None else cut
        if cut is not None and not _is_cut(cut):
            raise ModelFileError(path, f"its calibrated cut of {layer} is {cut!r}, expected a "
                                       "fraction in (0, 1]")
    if set(expected) != set(found):
        difference = sorted(set(expected) ^ set(found))
        raise ModelFileError(path, f"its weights do not match its parameters ({difference[:3]} "
                                   "in one but not the other)")
    for name, tensor in expected.items():
        if torch.is_tensor(tensor) and (not torch.is_tensor(found[name])
                                        or found[name].shape != tensor.shape):
            got = tuple(found[name].shape) if torch.is_tensor(found[name]) else type(found[name])
            raise ModelFileError(path, f"its weights do not match its parameters ({name}: "
                                       f"{got} in the file, {tuple(tensor.shape)} expected)")
        if torch.is_tensor(tensor) and found[name].is_floating_point() and \
                not torch.isfinite(found[name]).all():  # save() never writes these
            raise ModelFileError(path, f"its weights hold NaN or infinity ({name})")
