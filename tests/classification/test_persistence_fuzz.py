"""Fuzzing BandLimitedFCN.load: random and mutated model files either load into a working
estimator or raise ModelFileError naming the file, and never hang. The number of examples is set
by the hypothesis profile (see tests/fuzzing.py)."""

import functools
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from bandts.classification import BandLimitedFCN, ModelFileError
from fuzzing import mutated, no_hang

X = np.random.RandomState(0).randn(12, 2, 16)
Y = np.arange(12) % 3


@functools.lru_cache(maxsize=1)
def saved():
    """(file bytes, estimator) of a small fitted estimator (a function, not a fixture: hypothesis
    would print a fixture's bytes with every failing example)."""
    estimator = BandLimitedFCN(filters=(3, 4, 3), n_epochs=2, compress_rate=0.5, random_state=0,
                               device="cpu").fit(X, Y)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.pt"
        estimator.save(path)
        return path.read_bytes(), estimator


def load_or_refuse(data: bytes):
    """The estimator loaded from a file holding ``data`` (checked to predict), or None after
    checking that the ModelFileError names the file."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.pt"
        path.write_bytes(data)
        try:
            with no_hang():
                estimator = BandLimitedFCN.load(path)
        except ModelFileError as error:
            assert str(error).startswith(f"not a bandts model file: {path} (")
            assert "weights_only" not in str(error)
            return None
    try:
        proba = estimator.predict_proba(X)
    except ValueError as error:  # finite weights altered so far that float32 overflows
        assert "the network's outputs are not finite" in str(error)
        return estimator
    assert proba.shape == (len(X), len(estimator.classes_)) and np.isfinite(proba).all()
    return estimator


def test_the_unchanged_file_loads_and_predicts_the_same():
    data, estimator = saved()
    np.testing.assert_array_equal(load_or_refuse(data).predict_proba(X), estimator.predict_proba(X))


@given(st.data())
def test_mutated_model_files_load_or_raise_naming_the_file(data):
    load_or_refuse(data.draw(mutated(saved()[0])))


@given(st.binary(max_size=2000))
def test_random_bytes_raise_naming_the_file(data):
    assert load_or_refuse(data) is None


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats()
                    | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)
TENSORS = st.builds(lambda shape, value: torch.full(shape, value),
                    st.lists(st.integers(0, 5), max_size=3).map(tuple),
                    st.floats(allow_nan=True, width=32))


@given(st.data())
def test_files_with_altered_contents_load_or_raise_naming_the_file(data):
    """torch.save-valid files whose metadata or weights were changed: the checks of the
    contents, not of the bytes, are what is fuzzed here."""
    with tempfile.TemporaryDirectory() as directory:
        original = Path(directory) / "original.pt"
        original.write_bytes(saved()[0])
        payload = torch.load(original, weights_only=True)
    meta = json.loads(payload["meta"])
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(["meta", "params", "state"]))
        if target == "meta":
            meta[data.draw(st.sampled_from(sorted(meta)))] = data.draw(JSON)
        elif target == "params" and isinstance(meta.get("params"), dict):
            meta["params"][data.draw(st.sampled_from(sorted(meta["params"]) or ["x"]))] = \
                data.draw(JSON)
        else:
            name = data.draw(st.sampled_from(sorted(payload["state_dict"])))
            payload["state_dict"][name] = data.draw(TENSORS | JSON)
    payload["meta"] = json.dumps(meta)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "altered.pt"
        torch.save(payload, path)
        load_or_refuse(path.read_bytes())
