"""BandLimitedFCN(compile_mode=...): compiled training steps, eager results, plain fitted model."""

import gc
import json
import pickle
import weakref

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch._dynamo.utils import counters

from bandts.classification import BandLimitedFCN
from bandts.classification.training import own_code
from bandts.models import FCN
from bandts.sktime import BandLimitedFCNClassifier

# The smallest network: compilation on a CPU costs seconds per graph. 20 samples in batches of
# 8 leave a last batch of 4, a second shape. Adam's default learning rate (see the tolerance).
TINY = dict(filters=(2, 2, 2), kernel_sizes=(3, 3, 3), n_epochs=2, batch_size=8, random_state=0)
# Compiled kernels sum in other orders: the same step up to float32 rounding. Adam turns the
# rounding noise of the conv biases' gradients (zero in exact arithmetic, BatchNorm follows)
# into steps of up to the learning rate, 1e-3; those reach predictions only through
# BatchNorm's running means. Observed: 2e-5; another random_state differs by 0.08.
ATOL = 1e-3


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(20, 1, 24).astype("float32")
    y = np.array(["a", "b"])[np.arange(20) % 2]
    X[y == "b"] += np.sin(np.linspace(0, 6, 24)).astype("float32")
    return X, y


@pytest.fixture(scope="module")
def eager(data):
    return BandLimitedFCN(compress_rate=0.5, **TINY).fit(*data)


@pytest.fixture(scope="module", params=["default", "reduce-overhead"])
def compiled(request, data):
    """(mode, fitted estimator, graphs compiled, graph breaks) for each mode tested."""
    graphs, breaks = counters["stats"]["unique_graphs"], sum(counters["graph_break"].values())
    est = BandLimitedFCN(compress_rate=0.5, compile_mode=request.param, **TINY).fit(*data)
    return (request.param, est, counters["stats"]["unique_graphs"] - graphs,
            sum(counters["graph_break"].values()) - breaks)


def test_compiled_training_gives_the_eager_model(compiled, eager, data):
    mode, est, graphs, breaks = compiled
    X, _ = data
    # one graph per batch shape (8, and 4 for the last batch: trained on, not dropped), whole
    assert (graphs, breaks) == (2, 0), mode
    np.testing.assert_allclose(est.predict_proba(X), eager.predict_proba(X), atol=ATOL)
    np.testing.assert_array_equal(est.predict(X), eager.predict(X))
    # every sample counts in the epoch losses; the first step, eager, measures the memory
    np.testing.assert_allclose([h["loss"] for h in est.history_],
                               [h["loss"] for h in eager.history_], rtol=1e-5)
    assert est.saved_bytes_ == eager.saved_bytes_
    assert [h["kept_bins"] for h in est.history_] == [h["kept_bins"] for h in eager.history_]


def test_fitted_model_is_the_plain_network_and_persists(compiled, data, tmp_path):
    mode, est, _, _ = compiled
    X, _ = data
    assert type(est.model_) is FCN  # nothing compiled is kept
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))
    assert copy.compile_mode == mode
    assert clone(est).get_params() == est.get_params()
    path = tmp_path / "model.pt"
    est.save(path)
    loaded = BandLimitedFCN.load(path)
    assert loaded.compile_mode == mode
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_files_saved_before_compile_mode_load_eager(eager, tmp_path):
    path = tmp_path / "old.pt"
    eager.save(path)
    payload = torch.load(path, weights_only=True)
    meta = json.loads(payload["meta"])
    del meta["params"]["compile_mode"]
    payload["meta"] = json.dumps(meta)
    torch.save(payload, path)
    assert BandLimitedFCN.load(path).compile_mode is None


def test_energy_cuts_compile_into_whole_graphs(data):
    X, y = data
    energy = dict(preserve_energy=0.9, **TINY)
    graphs, breaks = counters["stats"]["unique_graphs"], sum(counters["graph_break"].values())
    est = BandLimitedFCN(compile_mode="default", **energy).fit(X, y)
    assert counters["stats"]["unique_graphs"] - graphs == 2
    assert sum(counters["graph_break"].values()) == breaks
    reference = BandLimitedFCN(**energy).fit(X, y)
    np.testing.assert_allclose(est.predict_proba(X), reference.predict_proba(X), atol=ATOL)
    # compiled code does not report an energy cut's bins: the history leaves them out
    assert all(h["kept_bins"] == {} for h in est.history_)
    assert all(h["kept_bins"] for h in reference.history_)
    # the flag energy cuts compile with is set around each step only
    assert not torch._dynamo.config.capture_dynamic_output_shape_ops
    # the compiled step keeps nothing alive (a grid search fits many networks)
    model = weakref.ref(est.model_)
    del est
    gc.collect()
    assert model() is None


@pytest.mark.parametrize("kind", [BandLimitedFCN, BandLimitedFCNClassifier])
@pytest.mark.parametrize("mode", ["fast", True, "eager"])
def test_unknown_compile_mode_is_an_error_at_fit(kind, mode, data):
    with pytest.raises(ValueError, match="compile_mode must be one of .*None.*'reduce-overhead'"):
        kind(compile_mode=mode, **TINY).fit(*data)


def test_each_compiled_loss_has_its_own_code():
    # dynamo caches graphs per code object up to a limit, then silently runs eagerly
    def loss(a, b):
        return a + b

    copy = own_code(loss)
    assert copy.__code__ is not loss.__code__ and copy(1, 2) == loss(1, 2) == 3
