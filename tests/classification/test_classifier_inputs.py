"""BandLimitedFCN inputs: formats, labels and scikit-learn style errors."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from bandts.classification import BandLimitedFCN

FAST = dict(filters=(4, 4, 4), n_epochs=3, learning_rate=0.01, random_state=0)



def make_panel(n=20, channels=2, length=16, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(n, channels, length), np.arange(n) % 2


def nested_frame(X):
    return pd.DataFrame({f"dim_{c}": [pd.Series(X[i, c]) for i in range(len(X))]
                         for c in range(X.shape[1])})


def multiindex_frame(X):
    n, channels, length = X.shape
    index = pd.MultiIndex.from_product([range(n), range(length)], names=["instance", "time"])
    return pd.DataFrame({f"dim_{c}": X[:, c, :].reshape(-1) for c in range(channels)}, index=index)


def test_every_series_format_gives_the_same_model_and_predictions():
    X, y = make_panel()
    reference = BandLimitedFCN(**FAST).fit(X, y).predict_proba(X)
    formats = {
        "nested": nested_frame(X),
        "multiindex": multiindex_frame(X),
        "list of 2D arrays": [x for x in X],
        "float32": X.astype(np.float32),
    }
    for name, data in formats.items():
        est = BandLimitedFCN(**FAST).fit(data, y)
        assert (est.n_channels_, est.n_features_in_, est.spatial_shape_) == (2, 16, (16,)), name
        np.testing.assert_allclose(est.predict_proba(data), reference, atol=1e-6, err_msg=name)


def test_univariate_2d_wide_frame_and_lists_are_one_channel():
    X, y = make_panel(channels=1)
    reference = BandLimitedFCN(**FAST).fit(X, y).predict_proba(X)
    frame = pd.DataFrame(X[:, 0], columns=[f"t{i}" for i in range(16)])
    for data in (X[:, 0], frame, X[:, 0].tolist(), [pd.Series(row) for row in X[:, 0]]):
        est = BandLimitedFCN(**FAST).fit(data, y)
        assert (est.n_channels_, est.n_features_in_) == (1, 16)
        np.testing.assert_allclose(est.predict_proba(data), reference, atol=1e-6)
    est = BandLimitedFCN(**FAST).fit(frame, y)
    assert list(est.feature_names_in_) == list(frame.columns)
    # 3D (n, 1, L) and 2D (n, L) are the same univariate data
    np.testing.assert_allclose(est.predict_proba(X), reference, atol=1e-6)


@pytest.mark.parametrize("shape,channels", [((12, 9, 10), 1), ((12, 3, 9, 10), 3)])
def test_images(shape, channels):
    rng = np.random.RandomState(0)
    X, y = rng.randn(*shape), np.arange(12) % 3
    est = BandLimitedFCN(spatial_dims=2, **FAST).fit(X, y)
    assert (est.n_channels_, est.spatial_shape_, est.n_features_in_) == (channels, (9, 10), 90)
    assert est.predict_proba(X).shape == (12, 3)
    assert set(est.kept_bins()) == {"blocks.0.conv", "blocks.1.conv", "blocks.2.conv"}
    with pytest.raises(ValueError, match=r"images of size \(9, 11\)"):
        est.predict(rng.randn(2, channels, 9, 11))


@pytest.mark.parametrize("labels", [
    np.array(["cat", "dog", "emu"]),
    np.array([3, -7, 12]),
    np.array([1.0, 2.0, 0.0]),  # non-integral floats are "continuous" to scikit-learn
    np.array(["ant", "bee"], dtype=object),
    np.array([True, False, True]),
])
def test_labels_of_any_hashable_type_come_back(labels):
    X, _ = make_panel(n=21)
    y = labels[np.arange(21) % len(labels)]
    est = BandLimitedFCN(**FAST).fit(X, y)
    assert list(est.classes_) == sorted(set(y.tolist()), key=lambda v: list(est.classes_).index(v))
    pred = est.predict(X)
    assert pred.dtype == est.classes_.dtype and set(pred.tolist()) <= set(y.tolist())
    assert est.predict_proba(X).shape == (21, len(est.classes_))
    assert est.score(X, y) == np.mean(pred == y)


def test_predict_proba_columns_follow_classes():
    X, y = make_panel(n=30)
    est = BandLimitedFCN(**FAST).fit(X, np.where(y == 1, "b", "a"))
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(est.predict(X), est.classes_[proba.argmax(axis=1)])


@pytest.mark.parametrize("mutate,match", [
    (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), y), "NaN"),
    (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 5, np.inf, X), y), "infinity"),
    (lambda X, y: (X[:, 0, 0], y), "Expected 2D array"),
    (lambda X, y: (X[:, :, :, None, None], y), "needs X shaped"),
    (lambda X, y: (X, np.zeros(len(y))), "at least 2 classes"),
    (lambda X, y: (X, np.linspace(0, 1, len(y))), "Unknown label type"),
    (lambda X, y: (X, y[:-1]), "inconsistent numbers of samples"),
    (lambda X, y: (X, None), "requires y"),
    (lambda X, y: (X, np.array(["a", 7] * (len(y) // 2), dtype=object)), "mixes label types"),
    (lambda X, y: (X[:0], y[:0]), "0 sample"),
    (lambda X, y: (X[:, :, :0], y), "no values per sample"),
    (lambda X, y: ([X[0, 0], X[1, 0, :5]], y[:2]), "same shape"),
    (lambda X, y: (np.array([X[0, 0], X[1, 0, :5]], dtype=object), y[:2]),
     r"same shape; got shapes \[\(5,\), \(16,\)\]"),
    (lambda X, y: (X * 1e38, y), r"loss was not finite in any epoch \(epoch 1: nan\); the "
     r"largest input magnitude is [0-9.]+e\+38"),
    (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 7, 1e39, X), y),
     r"beyond float32's range \(largest magnitude 1e\+39"),
])
def test_bad_training_input(mutate, match):
    X, y = make_panel()
    X_bad, y_bad = mutate(X, y)
    with pytest.raises(ValueError, match=match):
        BandLimitedFCN(**FAST).fit(X_bad, y_bad)


def test_predictions_from_overflowing_outputs_are_an_error_not_the_first_class():
    X, y = make_panel()
    est = BandLimitedFCN(**FAST).fit(X, y)
    huge = X.copy()
    huge[3] *= 1e38
    with pytest.raises(ValueError, match=r"outputs are not finite for 1 sample\(s\) \(the first: "
                                         r"3; largest input magnitude [0-9.]+e\+38\)"):
        est.predict(huge)


def test_values_at_the_edge_of_float32_are_accepted_and_kept():
    X, y = make_panel()
    X[0, 0, 0] = float(np.finfo(np.float32).max)
    est = BandLimitedFCN(**FAST)
    from bandts.classification.inputs import validate_X

    assert validate_X(est, X, reset=True, spatial_dims=1)[0, 0, 0] == np.finfo(np.float32).max


def test_an_object_array_of_equal_length_series_is_read_like_a_list():
    X, y = make_panel(channels=1)
    as_objects = np.empty(len(X), dtype=object)
    as_objects[:] = [X[i, 0] for i in range(len(X))]
    a = BandLimitedFCN(**FAST).fit(as_objects, y)
    b = BandLimitedFCN(**FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(as_objects), b.predict_proba(X))


def test_sparse_input_is_refused():
    from scipy import sparse

    with pytest.raises(TypeError, match="[Ss]parse"):
        BandLimitedFCN(**FAST).fit(sparse.random(10, 8, density=0.5, format="csr"),
                                   np.arange(10) % 2)


def test_bad_prediction_input():
    X, y = make_panel()
    est = BandLimitedFCN(**FAST)
    with pytest.raises(NotFittedError):
        est.predict(X)
    est.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 channels, but BandLimitedFCN was fitted on 2"):
        est.predict(np.zeros((2, 3, 16)))
    with pytest.raises(ValueError, match="X has series of length 15, but .* length 16"):
        est.predict(np.zeros((2, 2, 15)))
    with pytest.raises(ValueError, match="NaN"):
        est.predict(np.full((2, 2, 16), np.nan))
    with pytest.raises(ValueError, match="0 sample"):
        est.predict(np.zeros((0, 2, 16)))
    univariate = BandLimitedFCN(**FAST).fit(X[:, 0], y)
    with pytest.raises(ValueError, match="X has 15 features, but BandLimitedFCN is expecting 16"):
        univariate.predict(X[:, 0, :15])


@pytest.mark.parametrize("params,match", [
    ({"compress_rate": 1.0}, "compress_rate"),
    ({"compress_rate": 0.5, "preserve_energy": 0.9}, "not both"),
    ({"preserve_energy": 0.0}, "preserve_energy"),
    ({"energy_scope": "global"}, "energy_scope"),
    ({"inference_compress_rate": -0.1}, "inference_compress_rate"),
    ({"inference_preserve_energy": np.float32(1.5)}, "inference_preserve_energy"),
    ({"compress_rate": 0.5, "inference_preserve_energy": 0.9}, "not both"),
    ({"conv": "winograd"}, "conv"),
    ({"fft_size": "huge"}, "fft_size"),
    ({"backend": "opencl"}, "backend"),
    ({"spatial_dims": 3}, "spatial_dims"),
    ({"filters": (4, 4)}, "same length"),
    ({"kernel_sizes": (8, 0, 3)}, "kernel_sizes"),
    ({"n_epochs": 0}, "n_epochs"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"recipe": "adamw"}, "recipe"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"device": "tpu"}, "device must be"),
    ({"compile_mode": "fast"}, "compile_mode"),
])
def test_bad_parameters_are_reported_at_fit(params, match):
    est = BandLimitedFCN(**{**FAST, **params})  # stored untouched, no error yet
    assert all(getattr(est, k) is v for k, v in params.items())
    X, y = make_panel()
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error():
    X, y = make_panel()
    with pytest.raises(ValueError, match="no CUDA device.*device='cpu'"):
        BandLimitedFCN(device="cuda", **FAST).fit(X, y)


def test_spatial_dims_2_refuses_series_shaped_input():
    X, y = make_panel()
    with pytest.raises(ValueError, match=r"\(n, H, W\) or \(n, C, H, W\)"):
        BandLimitedFCN(spatial_dims=2, **FAST).fit(X[:, 0], y)


def test_numpy_band_values_work_at_fit_and_predict():
    from sklearn.model_selection import GridSearchCV

    X, y = make_panel()
    est = BandLimitedFCN(compress_rate=np.float32(0.5), inference_compress_rate=np.float32(0.25),
                         **FAST).fit(X, y)
    assert est.predict(X).shape == (20,)
    reference = BandLimitedFCN(compress_rate=0.5, inference_compress_rate=0.25, **FAST).fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), reference.predict_proba(X))
    search = GridSearchCV(BandLimitedFCN(**FAST), {"compress_rate": np.array([0.0, 0.5])}, cv=2)
    assert search.fit(X, y).best_params_["compress_rate"] in (0.0, 0.5)
