"""BandLimitedFCN: pickle round-trips and the code-free save/load format."""

import json
import pickle

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from bandts.classification import BandLimitedFCN, ModelFileError
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
    with pytest.raises(ModelFileError, match="holding more than tensors") as error:
        BandLimitedFCN.load(evil)
    assert "weights_only" not in str(error.value)  # torch's advice to run the file's code
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
    with pytest.raises(ModelFileError, match="other.pt \\(not a file written by bandts"):
        BandLimitedFCN.load(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        BandLimitedFCN.load(tmp_path / "absent.pt")


@pytest.fixture(scope="module")
def saved_bytes(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.pt"
    BandLimitedFCN(**FAST).fit(*data).save(path)
    return path.read_bytes()


def _changed_payload(path, change):
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


def _set_meta(key, value):
    def change(payload):
        meta = json.loads(payload["meta"])
        meta[key] = value
        payload["meta"] = json.dumps(meta)
    return change


def _drop_classes(payload):
    meta = json.loads(payload["meta"])
    del meta["classes"]
    payload["meta"] = json.dumps(meta)


def _bad_layer_state(payload):
    payload["state_dict"]["blocks.0.conv.frozen_cut"] = torch.tensor(1.5)


def _poison_weight(payload):
    payload["state_dict"]["head.bias"][0] = float("nan")


def _shrink_weight(payload):
    payload["state_dict"]["blocks.1.conv.weight"] = torch.zeros(2, 2, 2)


@pytest.mark.parametrize("damage, reason", [
    (lambda data, path: path.write_bytes(b""), "the file is empty"),
    (lambda data, path: path.write_bytes(data[: len(data) // 2]), "damaged or truncated"),
    (lambda data, path: path.write_bytes(bytes(range(256)) * 8),
     "not written by torch.save, or holding more than tensors"),
    (lambda data, path: path.write_bytes(b"\x80\x02}q\x00." + bytes(50)),
     "damaged or truncated: Invalid magic number"),
    (lambda data, path: _changed_payload(path, lambda p: p.update(meta="{")),
     "metadata is not JSON"),
    (lambda data, path: _changed_payload(path, _set_meta("format_version", 7)),
     "format version 7; this bandts reads version 1"),
    (lambda data, path: _changed_payload(path, _set_meta("class", "Other")),
     "holds a Other, not a BandLimitedFCN"),
    (lambda data, path: _changed_payload(path, _set_meta("n_channels", 10**9)),
     r"weights do not match its parameters \(blocks.0.conv.weight: \(4, 2, 8\) in the file"),
    (lambda data, path: _changed_payload(path, _bad_layer_state),
     r"its calibrated cut of blocks.0.conv is tensor\(1.5000\), expected a fraction in \(0, 1\]"),
    (lambda data, path: _changed_payload(path, _poison_weight),
     r"its weights hold NaN or infinity \(head.bias\)"),
    (lambda data, path: _changed_payload(path, _shrink_weight),
     r"blocks.1.conv.weight: \(2, 2, 2\) in the file, \(8, 4, 5\) expected"),
    (lambda data, path: _changed_payload(path, _set_meta("params", {"filters": [4, -1, 4]})),
     "inconsistent contents: filters must be a non-empty tuple of positive integers"),
    (lambda data, path: _changed_payload(path, _drop_classes), r"metadata lacks \['classes'\]"),
])
def test_damaged_model_files_are_named_with_the_reason(tmp_path, saved_bytes, damage, reason):
    path = tmp_path / "model.pt"
    path.write_bytes(saved_bytes)
    damage(saved_bytes, path)
    with pytest.raises(ModelFileError, match=reason) as error:
        BandLimitedFCN.load(path)
    assert str(error.value).startswith(f"not a bandts model file: {path} (")
    assert error.value.path == path


def test_a_bandts_0_1_file_with_extra_states_loads_with_its_cuts(data, tmp_path):
    # bandts 0.1 stored every band-limited layer's cut as {"frozen_cut": value or None} extra state.
    est = BandLimitedFCN(preserve_energy=0.8, energy_scope="frozen", **FAST).fit(*data)
    path = tmp_path / "old.pt"
    est.save(path)

    def to_extra_states(payload):
        state = payload["state_dict"]
        for name in [k for k in state if k.endswith(".frozen_cut")]:
            layer = name[:-len(".frozen_cut")]
            state[f"{layer}._extra_state"] = {"frozen_cut": float(state.pop(name))}
        assert any(k.endswith("._extra_state") for k in state)

    _changed_payload(path, to_extra_states)
    loaded = BandLimitedFCN.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(data[0]), est.predict_proba(data[0]))
