"""BandLimitedFCN training: determinism, recipes, history, early stopping, bands, memory report."""

import numpy as np
import pytest
import torch

from bandts.nn.memory import record_saved_bytes
from bandts.classification.training import RECIPES, Recipe, make_batches, mean_loss, train
from bandts.classification import BandLimitedFCN
from bandts.functional import Band
from bandts.models import FCN
from bandts.nn import bandlimited_layers

FAST = dict(filters=(4, 8, 4), n_epochs=4, learning_rate=0.01)



def make_series(n=40, length=32, seed=0):
    """Two classes: a slow sine vs. a fast one, random phase, plus noise; (n, 1, length)."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    t = np.linspace(0, 1, length)
    X = np.sin(2 * np.pi * (1 + 4 * y[:, None]) * t + rng.uniform(0, 6, (n, 1)))
    return (X + 0.2 * rng.randn(n, length))[:, None, :], y


def test_same_random_state_same_model_and_no_global_rng_side_effects():
    X, y = make_series()
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    a = BandLimitedFCN(compress_rate=0.5, random_state=7, **FAST).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == numpy_state[1].tolist()
    torch.manual_seed(123)  # global seeds must not matter
    b = BandLimitedFCN(compress_rate=0.5, random_state=7, **FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    c = BandLimitedFCN(compress_rate=0.5, random_state=8, **FAST).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_history_and_fitted_attributes():
    X, y = make_series()
    est = BandLimitedFCN(compress_rate=0.5, random_state=0, **FAST).fit(X, y)
    assert est.n_epochs_ == len(est.history_) == 4
    assert [h["epoch"] for h in est.history_] == [1, 2, 3, 4]
    layers = ["blocks.0.conv", "blocks.1.conv", "blocks.2.conv"]
    for h in est.history_:
        assert set(h) == {"epoch", "loss", "learning_rate", "seconds", "kept_bins"}
        assert h["loss"] > 0 and h["seconds"] > 0 and h["learning_rate"] == 0.01
        # length 32 + 2 * (k // 2) padding -> minimal FFT sizes 40, 36, 36 -> 21, 19, 19 bins;
        # compress_rate 0.5 drops floor(M / 2) + 1 of them
        assert h["kept_bins"] == {"blocks.0.conv": 10, "blocks.1.conv": 9, "blocks.2.conv": 9}
    assert est.kept_bins() == est.history_[-1]["kept_bins"]
    assert list(est.kept_bins()) == layers
    assert isinstance(est.model_, FCN) and not est.model_.training
    direct = BandLimitedFCN(conv="direct", random_state=0, **FAST).fit(X, y)
    assert direct.kept_bins() == {} and direct.history_[0]["kept_bins"] == {}


def test_recipes():
    paper, fcn = RECIPES["paper"], RECIPES["fcn"]
    assert (paper.full_epochs, paper.learning_rate, paper.lr_factor, paper.lr_patience) == (
        300, 1e-3, 0.1, 10)
    assert [paper.batch_size(n) for n in (5, 100, 1000)] == [16, 16, 16]
    assert (fcn.full_epochs, fcn.lr_factor, fcn.lr_patience, fcn.min_lr) == (2000, 0.5, 50, 1e-4)
    assert [fcn.batch_size(n) for n in (5, 28, 100, 1000)] == [1, 2, 10, 16]


def test_batches_cover_every_sample_once_and_never_leave_one_alone():
    generator = torch.Generator().manual_seed(0)
    for n, size in [(33, 16), (32, 16), (1, 16), (17, 4)]:
        batches = make_batches(n, size, generator)
        assert sorted(torch.cat(batches).tolist()) == list(range(n))
        assert n == 1 or min(len(b) for b in batches) > 1
    assert [len(b) for b in make_batches(33, 16, generator)] == [16, 17]


def test_learning_rate_follows_reduce_on_plateau_and_best_weights_are_kept():
    X, y = make_series(n=24)
    X_t, y_t = torch.from_numpy(X).float(), torch.from_numpy(y)
    torch.manual_seed(0)
    model = FCN(1, 2, conv="direct", filters=(4, 4, 4))
    recipe = Recipe("test", full_epochs=12, learning_rate=0.5, lr_factor=0.5, lr_patience=0,
                    min_lr=0.01, fixed_batch_size=8)
    result = train(model, X_t, y_t, recipe=recipe, n_epochs=12, batch_size=8, learning_rate=0.5,
                   generator=torch.Generator().manual_seed(0),
                   validation=(X_t[:10], y_t[:10]))
    history = result.history
    best = np.inf
    for before, after in zip(history, history[1:]):
        improved = before["loss"] < best * (1 - 1e-4)  # ReduceLROnPlateau's default threshold
        best = min(best, before["loss"])
        expected = before["learning_rate"] if improved else max(0.01, before["learning_rate"] / 2)
        assert after["learning_rate"] == pytest.approx(expected)
    assert any(h["learning_rate"] < 0.5 for h in history)
    # the weights kept are those of the epoch with the lowest validation loss
    assert mean_loss(model, X_t[:10], y_t[:10], 8) == pytest.approx(
        min(h["val_loss"] for h in history), rel=1e-5)


def test_validation_split_and_early_stopping():
    X, y = make_series(n=40)
    est = BandLimitedFCN(validation_fraction=0.25, n_iter_no_change=2, n_epochs=50,
                         filters=(4, 4, 4), learning_rate=0.05, random_state=0).fit(X, y)
    losses = [h["val_loss"] for h in est.history_]
    assert est.n_epochs_ < 50
    best = int(np.argmin(losses))
    assert est.n_epochs_ == best + 1 + 2  # stopped 2 epochs after the last improvement
    no_stop = BandLimitedFCN(n_epochs=6, filters=(4, 4, 4), random_state=0).fit(X, y)
    assert no_stop.n_epochs_ == 6 and "val_loss" not in no_stop.history_[0]


def test_inference_band_changes_predictions_without_refitting():
    X, y = make_series()
    est = BandLimitedFCN(random_state=0, **FAST).fit(X, y)
    weights = {k: v.clone() for k, v in est.model_.state_dict().items() if torch.is_tensor(v)}
    full = est.predict_proba(X)
    full_bins = est.kept_bins()
    est.set_params(inference_compress_rate=0.75)
    limited = est.predict_proba(X)
    assert not np.allclose(limited, full, atol=1e-4)
    assert all(est.kept_bins()[k] < full_bins[k] for k in full_bins)
    # the training band is restored on the layers after predict, weights untouched
    assert all(layer.compress_rate == 0.0 for _, layer in bandlimited_layers(est.model_))
    assert all(torch.equal(v, est.model_.state_dict()[k]) for k, v in weights.items())
    est.set_params(inference_compress_rate=None)
    np.testing.assert_array_equal(est.predict_proba(X), full)


def test_inference_band_that_is_invalid_is_reported():
    X, y = make_series()
    est = BandLimitedFCN(compress_rate=0.5, random_state=0, **FAST).fit(X, y)
    est.set_params(inference_preserve_energy=0.9)
    with pytest.raises(ValueError, match="invalid inference band.*not both"):
        est.predict(X)
    est.set_params(inference_compress_rate=0.0)
    assert est.predict(X).shape == (len(X),)


def test_frozen_energy_scope_calibrates_cuts_and_makes_predictions_batch_independent():
    X, y = make_series()
    est = BandLimitedFCN(preserve_energy=0.9, energy_scope="frozen", random_state=0,
                         **FAST).fit(X, y)
    cuts = [layer.frozen_cut for _, layer in bandlimited_layers(est.model_)]
    assert all(cut is not None and 0 < cut < 1 for cut in cuts)
    together = est.predict_proba(X)
    one_by_one = np.vstack([est.predict_proba(X[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(one_by_one, together[:5], atol=1e-6)
    # another inference energy runs per sample; the frozen cuts survive it
    est.set_params(inference_preserve_energy=0.5)
    assert not np.allclose(est.predict_proba(X), together, atol=1e-4)
    assert [layer.frozen_cut for _, layer in bandlimited_layers(est.model_)] == cuts
    est.set_params(inference_preserve_energy=None)
    np.testing.assert_array_equal(est.predict_proba(X), together)


def test_saved_bytes_report_matches_an_independent_count():
    torch.manual_seed(0)
    # odd kernels: torch's "same" padding for even ones saves a padded copy of the input
    model = FCN(2, 3, conv="direct", filters=(4, 6, 4), kernel_sizes=(7, 5, 3))
    x = torch.randn(5, 2, 30)
    with record_saved_bytes(model) as saved:
        model(x)
    # Conv1d saves its input; BatchNorm its input (the conv output) and batch statistics;
    # ReLU its output; the head its (pooled) input. float32 = 4 bytes.
    assert saved["blocks.0.conv"] == x.numel() * 4
    assert saved["blocks.0.relu"] == 5 * 4 * 30 * 4
    assert saved["blocks.0.bn"] >= 5 * 4 * 30 * 4
    assert saved["head"] == 5 * 4 * 4
    # later convolutions save their input, the ReLU output already counted for the ReLU
    assert "blocks.1.conv" not in saved and "blocks.2.conv" not in saved


def test_band_limiting_reduces_the_saved_bytes_of_the_convolutions():
    X, y = make_series(n=16, length=128)
    reports = {rate: BandLimitedFCN(compress_rate=rate, n_epochs=1, filters=(4, 8, 4),
                                    random_state=0).fit(X, y).saved_bytes_ for rate in (0.0, 0.75)}
    direct = BandLimitedFCN(conv="direct", n_epochs=1, filters=(4, 8, 4),
                            random_state=0).fit(X, y).saved_bytes_
    for block in ("blocks.0", "blocks.1", "blocks.2"):
        assert reports[0.75][block] < 0.3 * reports[0.0][block]
    # the block's spectra and mask bits at 0.75 against what the direct block saves (the conv's
    # input, the batch norm's input and the ReLU's output)
    direct_block = sum(v for k, v in direct.items() if k.startswith("blocks.0."))
    assert reports[0.75]["blocks.0"] < 0.3 * direct_block


def test_verbose_shows_a_progress_bar_and_default_is_quiet(capsys):
    X, y = make_series(n=16)
    BandLimitedFCN(n_epochs=2, filters=(4, 4, 4), random_state=0).fit(X, y)
    assert capsys.readouterr().err == ""
    BandLimitedFCN(n_epochs=2, filters=(4, 4, 4), random_state=0, verbose=True).fit(X, y)
    err = capsys.readouterr().err
    assert "training" in err and "2/2" in err


def test_band_limited_network_saves_less_than_the_direct_one():
    """Whole network, paper widths, one FiftyWords-sized batch: each band-limited block keeps only
    its convolution's compressed input and output spectra, the ReLU's mask bits and two values
    per channel."""
    torch.manual_seed(0)
    x = torch.randn(16, 1, 270)
    totals = {}
    for name, kwargs in {"direct": dict(conv="direct"), "fft-0": dict(conv="fft"),
                         "fft-0.5": dict(conv="fft", band=Band(compress_rate=0.5)),
                         "fft-0.75": dict(conv="fft", band=Band(compress_rate=0.75))}.items():
        model = FCN(1, 50, kernel_sizes=(7, 5, 3), **kwargs)
        with record_saved_bytes(model) as saved:
            model(x)
        totals[name] = sum(saved.values())
        if name != "direct":
            # L = 288 for W = 270: 145 one-sided bins at full band, 72 at c = 0.5, 36 at 0.75
            keep = {"fft-0": 145, "fft-0.5": 72, "fft-0.75": 36}[name]
            channels = (1, 128, 256)
            assert [saved[f"blocks.{i}"] for i in range(3)] == [
                keep * 2 * 16 * (c + c_out) * 4 + 16 * c_out * 270 // 8 + 2 * c_out * 4
                for c, c_out in zip(channels, (128, 256, 128))]
    # the targets: <= 0.55x the direct network at c = 0.5, <= 0.30x at c = 0.75
    assert totals["fft-0.5"] <= 0.55 * totals["direct"]
    assert totals["fft-0.75"] <= 0.30 * totals["direct"]
    assert totals["fft-0.75"] < totals["fft-0.5"] < totals["fft-0"] < totals["direct"]


def test_low_memory_blocks_predict_what_the_separate_layers_predict():
    X, y = make_series(n=16, length=64)
    fused = BandLimitedFCN(compress_rate=0.5, n_epochs=3, filters=(4, 8, 4), random_state=0)
    separate = BandLimitedFCN(compress_rate=0.5, n_epochs=3, filters=(4, 8, 4), random_state=0,
                              low_memory=False)
    fused.fit(X, y)
    separate.fit(X, y)
    assert type(fused.model_.blocks[0]).__name__ == "BandLimitedBlock"
    assert type(separate.model_.blocks[0].relu).__name__ == "MaskedReLU"
    # The two compute the same gradients up to rounding (tests/nn/test_block.py); three epochs of
    # training carry that rounding into the weights, not further.
    np.testing.assert_allclose(fused.predict_proba(X), separate.predict_proba(X), atol=2e-3)
    np.testing.assert_array_equal(fused.predict(X), separate.predict(X))
    # 0.62x here: at 4-8 channels and c = 0.5 the output spectrum is a large part of the output
    assert sum(fused.saved_bytes_.values()) < 0.7 * sum(separate.saved_bytes_.values())
