"""Baselines trained and scored on the same splits as the LightGBM model.

    BASELINES: name -> factory(seed, threads) returning a scikit-learn classifier
    fit_baseline(name, X, y, *, seed=0, threads=1) -> predict(X) -> scores

The rule-only scorer (`maldoc.scoring.RuleScorer`: noisy-OR of catalogue weights over the
findings, the mraptor/pdfid-like fallback) needs no training: its per-file score is stored in the
feature table (`rule_score`) when the file is analysed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]


def _random_forest(seed: int, threads: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=300, min_samples_leaf=1, n_jobs=threads, random_state=seed)


def _hist_gb(seed: int, threads: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, early_stopping=False, random_state=seed)


def _logistic(seed: int, threads: int):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # missing = "this extractor never ran": zero after scaling, with no indicator columns (too many)
    return make_pipeline(SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True),
                         StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))


BASELINES: dict[str, Callable] = {"random_forest": _random_forest, "hist_gb": _hist_gb, "logistic": _logistic}


def fit_baseline(name: str, X: np.ndarray, y: np.ndarray, *, seed: int = 0, threads: int = 1) -> Predict:
    model = BASELINES[name](seed, threads)
    X = np.where(np.isinf(X), np.nan, X)
    keep = ~np.isnan(X).all(axis=0)  # a never-measured column breaks HistGradientBoosting's binning
    X = X[:, keep]
    import warnings

    with warnings.catch_warnings():  # convergence and constant-feature notices are not failures here
        warnings.simplefilter("ignore")
        model.fit(X, y)

    def predict(rows: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.predict_proba(np.where(np.isinf(rows), np.nan, rows)[:, keep])[:, 1]

    return predict
