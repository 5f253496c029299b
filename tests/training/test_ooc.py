import math

import numpy as np
import pandas as pd
import pytest

from maldoc.training.ooc import collection_folds, fold_auc, fpr_calibrated, ooc_metrics, operating_point


def _meta(n_per=40):
    rows = []
    repos = {"malA": "malicious", "malB": "malicious", "benA": "benign", "benB": "benign", "benC": "benign",
             "mixed": None}
    for repo, label in repos.items():
        for i in range(n_per):
            lab = label or ("malicious" if i % 2 else "benign")
            rows.append({"sha256": f"{repo}-{i}", "label": lab, "format": "pdf" if i % 3 else "ole",
                         "source_repo": repo, "source_path": f"{repo}/{i}"})
    return pd.DataFrame(rows)


def test_collection_folds_hold_whole_collections_and_spread_the_malicious_ones():
    meta = _meta()
    folds = collection_folds(meta, n_folds=3)
    for k, (train, test) in enumerate(folds.splits()):
        assert not set(meta["source_repo"].iloc[train]) & set(meta["source_repo"].iloc[test])
        assert set(meta["source_repo"].iloc[test]) == set(folds.collections[k])
    where = {c: k for k, cs in enumerate(folds.collections) for c in cs}
    assert len({where["malA"], where["malB"], where["mixed"]}) == 3  # one malicious collection per fold


def test_coverage_names_what_a_fold_trains_on_only_synthetically():
    meta = _meta()
    meta.loc[meta["source_repo"] == "malA", "format"] = "rtf"  # the only malicious RTF collection
    synthetic = pd.DataFrame({"label": ["malicious"], "format": ["rtf"]})
    folds = collection_folds(meta, n_folds=3, synthetic=synthetic)
    k = next(k for k, cs in enumerate(folds.collections) if "malA" in cs)
    assert "malicious rtf: synthetic only" in folds.coverage[k]


def _frame():
    """Two folds whose models score on different scales: fold 1's scores are fold 0's squared."""
    rng = np.random.default_rng(0)
    parts = []
    for k in (0, 1):
        neg = rng.random(2000) * 0.8
        pos = 0.5 + rng.random(200) * 0.5
        s = np.concatenate([neg, pos])
        parts.append(pd.DataFrame({"fold": k, "y": [0] * 2000 + [1] * 200, "score": s ** (1 + k),
                                   "format": "pdf", "source_repo": f"r{k}"}))
    return pd.concat(parts, ignore_index=True)


def test_thresholds_are_set_per_fold_on_its_own_benign_scores():
    frame = _frame()
    m = ooc_metrics(frame, fprs=(0.01,))
    point = m["at"]["0.01"]
    for k, part in frame.groupby("fold"):
        t = point["thresholds"][str(k)]
        assert (part.loc[part["y"] == 0, "score"] >= t).sum() <= 20
    assert point["fpr"] <= 0.01 and point["measurable"]
    # each fold ranks the same way: per-fold AUC is the same for both, whatever the scale
    assert m["roc_auc"] == pytest.approx(fold_auc(frame[frame["fold"] == 0]), abs=0.02)
    calibrated = fpr_calibrated(frame)
    assert calibrated.min() >= 0 and calibrated.max() <= 1


def test_too_few_benign_files_make_a_figure_not_measurable():
    frame = _frame()
    small = frame[(frame["y"] == 1) | (frame.index % 10 == 0)]  # 400 benign in all
    m = ooc_metrics(small, fprs=(0.001, 0.01))
    assert not m["at"]["0.001"]["measurable"]
    assert m["at"]["0.01"]["measurable"]
    assert any("0.1 % is not measurable" in w for w in m["warnings"])
    assert m["by_format"]["pdf"]["at"]["0.001"]["fpr_measurable"] is False


def test_operating_point_is_the_median_of_the_fold_thresholds():
    frame = _frame()
    point = operating_point(frame, 0.01, 0.05)
    per_fold = sorted(point["malicious_per_fold"].values())
    assert per_fold[0] <= point["malicious"] <= per_fold[-1]
    assert point["suspicious"] <= point["malicious"]
    assert not math.isnan(point["suspicious"])


def test_certain_indicators_count_as_flagged_as_the_product_decides(table_factory):
    """A file whose tree fired a `verdict = "malicious"` rule scores 1.0 out of collection (benign
    ones too: they are the product's false positives); the model's own score is kept beside it."""
    from maldoc.training.ooc import certain_rows, out_of_collection
    from maldoc.training.train import TrainParams

    table = table_factory(n=160, seed=3, n_sources=4)
    ben = int(np.flatnonzero(table.y == 0)[0])
    mal = int(np.flatnonzero(table.y == 1)[0])
    table.meta.loc[ben, "findings"] = "PDF_JAVASCRIPT,RTF_OLE2LINK"  # RTF_OLE2LINK: verdict = "malicious"
    table.meta.loc[mal, "findings"] = "CORE_EXECUTABLE_PAYLOAD"
    assert certain_rows(table.meta).sum() == 2
    frame = out_of_collection(table, TrainParams(max_rounds=30), n_folds=2, with_reasons=False,
                              log=lambda _m: None)["frame"]
    rows = frame.set_index("sha256")
    for i in (ben, mal):
        row = rows.loc[table.meta["sha256"].iloc[i]]
        assert row["certain"] and row["score"] == 1.0 and row["score_rules"] == 1.0
        assert row["score_model"] < 1.0
