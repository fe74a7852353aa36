"""BandLimitedFCN: pickle round-trips and the code-free save/load format."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from bandts.classification import BandLimitedFCN
from bandts.nn import bandlimited_layers

FAST = dict(filters=(4, 8, 4), n_epochs=3, learning_rate=0.01, random_state=0)



@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(30, 2, 24)
    y = np.array(["low", "mid", "high"])[np.arange(30) % 3]
    X[y == "high"] += np.sin(np.linspace(0, 12, 24))
    return X, y


def fitted_estimators(X, y):
    yield BandLimitedFCN(compress_rate=0.5, **FAST).fit(X, y)
    yield BandLimitedFCN(conv="direct", **FAST).fit(X, y)
    yield BandLimitedFCN(preserve_energy=0.8, energy_scope="frozen", **FAST).fit(X, y)


def test_pickle_round_trip(data):
    X, y = data
    for est in fitted_estimators(X, y):
        copy = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))
        assert copy.get_params() == est.get_params() and copy.history_ == est.history_


def test_save_load_round_trip(tmp_path, data):
    X, y = data
    for i, est in enumerate(fitted_estimators(X, y)):
        path = tmp_path / f"model{i}.pt"
        est.save(path)
        loaded = BandLimitedFCN.load(path)
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
        np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
        assert loaded.get_params() == est.get_params()
        assert loaded.classes_.dtype == est.classes_.dtype
        assert list(loaded.classes_) == list(est.classes_)
        for name in ("n_features_in_", "n_channels_", "spatial_shape_", "n_epochs_", "history_",
                     "saved_bytes_"):
            assert getattr(loaded, name) == getattr(est, name), name
        cuts = [layer.frozen_cut for _, layer in bandlimited_layers(loaded.model_)]
        assert cuts == [layer.frozen_cut for _, layer in bandlimited_layers(est.model_)]
    # the frozen estimator really carried calibrated cuts through the file
    assert all(cut is not None for cut in cuts) and cuts


def test_saved_file_loads_with_weights_only_and_refuses_code(tmp_path, data):
    X, y = data
    est = BandLimitedFCN(**FAST).fit(X, y)
    path = tmp_path / "model.pt"
    est.save(path)
    payload = torch.load(path, weights_only=True)  # plain tensors, strings and containers
    assert set(payload) == {"meta", "state_dict"}
    # a file smuggling in an arbitrary object is refused, not executed
    evil = tmp_path / "evil.pt"
    payload["state_dict"]["blocks.0.conv.weight"] = Exploit()
    torch.save(payload, evil)
    with pytest.raises(pickle.UnpicklingError):
        BandLimitedFCN.load(evil)
    assert not Exploit.ran


class Exploit:
    ran = False

    def __reduce__(self):
        return (setattr, (Exploit, "ran", True))


def test_non_json_parameters_are_stored_as_none_with_a_warning(tmp_path, data):
    X, y = data
    est = BandLimitedFCN(**{**FAST, "random_state": np.random.RandomState(0)}).fit(X, y)
    with pytest.warns(UserWarning, match="random_state=RandomState.* as None"):
        est.save(tmp_path / "model.pt")
    loaded = BandLimitedFCN.load(tmp_path / "model.pt")
    assert loaded.random_state is None
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_save_and_load_errors(tmp_path):
    with pytest.raises(NotFittedError):
        BandLimitedFCN().save(tmp_path / "x.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a file written by bandts"):
        BandLimitedFCN.load(tmp_path / "other.pt")
