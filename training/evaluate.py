"""Metrics of scores against labels, and evaluation of a saved bundle on a feature table.

    pick_threshold(scores, y, target_fpr) -> float
    tpr_at_fpr(scores, y, fpr) -> float
    binary_metrics(y, scores, threshold) -> dict
    breakdown(meta, y, scores, threshold, by) -> dict[value, dict]
    verdict_scores(predict, table, idx=None) -> np.ndarray
    evaluate_bundle(bundle, table) -> dict              (metrics, breakdowns, misclassified, rules baseline)
    training_overlap(bundle, meta) -> dict              evaluation files / collections the bundle trained on
    measurable(negatives, fpr) -> bool                  enough benign files to show that FPR

Scores follow what a verdict does (`maldoc.scoring.build_verdict`): a file scores the maximum
over itself and every embedded item it carries, so an e-mail whose attachment is malicious is
malicious. `malformed` rows never enter a figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

REPORTED_FPRS = (0.01, 0.005, 0.001)
RULE_THRESHOLD = 0.7  # the rule scorer's malicious threshold (maldoc.scoring.RuleScorer)


def pick_threshold(scores: np.ndarray, y: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold at which at most `target_fpr` of the negatives score >= it."""
    neg = np.sort(np.asarray(scores, float)[np.asarray(y) == 0])[::-1]
    if len(neg) == 0:
        return 0.5
    allowed = math.floor(target_fpr * len(neg) + 1e-9)
    if allowed >= len(neg):
        return float(neg[-1])
    # just above the (allowed+1)-th highest negative: ties at that score all stay below
    return float(min(1.0, np.nextafter(neg[allowed], np.inf)))


def tpr_at_fpr(scores: np.ndarray, y: np.ndarray, fpr: float) -> float:
    """Share of positives caught at the threshold `pick_threshold` gives for `fpr`."""
    y = np.asarray(y)
    if not (y == 1).any():
        return math.nan
    t = pick_threshold(scores, y, fpr)
    return float((np.asarray(scores)[y == 1] >= t).mean())


def binary_metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y).astype(int)
    scores = np.asarray(scores, float)
    pred = scores >= threshold
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    tn = int((~pred & (y == 0)).sum())
    both = len(np.unique(y)) == 2
    out = {
        "n": len(y), "positives": int(y.sum()), "negatives": int((y == 0).sum()), "threshold": float(threshold),
        "roc_auc": float(roc_auc_score(y, scores)) if both else math.nan,
        "pr_auc": float(average_precision_score(y, scores)) if both else math.nan,
        "brier": float(brier_score_loss(y, np.clip(scores, 0, 1))) if len(y) else math.nan,
        "tpr": tp / (tp + fn) if tp + fn else math.nan,
        "fpr": fp / (fp + tn) if fp + tn else math.nan,
        "precision": tp / (tp + fp) if tp + fp else math.nan,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }
    out["not_measurable"] = []
    for f in REPORTED_FPRS:
        out[f"tpr_at_fpr_{f:g}"] = tpr_at_fpr(scores, y, f) if both else math.nan
        if not measurable(out["negatives"], f):
            out["not_measurable"].append(f"{f:g}")
    return out


def measurable(negatives: int, fpr: float) -> bool:
    """Whether `negatives` benign files can show a false-positive rate as small as `fpr` (one file in 1/fpr)."""
    return negatives >= math.ceil(1 / fpr - 1e-9)


def measurability_warnings(m: dict, what: str = "the evaluation set") -> list[str]:
    return [f"{what} has {m['negatives']} benign files, fewer than the {math.ceil(1 / float(f))} it takes to measure "
            f"TPR at FPR {100 * float(f):g} %: that figure is not measurable" for f in m.get("not_measurable", [])]


def training_overlap(bundle, meta: pd.DataFrame) -> dict:
    """Evaluation files (and collections) the bundle was trained on, from what its meta recorded."""
    data = bundle.meta.get("training_data", {}) or {}
    prefixes = data.get("sha256_prefixes")
    sources = set(data.get("sources") or [])
    out: dict = {"recorded": prefixes is not None}
    if prefixes is not None:
        n = int(data.get("sha256_prefix_len", 16))
        known = set(prefixes)
        out["files"] = np.array([str(s)[:n] in known for s in meta["sha256"]], bool)
    repo = meta["source_repo"].fillna("").astype(str) if "source_repo" in meta else pd.Series([""] * len(meta))
    out["collections"] = repo.isin(sources - {"", "synthetic"}).to_numpy()
    return out


def breakdown(meta: pd.DataFrame, y: np.ndarray, scores: np.ndarray, threshold: float, by: str) -> dict:
    """Metrics per value of a meta column (format, source_repo, fold)."""
    out = {}
    values = meta[by].fillna("").astype(str).to_numpy()
    for value in sorted(set(values)):
        mask = values == value
        out[value] = binary_metrics(y[mask], scores[mask], threshold)
    return out


def calibration(y: np.ndarray, scores: np.ndarray, bins: int = 10) -> dict:
    """Reliability curve: mean predicted score against observed malicious share, per score bin."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    rows = [{"bin": i, "mean_score": float(scores[which == i].mean()), "observed": float(y[which == i].mean()),
             "n": int((which == i).sum())} for i in range(bins) if (which == i).any()]
    ece = sum(r["n"] * abs(r["mean_score"] - r["observed"]) for r in rows) / max(1, len(y))
    return {"bins": rows, "ece": float(ece)}


def verdict_scores(predict: Callable[[np.ndarray], np.ndarray], table, idx: np.ndarray | None = None) -> np.ndarray:
    """Per file, the max of `predict` over its root vector and every descendant's vector."""
    idx = np.arange(len(table)) if idx is None else np.asarray(idx)
    scores = np.asarray(predict(table.X[idx]), float)
    if len(table.sub_owner):
        pos = np.full(len(table), -1)
        pos[idx] = np.arange(len(idx))
        keep = pos[table.sub_owner] >= 0
        if keep.any():
            sub = np.asarray(predict(table.sub_X[keep]), float)
            np.maximum.at(scores, pos[table.sub_owner[keep]], sub)
    return scores


def top_reasons(bundle, rows: np.ndarray, top: int = 3) -> list[str]:
    """The model's top reasons per row, as people read them (LightGBM pred_contrib)."""
    if not len(rows):
        return []
    contrib = bundle.contributions(rows)
    own = bundle.model_rows(rows)
    return ["; ".join(r.title for r in bundle.reasons(row, c[:-1], top)) for row, c in zip(own, contrib, strict=True)]


def misclassified(meta: pd.DataFrame, y: np.ndarray, scores: np.ndarray, threshold: float,
                  reasons: list[str] | None = None, limit: int = 60) -> list[dict]:
    wrong = np.flatnonzero((scores >= threshold) != (y == 1))
    wrong = wrong[np.argsort(-np.abs(scores[wrong] - threshold))][:limit]
    cols = [c for c in ("sha256", "label", "format", "source_repo", "source_path", "family_or_note", "flags",
                        "findings") if c in meta]
    out = []
    for i in wrong:
        rec = {c: str(meta[c].iloc[i]) for c in cols}
        rec["score"] = round(float(scores[i]), 4)
        rec["error"] = "false positive" if y[i] == 0 else "false negative"
        if reasons is not None:
            rec["reasons"] = reasons[i]
        out.append(rec)
    return out


def evaluate_bundle(bundle, table) -> dict:
    """A saved bundle scored on a labelled table at its own thresholds, next to the rule scorer.

    The headline is over the files the bundle never saw, from collections it never saw (its meta
    records both); `warnings` counts the rest. Without such files the figures are over all files,
    and the headline says they are in-collection.
    """
    table.check_schema()
    idx = table.labelled()
    if not len(idx):
        raise ValueError("no malicious or benign files to evaluate on")
    full = table.subset(idx)
    overlap = training_overlap(bundle, full.meta)
    warnings = []
    seen_file = overlap.get("files", np.zeros(len(full), bool))
    if not overlap["recorded"]:
        warnings.append("the bundle records no list of its training files: overlap with them cannot be counted")
    elif seen_file.any():
        warnings.append(f"{int(seen_file.sum())} of {len(full)} evaluation files were in the model's training data: "
                        "the headline leaves them out")
    seen = seen_file | overlap["collections"]
    if overlap["collections"].any():
        n_coll = full.meta.loc[overlap["collections"], "source_repo"].nunique()
        warnings.append(f"{int(overlap['collections'].sum())} evaluation files come from {n_coll} collections the "
                        "model was trained on: the headline leaves them out")
    unseen = np.flatnonzero(~seen)
    if len(unseen) and len(np.unique(full.y[unseen])) == 2:
        sub, headline = full.subset(unseen), "out of collection (files and collections the model never saw)"
    else:
        sub = full.subset(np.flatnonzero(~seen_file)) if (~seen_file).any() and len(
            np.unique(full.y[~seen_file])) == 2 else full
        headline = "in collection (no unseen collection holds both labels)"
        warnings.append(f"figures are {headline}: they do not predict unseen collections")
    from maldoc.training.ooc import certain_rows

    y = sub.y
    certain = certain_rows(sub.meta)  # the product labels these malicious whatever the score (maldoc.policy)
    model_scores = verdict_scores(bundle.predict_rows, sub)
    scores = np.where(certain, 1.0, model_scores)
    t = bundle.threshold
    rules = np.where(certain, 1.0, sub.meta["rule_score"].to_numpy(float))
    lgbm = binary_metrics(y, scores, t)
    warnings += measurability_warnings(lgbm)
    result = {
        "headline": headline, "warnings": warnings,
        "overlap": {"files": int(seen_file.sum()), "collection_files": int(overlap["collections"].sum()),
                    "scored": len(sub), "recorded": overlap["recorded"]},
        "bundle": {"version": bundle.version, "thresholds": bundle.meta.get("thresholds", {}),
                   "schema_id": bundle.meta.get("schema_id")},
        "data": sub.summary(),
        "models": {"lightgbm": lgbm, "rules": binary_metrics(y, rules, RULE_THRESHOLD)},
        "by_format": breakdown(sub.meta, y, scores, t, "format"),
        "by_source": breakdown(sub.meta, y, scores, t, "source_repo"),
        "calibration": calibration(y, model_scores),
        "misclassified": misclassified(sub.meta, y, scores, t, top_reasons(bundle, sub.X)),
        "failed_files": failed_files(table.meta),
    }
    result["scores"] = pd.DataFrame({"sha256": sub.meta["sha256"], "label": sub.meta["label"], "y": y,
                                     "format": sub.meta["format"], "lightgbm": scores, "rules": rules,
                                     "elapsed_ms": sub.meta["elapsed_ms"].to_numpy(float)})
    return result


def failed_files(meta: pd.DataFrame) -> dict:
    """How many files carry each failure flag, malformed inputs included (robustness)."""
    counts: dict[str, int] = {}
    for flags in meta["flags"].fillna(""):
        for f in filter(None, flags.split(",")):
            if f in ("timed_out", "worker_died", "parse_error", "limit_exceeded", "truncated", "encrypted"):
                counts[f] = counts.get(f, 0) + 1
    return counts
