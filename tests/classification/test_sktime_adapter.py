"""BandLimitedFCNClassifier: sktime's conformance suite and use on sktime data containers."""

import numpy as np
from sktime.datasets import load_unit_test
from sktime.utils.estimator_checks import check_estimator

from bandts.classification import BandLimitedFCN
from bandts.sktime import BandLimitedFCNClassifier



def test_sktime_check_estimator_passes():
    # raises on the first failing check; runs every get_test_params instance (fft and direct)
    results = check_estimator(BandLimitedFCNClassifier, raise_exceptions=True, verbose=False)
    assert len(results) > 100 and set(results.values()) == {"PASSED"}


def test_parameters_match_the_sklearn_estimator_except_spatial_dims():
    sklearn_params = set(BandLimitedFCN().get_params())
    assert set(BandLimitedFCNClassifier().get_params()) == sklearn_params - {"spatial_dims"}


def test_fits_sktime_frames_like_the_sklearn_estimator_on_numpy():
    X_train, y_train = load_unit_test(split="train")  # nested pandas frame
    X_test, y_test = load_unit_test(split="test")
    params = dict(compress_rate=0.5, filters=(8, 16, 8), n_epochs=10, random_state=0)
    clf = BandLimitedFCNClassifier(**params).fit(X_train, y_train)
    X3_train, _ = load_unit_test(split="train", return_type="numpy3D")
    X3_test, _ = load_unit_test(split="test", return_type="numpy3D")
    est = BandLimitedFCN(**params).fit(X3_train, y_train)
    np.testing.assert_allclose(clf.predict_proba(X_test), est.predict_proba(X3_test), atol=1e-6)
    assert clf.score(X_test, y_test) == est.score(X3_test, y_test) > 0.7
    assert clf.n_epochs_ == 10 and set(clf.saved_bytes_) == set(est.saved_bytes_)
    # another inference band, set on the fitted inner estimator (sktime's set_params unfits)
    clf.estimator_.set_params(inference_compress_rate=0.9)
    assert not np.allclose(clf.predict_proba(X_test), est.predict_proba(X3_test), atol=1e-4)
