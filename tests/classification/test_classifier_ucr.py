"""Proof on real UCR data (embedded datasets): the band-limited FCN learns, the FFT path matches
the direct one at full band, and inference under another band changes predictions."""

import numpy as np
import pytest
import torch

from bandts.classification import BandLimitedFCN
from bandts.datasets import load_ucr

pytestmark = pytest.mark.slow

# Narrower than the paper's (128, 256, 128) to keep CI fast; the architecture is otherwise the
# paper's (kernels 8, 5, 3, BatchNorm, ReLU, global average pooling).
NARROW = (16, 32, 16)



@pytest.fixture(scope="module")
def italy():
    return load_ucr("ItalyPowerDemand")  # 67 train / 1029 test series of length 24, 2 classes


@pytest.fixture(scope="module")
def ecg():
    return load_ucr("ECG200")  # 100 / 100 series of length 96, 2 classes (64% majority)


def majority_rate(y):
    return np.unique(y, return_counts=True)[1].max() / len(y)


@pytest.fixture(scope="module")
def italy_models(italy):
    X_train, y_train, _, _ = italy
    return {(conv, rate): BandLimitedFCN(conv=conv, compress_rate=rate, filters=NARROW,
                                         n_epochs=20, random_state=0).fit(X_train, y_train)
            for conv, rate in [("direct", 0.0), ("fft", 0.0), ("fft", 0.5)]}


def test_short_training_learns_well_above_chance(italy, italy_models):
    _, _, X_test, y_test = italy
    assert majority_rate(y_test) < 0.51
    for key, est in italy_models.items():
        assert est.score(X_test, y_test) > 0.88, key


def test_fft_at_full_band_reaches_the_accuracy_of_direct(italy, italy_models):
    _, _, X_test, y_test = italy
    direct, fft = italy_models[("direct", 0.0)], italy_models[("fft", 0.0)]
    # Same seed -> same initial weights, and at full band the FFT convolution computes the
    # direct one up to rounding: the two trainings follow each other closely.
    assert abs(direct.score(X_test, y_test) - fft.score(X_test, y_test)) <= 0.02
    assert np.mean(direct.predict(X_test) == fft.predict(X_test)) > 0.97
    np.testing.assert_allclose([h["loss"] for h in fft.history_],
                               [h["loss"] for h in direct.history_], rtol=0.05)


def test_inference_under_another_band_changes_predictions_without_refitting(italy, italy_models):
    _, _, X_test, y_test = italy
    est = italy_models[("fft", 0.0)]
    weights = [p.detach().clone() for p in est.model_.parameters()]
    full_pred, full_acc = est.predict(X_test), est.score(X_test, y_test)
    est.set_params(inference_compress_rate=0.5)
    try:
        narrow_pred, narrow_acc = est.predict(X_test), est.score(X_test, y_test)
        # length 24 + 2 * 4 padding -> 32-point FFT, 17 bins; rate 0.5 drops 8 + 1 of them
        assert est.kept_bins()["blocks.0.conv"] == 8
    finally:
        est.set_params(inference_compress_rate=None)
    assert np.mean(narrow_pred != full_pred) > 0.01
    assert 0.85 < narrow_acc < full_acc  # the paper: degrades smoothly away from the training band
    assert all(torch.equal(a, b) for a, b in zip(weights, est.model_.parameters()))
    assert est.score(X_test, y_test) == full_acc


def test_band_limited_training_on_ecg200(ecg):
    X_train, y_train, X_test, y_test = ecg
    accuracy = {}
    for conv, rate in [("direct", 0.0), ("fft", 0.0), ("fft", 0.5)]:
        est = BandLimitedFCN(conv=conv, compress_rate=rate, filters=NARROW, n_epochs=40,
                             random_state=0).fit(X_train, y_train)
        accuracy[(conv, rate)] = est.score(X_test, y_test)
    assert majority_rate(y_test) == 0.64
    assert min(accuracy.values()) > 0.8, accuracy
    assert abs(accuracy[("fft", 0.0)] - accuracy[("direct", 0.0)]) <= 0.03, accuracy
