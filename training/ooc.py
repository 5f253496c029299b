"""Out-of-collection evaluation: every figure from files scored by a model that never saw their collection.

    collection_folds(meta, n_folds=5, seed=0) -> CollectionFolds      whole collections per fold
    out_of_collection(table, params, *, columns=None, log) -> dict      fit per fold, score the held-out part
    ooc_metrics(frame, fprs) -> dict                                    per-fold thresholds, pooled and per format
    fpr_calibrated(frame) -> np.ndarray                                 each score as its fold's benign exceedance

A collection is a manifest's `source_repo`. Folds hold whole collections (with the usual links:
identical files and an e-mail with its attachments travel together), so a file's score comes from
a model trained without any file of its collection. Malicious collections are spread first (one
fold each, largest first), then benign-only collections fill the folds with the fewest benign
files. Synthetic rows train every fold and never count; they are what lets a fold whose test side
holds the only real malicious OLE or RTF collection still learn those formats, and the fold's
`coverage` lists every (label, format) its training side has only synthetically or not at all.

Scores of different fold models are not on one scale, so no threshold is read off one pooled
curve: at each FPR a threshold is set per fold on that fold's own held-out benign scores, and the
counts are added up. A fold with fewer than 1/FPR benign files cannot be held to that FPR: its
threshold sits above its highest benign score (stricter), and a pooled figure is marked not
measurable when the folds together hold fewer than 1/FPR benign files. The headline ROC AUC is the
same idea: each malicious file against its own fold's benign files (the per-fold AUCs weighted by
malicious files); the AUC of the raw pooled scores is reported too, named as pooled.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from maldoc.training.evaluate import REPORTED_FPRS, pick_threshold, verdict_scores
from maldoc.training.features import FeatureTable
from maldoc.training.splits import _union, assert_no_leak, mail_root

COLLECTION = "source_repo"


@dataclass
class CollectionFolds:
    """Fold of each real row, the collections of each fold, and what each fold's training side lacks."""

    fold: np.ndarray
    collections: list[list[str]]
    coverage: list[list[str]] = field(default_factory=list)
    unit: str = "collection"  # "file" when the corpus names fewer collections than folds need

    def splits(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.flatnonzero(self.fold != k), np.flatnonzero(self.fold == k)) for k in range(len(self.collections))]


def _collection_groups(meta: pd.DataFrame) -> np.ndarray:
    repo = meta[COLLECTION].fillna("").astype(str).reset_index(drop=True) if COLLECTION in meta else \
        meta["sha256"].astype(str).reset_index(drop=True)
    return _union(repo, meta["sha256"].astype(str).reset_index(drop=True), mail_root(meta))


def collection_folds(meta: pd.DataFrame, n_folds: int = 5, seed: int = 0,
                     synthetic: pd.DataFrame | None = None) -> CollectionFolds:
    """Whole collections per fold: malicious collections spread first, benign ones balance the rest."""
    meta = meta.reset_index(drop=True)
    groups = _collection_groups(meta)
    y = (meta["label"].to_numpy() == "malicious")
    n_groups = len(np.unique(groups))
    unit = "collection"
    if n_groups < max(2, min(n_folds, 3)):  # no collections to speak of: folds of files (and their mails)
        groups = _union(meta["sha256"].astype(str).reset_index(drop=True), mail_root(meta))
        n_groups, unit = len(np.unique(groups)), "file"
    if n_groups < 2:
        raise ValueError(f"out-of-collection evaluation needs at least 2 groups of files, have {n_groups}")
    n_folds = max(2, min(n_folds, n_groups))
    frame = pd.DataFrame({"g": groups, "mal": y.astype(int), "ben": (~y).astype(int)})
    sizes = frame.groupby("g")[["mal", "ben"]].sum()
    rng = np.random.default_rng(seed)
    sizes = sizes.assign(tie=rng.random(len(sizes)))
    mal_load = np.zeros(n_folds)
    ben_load = np.zeros(n_folds)
    where: dict[int, int] = {}
    for g, row in sizes[sizes["mal"] > 0].sort_values(["mal", "tie"], ascending=False).iterrows():
        k = int(np.lexsort((ben_load, mal_load))[0])  # fewest malicious, then fewest benign
        where[g] = k
        mal_load[k] += row["mal"]
        ben_load[k] += row["ben"]
    for g, row in sizes[sizes["mal"] == 0].sort_values(["ben", "tie"], ascending=False).iterrows():
        k = int(np.argmin(ben_load))
        where[g] = k
        ben_load[k] += row["ben"]
    fold = np.array([where[g] for g in groups])
    names = meta[COLLECTION].fillna("").astype(str).to_numpy() if COLLECTION in meta else np.array([""] * len(meta))
    collections = [sorted(set(names[fold == k])) for k in range(n_folds)]
    result = CollectionFolds(fold, collections, unit=unit)
    for train, test in result.splits():
        assert_no_leak(meta, train, test)
    needed = _strata(meta)
    result.coverage = [_missing(meta.iloc[train], synthetic, needed) for train, _ in result.splits()]
    return result


def _strata(meta: pd.DataFrame) -> set[tuple[str, str]]:
    if meta is None or not len(meta):
        return set()
    return set(zip(meta["label"].astype(str), meta["format"].fillna("").astype(str), strict=True))


def _missing(train: pd.DataFrame, synthetic: pd.DataFrame | None, needed: set[tuple[str, str]]) -> list[str]:
    """Labels and formats that a fold trains on only synthetically, or not at all."""
    out = []
    real = _strata(train)
    synth = _strata(synthetic)
    for label in ("malicious", "benign"):
        if label not in {lab for lab, _ in real}:
            out.append(f"no real {label} file at all")
    return out + [f"{lab} {fmt}: {'synthetic only' if (lab, fmt) in synth else 'none'}"
                  for lab, fmt in sorted(needed - real)]


def out_of_collection(table: FeatureTable, params, *, n_folds: int = 5, fit: Callable | None = None,
                      rows: np.ndarray | None = None, with_reasons: bool = True,
                      log: Callable[[str], None] = print) -> dict:
    """Fit one model per collection fold (plus every synthetic row) and score its held-out files.

    `rows` restricts the real rows used (the pseudo-holdout check keeps some collections out of
    everything); `fit(table, train_rows, params) -> booster` defaults to the product's LightGBM fit.
    Returns `frame` (the held-out rows' meta with `fold`, `y`, `score` (1.0 where a certain indicator
    fired, as the product decides; the model's own in `score_model`), `score_rules`, `certain`), `folds`
    (collections and coverage per fold), `thresholds` (per fold and FPR) and `metrics`.
    """
    from maldoc.model import ModelBundle
    from maldoc.training.evaluate import top_reasons
    from maldoc.training.train import _predictor, _real_and_synthetic, fit_lightgbm

    fit = fit or fit_lightgbm
    real, synth = _real_and_synthetic(table)
    if rows is not None:
        real = np.intersect1d(real, rows)
    meta = table.meta.iloc[real].reset_index(drop=True)
    folds = collection_folds(meta, n_folds, params.seed, table.meta.iloc[synth])
    score = np.full(len(real), np.nan)
    reasons = [""] * len(real)
    for k, (train, test) in enumerate(folds.splits()):
        booster = fit(table, np.concatenate([real[train], synth]), params)
        score[test] = verdict_scores(_predictor(booster), table, real[test])
        if with_reasons:
            for i, text in zip(test, top_reasons(ModelBundle(booster=booster), table.X[real[test]]), strict=True):
                reasons[i] = text
        ben = int((table.y[real[test]] == 0).sum())
        log(f"out-of-collection fold {k + 1}/{len(folds.collections)}: {len(test)} files ({ben} benign) from "
            f"{len(folds.collections[k])} collections, {booster.current_iteration()} rounds")
        for gap in folds.coverage[k]:
            log(f"  fold {k + 1} trains on {gap}")
    certain = certain_rows(meta)
    rules = table.meta["rule_score"].to_numpy(float)[real]
    # The product's decision, not the model's alone: a certain indicator labels a file malicious
    # whatever it scores (`maldoc.policy`), so such files score 1.0 here, benign ones included.
    frame = meta.assign(fold=folds.fold, y=table.y[real], score=np.where(certain, 1.0, score), score_model=score,
                        reasons=reasons, certain=certain, score_rules=np.where(certain, 1.0, rules))
    metrics = ooc_metrics(frame)
    if folds.unit != "collection":
        metrics["warnings"].insert(0, "the corpus names too few collections (source_repo): folds hold files, not "
                                      "collections, and the figures do not predict unseen collections")
    per_fold = [{"collections": c, "coverage": v, "files": int((folds.fold == k).sum()),
                 "malicious": int(frame.loc[folds.fold == k, "y"].sum())}
                for k, (c, v) in enumerate(zip(folds.collections, folds.coverage, strict=True))]
    return {"frame": frame, "unit": folds.unit, "folds": per_fold,
            "metrics": metrics, "n_folds": len(folds.collections)}


def certain_rows(meta: pd.DataFrame) -> np.ndarray:
    """Rows whose tree fired a catalogue rule of `verdict = "malicious"` (the policy's certain indicators)."""
    from maldoc import catalogue

    certain = {r.id for r in catalogue.RULES.values() if r.verdict == "malicious"}
    if "findings" not in meta:
        return np.zeros(len(meta), bool)
    return np.array([bool(certain.intersection(str(f).split(","))) for f in meta["findings"].fillna("")], bool)


def fold_thresholds(frame: pd.DataFrame, fpr: float, score: str = "score") -> dict[int, float]:
    """Per fold, the threshold for `fpr` on that fold's own held-out benign scores."""
    out = {}
    for k, part in frame.groupby("fold"):
        out[int(k)] = pick_threshold(part[score].to_numpy(float), part["y"].to_numpy(), fpr)
    return out


def flag_per_fold(frame: pd.DataFrame, thresholds: dict[int, float], score: str = "score") -> np.ndarray:
    """Each file against its own fold's threshold."""
    t = frame["fold"].map(thresholds).to_numpy(float)
    return frame[score].to_numpy(float) >= t


def fpr_calibrated(frame: pd.DataFrame, score: str = "score") -> np.ndarray:
    """Each file's score as 1 - (share of its fold's held-out benign files scoring at or above it):
    one scale across folds, on which a pooled threshold equals per-fold thresholds."""
    out = np.zeros(len(frame))
    s_all = frame[score].to_numpy(float)
    folds = frame["fold"].to_numpy()
    y = frame["y"].to_numpy()
    for k in np.unique(folds):
        mask = folds == k
        neg = np.sort(s_all[mask & (y == 0)])
        if not len(neg):
            out[mask] = np.nan
            continue
        at_or_above = len(neg) - np.searchsorted(neg, s_all[mask], side="left")
        out[mask] = 1.0 - at_or_above / len(neg)
    return out


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    ok = ~np.isnan(s)
    y, s = y[ok], s[ok]
    return float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else math.nan


def fold_auc(frame: pd.DataFrame, score: str = "score") -> float:
    """Per-fold ROC AUC weighted by malicious files: each malicious file against its own fold's benign."""
    total, weight = 0.0, 0
    for _, part in frame.groupby("fold"):
        y = part["y"].to_numpy()
        a = _auc(y, part[score].to_numpy(float))
        if not math.isnan(a):
            total += a * y.sum()
            weight += int(y.sum())
    return total / weight if weight else math.nan


def _point(frame: pd.DataFrame, flagged: np.ndarray) -> dict:
    y = frame["y"].to_numpy()
    pos, neg = int(y.sum()), int((y == 0).sum())
    tp, fp = int((flagged & (y == 1)).sum()), int((flagged & (y == 0)).sum())
    return {"tpr": tp / pos if pos else math.nan, "fpr": fp / neg if neg else math.nan, "tp": tp, "fp": fp,
            "positives": pos, "negatives": neg}


def ooc_metrics(frame: pd.DataFrame, fprs: tuple[float, ...] = REPORTED_FPRS, score: str = "score",
                by: tuple[str, ...] = ("format", COLLECTION)) -> dict:
    """Pooled and per-`by` figures at each FPR (thresholds per fold), with measurability and AUCs."""
    y = frame["y"].to_numpy()
    neg_per_fold = frame[frame["y"] == 0].groupby("fold").size().reindex(sorted(frame["fold"].unique()),
                                                                        fill_value=0)
    out: dict = {"n": len(frame), "positives": int(y.sum()), "negatives": int((y == 0).sum()),
                 "roc_auc": fold_auc(frame, score), "roc_auc_pooled": _auc(y, frame[score].to_numpy(float)),
                 "at": {}, "warnings": []}
    flagged_at = {}
    for f in fprs:
        thresholds = fold_thresholds(frame, f, score)
        flagged = flag_per_fold(frame, thresholds, score)
        flagged_at[f] = flagged
        point = _point(frame, flagged)
        point["measurable"] = bool(out["negatives"] >= math.ceil(1 / f - 1e-9))
        small = [int(k) for k, n in neg_per_fold.items() if n < math.ceil(1 / f - 1e-9)]
        point["strict_folds"] = small  # threshold above the fold's top benign: fewer catches than f allows
        point["thresholds"] = {str(k): v for k, v in thresholds.items()}
        out["at"][f"{f:g}"] = point
        if not point["measurable"]:
            out["warnings"].append(f"TPR at FPR {100 * f:g} % is not measurable: {out['negatives']} benign files, "
                                   f"fewer than the {math.ceil(1 / f)} it takes")
        elif small:
            out["warnings"].append(f"at FPR {100 * f:g} %, folds {', '.join(str(k + 1) for k in small)} hold fewer "
                                   f"than {math.ceil(1 / f)} benign files: their threshold is their highest benign "
                                   "score (stricter than the FPR)")
    for column in by:
        if column not in frame:
            continue
        part_out = {}
        values = frame[column].fillna("").astype(str).to_numpy()
        for value in sorted(set(values)):
            mask = values == value
            sub = frame[mask]
            rec = {"n": int(mask.sum()), "positives": int(sub["y"].sum()), "negatives": int((sub["y"] == 0).sum()),
                   "roc_auc": fold_auc(sub, score), "at": {}}
            for f in fprs:
                p = _point(sub, flagged_at[f][mask])
                p["fpr_measurable"] = bool(rec["negatives"] >= math.ceil(1 / f - 1e-9))
                rec["at"][f"{f:g}"] = p
            part_out[value] = rec
        out[f"by_{column}"] = part_out
    return out


def operating_point(frame: pd.DataFrame, target_fpr: float, suspicious_fpr: float,
                    score: str = "score") -> dict:
    """The bundle's thresholds from out-of-collection scores: the median over folds of each fold's
    threshold for the FPR (folds with too few benign files for it left out while others have enough)."""
    out = {}
    for name, f in (("malicious", target_fpr), ("suspicious", suspicious_fpr)):
        per_fold = fold_thresholds(frame, f, score)
        neg = frame[frame["y"] == 0].groupby("fold").size()
        enough = [t for k, t in per_fold.items() if neg.get(k, 0) >= math.ceil(1 / f - 1e-9)]
        values = enough or list(per_fold.values())
        out[name] = float(np.median(values)) if values else 0.5
        out[f"{name}_per_fold"] = {str(k): v for k, v in per_fold.items()}
    out["suspicious"] = min(out["suspicious"], out["malicious"])
    return out
