"""Train the LightGBM model, evaluate it out of collection and against the baselines, build the bundle.

    TrainParams(...)                                        every knob, with defaults
    fit_lightgbm(table, rows, params) -> lightgbm.Booster   early stopping on a grouped validation split
    cross_validate(table, params) -> dict                   campaign-grouped out-of-fold scores of every model
    leave_one_source_out(table, params) -> dict             each collection scored by a model that never saw it
    train_bundle(table, params) -> (ModelBundle, report)    out-of-collection evaluation, CV, thresholds, final fit

The headline is out of collection (`maldoc.training.ooc`): folds of whole collections, thresholds
per fold. The operating point comes from those scores too (in-sample scores are too confident to
set a 0.1 % false-positive threshold, and a campaign split lets a model see the rest of a file's
collection): `malicious` at `target_fpr`, `suspicious` at `suspicious_fpr`, each the median of the
folds' thresholds. Campaign-grouped CV comes second, with the baselines on the same folds.
Synthetic rows (meta `synthetic`) always train and never count in a figure, so every fold learns
every format even when one collection holds all of a format's malware.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata as md
import math
import platform
from dataclasses import asdict, dataclass

import numpy as np

from maldoc.extractor import registry
from maldoc.model import ModelBundle
from maldoc.schema import MONOTONE_INCREASING, SCHEMA, is_indicator
from maldoc.training.baselines import BASELINES, fit_baseline
from maldoc.training.evaluate import (
    RULE_THRESHOLD,
    binary_metrics,
    breakdown,
    calibration,
    misclassified,
    pick_threshold,
    top_reasons,
    verdict_scores,
)
from maldoc.training.features import FeatureTable
from maldoc.training.ooc import ooc_metrics, operating_point, out_of_collection
from maldoc.training.splits import default_group_by, grouped_folds, holdout, leak_groups

TRAINING_SHA_PREFIX = 16  # hex digits of each training file's sha256 kept in the bundle (64 bits)
MIN_EARLY_STOPPING = 60  # fewer training rows: fixed rounds, a validation part would be noise


@dataclass
class TrainParams:
    target_fpr: float = 0.001
    suspicious_fpr: float = 0.01
    n_splits: int = 5
    group_by: str | None = None  # None: source_repo+campaign(family_or_note) when the manifest has them
    seed: int = 0
    # one thread: on shared cores OpenMP's spinning threads made a 2-thread fit ~10x slower (measured)
    threads: int = 1
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 5
    feature_fraction: float = 0.7
    max_rounds: int = 1500
    early_stopping: int = 100
    val_frac: float = 0.15
    baselines: tuple[str, ...] = ("rules", *BASELINES)
    loco: bool = False  # also leave one collection out, one fit per collection (LightGBM only)
    ooc_folds: int = 4  # out-of-collection folds: ~1,250 benign files each here, so 0.1 % is one file a fold
    campaign_cv: bool = True  # the second view: grouped CV by campaign, with the baselines
    monotone: bool = True  # the rule score may only raise the model's score (schema.MONOTONE_INCREASING)
    monotone_indicators: bool = True  # ... and so may every indicator column (schema.is_indicator)
    # LightGBM's "advanced" method was ~7x slower than "intermediate" here for no measured gain
    monotone_method: str = "intermediate"
    version: str = ""

    def lgb_params(self) -> dict:
        return {"objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
                "min_child_samples": self.min_child_samples, "feature_fraction": self.feature_fraction,
                "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0, "verbose": -1,
                "num_threads": self.threads, "seed": self.seed, "deterministic": True,
                "feature_pre_filter": False}


def _real_and_synthetic(table: FeatureTable) -> tuple[np.ndarray, np.ndarray]:
    lab = table.labelled()
    synthetic = table.meta["synthetic"].astype(bool).to_numpy() if "synthetic" in table.meta else \
        np.zeros(len(table), bool)
    return lab[~synthetic[lab]], lab[synthetic[lab]]


def fit_lightgbm(table: FeatureTable, rows: np.ndarray, params: TrainParams):
    """A booster on `rows`, stopped early on a grouped, stratified validation part of them."""
    import lightgbm as lgb

    rows = np.asarray(rows)
    meta = table.meta.iloc[rows].reset_index(drop=True)
    y = table.y[rows]
    groups = leak_groups(meta, "sha256", split_large=False)  # validation only needs files and mails apart
    try:
        fit, val = holdout(meta, groups, params.val_frac, params.seed)
    except ValueError:
        fit, val = np.arange(len(rows)), np.array([], dtype=int)
    if len(rows) < MIN_EARLY_STOPPING or len(np.unique(y[val])) < 2 or len(np.unique(y[fit])) < 2:
        fit, val = np.arange(len(rows)), np.array([], dtype=int)
    train_set = lgb.Dataset(table.X[rows[fit]], y[fit], feature_name=_lgb_names(table), free_raw_data=True)
    kwargs = {}
    if len(val):
        valid = lgb.Dataset(table.X[rows[val]], y[val], reference=train_set)
        kwargs = {"valid_sets": [valid], "callbacks": [lgb.early_stopping(params.early_stopping, verbose=False)]}
    booster = lgb.train(_with_constraints(params, table), train_set, num_boost_round=params.max_rounds, **kwargs)
    if len(val) and booster.best_iteration > 0:
        booster = _refit_rounds(booster, table, rows, y, params)
    return booster


def _refit_rounds(booster, table: FeatureTable, rows: np.ndarray, y: np.ndarray, params: TrainParams):
    """Retrain on all of `rows` for the number of rounds early stopping found (plus a tenth)."""
    import lightgbm as lgb

    rounds = max(20, int(booster.best_iteration * 1.1))
    data = lgb.Dataset(table.X[rows], y, feature_name=_lgb_names(table), free_raw_data=True)
    return lgb.train(_with_constraints(params, table), data, num_boost_round=rounds)


def _with_constraints(params: TrainParams, table: FeatureTable) -> dict:
    """LightGBM parameters plus monotone constraints on the schema's expert-prior features."""
    out = params.lgb_params()
    if params.monotone:
        monotone = is_indicator if params.monotone_indicators else MONOTONE_INCREASING.__contains__
        out["monotone_constraints"] = [int(monotone(n)) for n in table.names]
        out["monotone_constraints_method"] = params.monotone_method
    return out


def _lgb_names(table: FeatureTable) -> list[str]:
    # LightGBM forbids some characters in feature names; the schema keeps the real ones
    return [f"f{i}" for i in range(len(table.names))]


def _predictor(booster):
    return lambda rows: booster.predict(rows, num_threads=1)


def cross_validate(table: FeatureTable, params: TrainParams, *, log=print) -> dict:
    """Grouped k-fold out-of-fold scores for LightGBM and every baseline, on the same folds."""
    real, synth = _real_and_synthetic(table)
    meta = table.meta.iloc[real].reset_index(drop=True)
    expr = params.group_by or default_group_by(meta)
    groups = leak_groups(meta, expr, n_splits=params.n_splits)
    folds = grouped_folds(meta, groups, params.n_splits, params.seed)
    models = ["lightgbm", *params.baselines]
    scores = {m: np.full(len(real), np.nan) for m in models}
    fold_of = np.full(len(real), -1)
    reasons = [""] * len(real)
    rounds = []
    for k, (train, test) in enumerate(folds):
        fold_of[test] = k
        train_rows = np.concatenate([real[train], synth])
        booster = fit_lightgbm(table, train_rows, params)
        rounds.append(booster.current_iteration())
        log(f"campaign fold {k + 1}/{len(folds)}: {len(test)} test files, {len(np.unique(groups[test]))} groups, "
            f"lightgbm {booster.current_iteration()} rounds")
        scores["lightgbm"][test] = verdict_scores(_predictor(booster), table, real[test])
        bundle = ModelBundle(booster=booster)
        for i, text in zip(test, top_reasons(bundle, table.X[real[test]]), strict=True):
            reasons[i] = text
        for name in params.baselines:
            if name == "rules":
                scores[name][test] = table.meta["rule_score"].to_numpy(float)[real[test]]
            else:
                predict = fit_baseline(name, table.X[train_rows], table.y[train_rows], seed=params.seed,
                                       threads=params.threads)
                scores[name][test] = verdict_scores(predict, table, real[test])
                log(f"campaign fold {k + 1}/{len(folds)}: {name} fitted")
    oof = meta.assign(fold=fold_of, group=groups, y=table.y[real], reasons=reasons,
                      **{f"score_{m}": s for m, s in scores.items()})
    return {"oof": oof, "group_by": expr, "n_groups": len(np.unique(groups)), "rounds": rounds,
            "models": models}


def leave_one_source_out(table: FeatureTable, params: TrainParams, threshold: float, *, log=print) -> dict:
    """Per collection: its files scored by a model trained without it (at the CV threshold)."""
    real, synth = _real_and_synthetic(table)
    meta = table.meta.iloc[real].reset_index(drop=True)
    if "source_repo" not in meta or meta["source_repo"].nunique() < 2:
        return {}
    out = {}
    y = table.y[real]
    for source in sorted(meta["source_repo"].unique()):
        test = np.flatnonzero((meta["source_repo"] == source).to_numpy())
        train = np.setdiff1d(np.arange(len(real)), test)
        if len(np.unique(y[train])) < 2:
            continue
        booster = fit_lightgbm(table, np.concatenate([real[train], synth]), params)
        s = verdict_scores(_predictor(booster), table, real[test])
        m = binary_metrics(y[test], s, threshold)
        out[source] = {"files": len(test), "malicious": int(y[test].sum()), "tpr": m["tpr"], "fpr": m["fpr"],
                       "roc_auc": m["roc_auc"]}
        log(f"leave-one-source-out {source}: tpr={m['tpr']:.3f} fpr={m['fpr']:.3f}" if len(test) else source)
    return out


def summarize(cv: dict, threshold: float, suspicious: float) -> dict:
    """Pooled and per-fold metrics of every model, breakdowns and errors of LightGBM."""
    oof = cv["oof"]
    y = oof["y"].to_numpy()
    lgbm = oof["score_lightgbm"].to_numpy()
    models = {}
    for m in cv["models"]:
        s = oof[f"score_{m}"].to_numpy()
        t = threshold if m == "lightgbm" else (RULE_THRESHOLD if m == "rules" else 0.5)
        models[m] = binary_metrics(y, s, t)
    folds = {}
    for k in sorted(oof["fold"].unique()):
        mask = (oof["fold"] == k).to_numpy()
        f = binary_metrics(y[mask], lgbm[mask], threshold)
        f["formats"] = sorted(oof.loc[mask, "format"].astype(str).unique())
        folds[str(k)] = f
    return {
        "thresholds": {"malicious": threshold, "suspicious": suspicious},
        "group_by": cv["group_by"], "n_groups": cv["n_groups"], "rounds": cv["rounds"],
        "models": models, "folds": folds,
        "by_format": breakdown(oof, y, lgbm, threshold, "format"),
        "by_source": breakdown(oof, y, lgbm, threshold, "source_repo") if "source_repo" in oof else {},
        "calibration": calibration(y, lgbm),
        "misclassified": misclassified(oof, y, lgbm, threshold, oof["reasons"].tolist()),
    }


def library_versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in ("maldoc", "lightgbm", "scikit-learn", "numpy", "pandas", "oletools", "pdfminer.six"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[dist] = md.version(dist)
    return out


def json_safe(obj):
    """JSON-safe: NaN and infinities become None, numpy scalars become Python ones, keys strings."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    return obj


def campaign_view(table: FeatureTable, params: TrainParams, *, log=print) -> dict:
    """Grouped CV by campaign with the baselines: the second view, thresholds per fold as well."""
    cv = cross_validate(table, params, log=log)
    oof = cv["oof"]
    y, lgbm = oof["y"].to_numpy(), oof["score_lightgbm"].to_numpy()
    # the tables of this view read one pooled threshold; the bundle's thresholds come from the OOC scores
    report = summarize(cv, pick_threshold(lgbm, y, params.target_fpr), 0.0)
    report["per_fold_thresholds"] = {m: ooc_metrics(oof.assign(score=oof[f"score_{m}"]), by=())
                                     for m in cv["models"]}
    report["oof"] = oof
    return report


def train_bundle(table: FeatureTable, params: TrainParams | None = None, *, log=print,
                 keep_frame: bool = False) -> tuple[ModelBundle, dict]:
    """Evaluate out of collection, pick the operating point, fit the final model on everything, bundle it.
    With `keep_frame`, the report also holds the per-file out-of-collection scores (`ooc_frame`, a
    DataFrame the caller pops before writing the report)."""
    params = params or TrainParams()
    table.check_schema()
    ooc = out_of_collection(table, params, n_folds=params.ooc_folds, log=log)
    frame = ooc["frame"]
    point = operating_point(frame, params.target_fpr, params.suspicious_fpr)
    threshold, suspicious = point["malicious"], point["suspicious"]
    ooc["rules"] = ooc_metrics(frame.assign(score=frame["score_rules"]))
    for warning in ooc["metrics"]["warnings"]:
        log(f"warning: {warning}")
    if params.campaign_cv:
        report = campaign_view(table, params, log=log)
        report["campaign_oof"] = report.pop("oof")
    else:
        report = {"models": {}, "folds": {}, "by_format": {}, "by_source": {}, "misclassified": [],
                  "calibration": None}
    report["thresholds"] = {"malicious": threshold, "suspicious": suspicious}
    report["operating_point"] = point
    report["ooc"] = {k: v for k, v in ooc.items() if k != "frame"}
    if keep_frame:
        report["ooc_frame"] = frame
    y_ooc, s_ooc = frame["y"].to_numpy(), frame["score"].to_numpy()
    report["calibration"] = calibration(y_ooc, frame["score_model"].to_numpy())  # the model's own scores
    report["misclassified"] = misclassified(frame, y_ooc, s_ooc, threshold, frame["reasons"].tolist())
    if params.loco:
        report["leave_one_source_out"] = leave_one_source_out(table, params, threshold, log=log)
    real, synth = _real_and_synthetic(table)
    log(f"final model: {len(real)} real and {len(synth)} synthetic files")
    booster = fit_lightgbm(table, np.concatenate([real, synth]), params)
    importance = booster.feature_importance("gain")
    order = np.argsort(-importance)[:30]
    report["importance"] = [{"feature": SCHEMA.names[i], "gain": float(importance[i])} for i in order
                            if importance[i] > 0]
    summary = table.subset(table.labelled()).summary()
    summary["synthetic_files"] = len(synth)
    # what `maldoc evaluate` needs to count files it is asked to score that this model trained on
    trained_on = table.meta["sha256"].iloc[np.concatenate([real, synth])]
    summary["sha256_prefixes"] = sorted({str(s)[:TRAINING_SHA_PREFIX] for s in trained_on})
    summary["sha256_prefix_len"] = TRAINING_SHA_PREFIX
    # date, schema, data and the model itself: two fits of the same data (other features) never share a version
    model_hash = hashlib.sha256(booster.model_to_string().encode()).hexdigest()[:6]
    version = params.version or (f"{dt.date.today():%Y%m%d}-{SCHEMA.hash[:8]}-{summary['data_sha256'][:8]}"
                                 f"-{model_hash}")
    pooled = report["models"].get("lightgbm", {})
    meta = {
        "version": version, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "thresholds": report["thresholds"], "target_fpr": params.target_fpr,
        "metrics": {"ooc": _ooc_summary(ooc), "ooc_rules": _ooc_summary({"metrics": ooc["rules"]}),
                    "ooc_folds": report["ooc"]["folds"],
                    "cv_pooled": pooled, "cv_folds": report["folds"], "cv_by_format": report["by_format"],
                    "baselines": {k: v for k, v in report["models"].items() if k != "lightgbm"},
                    "group_by": report.get("group_by"), "n_groups": report.get("n_groups")},
        "training_data": summary, "params": asdict(params), "libraries": library_versions(),
        "extractors": registry().versions(),
        "rounds": booster.current_iteration(),
    }
    bundle = ModelBundle(booster=booster, meta=json_safe(meta))
    report["oof"] = frame.rename(columns={"score": "score_lightgbm"})
    report["version"] = version
    report["training_data"] = summary
    report["params"] = asdict(params)
    return bundle, report


def _ooc_summary(ooc: dict) -> dict:
    """The out-of-collection figures a bundle keeps: pooled and per format (per collection in the report)."""
    m = ooc["metrics"]
    return {k: v for k, v in m.items() if k != "by_source_repo"}
