"""Saving and loading fitted bandts estimators without pickle.

One file written by ``torch.save``: a dict with ``"meta"`` (a JSON string: format, class name,
parameters, fitted attributes) and ``"state_dict"`` (the network's tensors, plus the frozen cuts
the band-limited layers keep as extra state). Loading uses ``torch.load(weights_only=True)``,
which only rebuilds tensors and plain containers, so a file cannot execute code.
"""

import json
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

FORMAT = "bandts.fcn"
FORMAT_VERSION = 1
_TUPLE_PARAMS = ("filters", "kernel_sizes")
_JSON_SCALARS = (str, int, float, bool, type(None))


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
        ValueError: the file is not a bandts estimator file, or holds another class.
    """
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "meta" not in payload or "state_dict" not in payload:
        raise ValueError(f"{path} is not a file written by bandts' save()")
    meta = json.loads(payload["meta"])
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format {meta.get('format')!r} version "
                         f"{meta.get('format_version')!r}; this bandts reads {FORMAT!r} "
                         f"version {FORMAT_VERSION}")
    if meta["class"] != cls.__name__:
        raise ValueError(f"{path} holds a {meta['class']}, not a {cls.__name__}")
    params = {name: tuple(value) if name in _TUPLE_PARAMS and value is not None else value
              for name, value in meta["params"].items()}
    estimator = cls(**params)
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
    model = estimator._build_model(estimator.n_channels_, len(estimator.classes_))
    model.load_state_dict(payload["state_dict"])
    estimator.model_ = model.eval()
    return estimator
