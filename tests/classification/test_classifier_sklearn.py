"""BandLimitedFCN as a scikit-learn estimator: check_estimator and meta-estimators."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_estimator

from bandts.classification import BandLimitedFCN

# Narrow layers, few epochs and a larger learning rate: enough to pass check_classifiers_train
# (accuracy > 0.83 on blobs) in a fraction of a second per fit.
FAST = dict(filters=(8, 8, 8), n_epochs=5, batch_size=64, learning_rate=0.02, random_state=0)



@pytest.mark.parametrize("conv", ["fft", "direct"])
def test_check_estimator_passes_every_check(conv):
    results = check_estimator(BandLimitedFCN(conv=conv, **FAST), on_fail=None)
    problems = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert problems == []
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    # The only skip is scikit-learn's array-API check, which runs only under SCIPY_ARRAY_API=1
    # for estimators that declare array-API support.
    assert skipped <= {"check_array_api_input"}
    assert len(results) > 40


def make_series(n=48, length=20, seed=0):
    """Two classes of noisy series: a low-frequency sine vs. a higher-frequency one."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    t = np.linspace(0, 1, length)
    X = np.sin(2 * np.pi * (1 + 2 * y[:, None]) * t + rng.uniform(0, 6, (n, 1)))
    return X + 0.1 * rng.randn(n, length), np.where(y == 1, "fast", "slow")


def test_clone_keeps_parameters_untouched():
    est = BandLimitedFCN(compress_rate=0.5, filters=(4, 4, 4), random_state=3)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "model_")


def test_pipeline_grid_search_and_cross_val_score():
    X, y = make_series()
    pipe = make_pipeline(FunctionTransformer(lambda X: X * 2.0),
                         BandLimitedFCN(conv="fft", filters=(4, 8, 4), n_epochs=15,
                                        learning_rate=0.01, random_state=0))
    grid = GridSearchCV(pipe, {"bandlimitedfcn__compress_rate": [0.0, 0.5]}, cv=2)
    grid.fit(X, y)
    assert set(grid.cv_results_["param_bandlimitedfcn__compress_rate"]) == {0.0, 0.5}
    assert grid.best_estimator_.predict(X).dtype == y.dtype
    assert grid.score(X, y) > 0.8
    scores = cross_val_score(BandLimitedFCN(conv="direct", filters=(4, 8, 4), n_epochs=15,
                                            learning_rate=0.01, random_state=0),
                             X[:, None, :], y, cv=3)  # 3D input through sklearn's indexing
    assert scores.shape == (3,) and scores.mean() > 0.8
