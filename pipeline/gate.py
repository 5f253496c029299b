"""Promotion: a candidate replaces the current bundle only when it beats it and the rule scorer.

    decide(candidate_dir, current_dir, eval_table, metric=..., max_fpr=..., min_delta=0.0, force=False) -> Decision
    baseline_bundle(models_dir) -> (folder, source)    current/, or the shipped default when none was promoted
    record_decision(decision, models_dir) -> Path      decisions/<time>-<version>.json beside current/
    publish(candidate_dir, models_dir) -> Path          versions/<version>/ and an atomic swap of current/

The bundle to beat is `current/` under the models folder, and the shipped default bundle while
nothing was promoted yet: a first run never promotes a model worse than what maldoc ships. The
candidate must beat that bundle *and* the rule scorer on the same evaluation files by `metric`
(a true-positive rate at the target false-positive rate by default) and, at its own threshold,
keep its false-positive rate within `max_fpr`. A tie is not a win.

Each bundle scores the evaluation files with its own feature schema (`ModelBundle.load` maps a
bundle's columns by name); a bundle whose schema can no longer be computed cannot be compared,
and the gate refuses unless forced. Scores are verdict scores (a file scores the maximum over
itself and its embedded items), each bundle at its own threshold, as `maldoc evaluate` reports
them. `force` promotes whatever the comparison says; the decision records that it was forced and
what the comparison said.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

LOWER_IS_BETTER = frozenset({"fpr", "brier"})
CURRENT = "current"
VERSIONS = "versions"
DECISIONS = "decisions"
DEFAULT_METRIC = "tpr_at_fpr_0.001"
DEFAULT_MAX_FPR = 0.01  # the `suspicious` floor: a candidate flagging more benign files than this is not shipped
SHIPPED = "shipped default"
FIGURES = ("n", "positives", "negatives", "threshold", "roc_auc", "pr_auc", "brier", "tpr", "fpr", "precision",
           "tpr_at_fpr_0.01", "tpr_at_fpr_0.005", "tpr_at_fpr_0.001")


class SchemaUnavailable(RuntimeError):
    """The bundle's features cannot be computed by this code any more."""


@dataclass
class Decision:
    promote: bool
    reason: str
    metric: str
    candidate: float | None = None  # the metric's value for each contender
    current: float | None = None
    rules: float | None = None
    candidate_version: str = ""
    current_version: str = ""
    current_source: str = ""  # "current" (promoted before), SHIPPED, or "" (no bundle to beat)
    forced: bool = False
    max_fpr: float = DEFAULT_MAX_FPR
    min_delta: float = 0.0
    figures: dict = field(default_factory=dict)  # contender -> its figures on the evaluation files
    files: dict = field(default_factory=dict)  # count and sha256 of the sorted sha256 list
    decided_at: str = ""

    def as_dict(self) -> dict:
        """JSON-safe: an undefined figure (NaN) is null, so other tools can read the record."""
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(self).items()}

    def kfp_metrics(self) -> dict[str, float]:
        """Scalars for a KFP Metrics artifact (NaN and missing values left out)."""
        out = {"promoted": float(self.promote), "forced": float(self.forced), "eval_files": float(self.files["count"]),
               "max_fpr": self.max_fpr}
        for who, figures in self.figures.items():
            for name in (self.metric, "fpr", "tpr", "roc_auc"):
                value = figures.get(name)
                if isinstance(value, int | float) and not math.isnan(value):
                    out[f"{who}_{name}"] = float(value)
        return out


def _predictor(folder: Path) -> tuple[Callable[[np.ndarray], np.ndarray], dict]:
    """predict(rows of this code's schema) -> scores, and the bundle's meta."""
    from maldoc.model import BundleError, ModelBundle

    try:
        bundle = ModelBundle.load(folder)
    except BundleError as exc:
        raise SchemaUnavailable(str(exc)) from None
    return bundle.predict_rows, bundle.meta


def bundle_metrics(folder: str | Path, table) -> dict:
    """The bundle's metrics on the labelled rows of `table`, at its own threshold."""
    from maldoc.training.evaluate import binary_metrics, verdict_scores

    predict, meta = _predictor(Path(folder))
    sub = table.subset(table.labelled())
    scores = verdict_scores(predict, sub)
    out = binary_metrics(sub.y, scores, float(meta["thresholds"]["malicious"]))
    out["version"] = meta.get("version", "")
    return out


def rule_metrics(table) -> dict:
    """The rule scorer's metrics on the same rows, at its own threshold (as `maldoc evaluate` reports it)."""
    from maldoc.training.evaluate import RULE_THRESHOLD, binary_metrics

    sub = table.subset(table.labelled())
    out = binary_metrics(sub.y, sub.meta["rule_score"].to_numpy(float), RULE_THRESHOLD)
    out["version"] = "rules"
    return out


def files_used(table) -> dict:
    """The evaluation files, as a count and one hash of their sorted sha256s (comparable across runs)."""
    shas = sorted(str(s).lower() for s in table.meta["sha256"].iloc[table.labelled()])
    return {"count": len(shas), "sha256_of_sha256_list": hashlib.sha256("\n".join(shas).encode()).hexdigest()}


def _figures(metrics: dict) -> dict:
    """JSON-safe figures: NaN becomes null (the record is read by other tools)."""
    out = {}
    for k in (*FIGURES, "version"):
        v = metrics.get(k)
        out[k] = None if isinstance(v, float) and math.isnan(v) else v
    out["confusion"] = metrics.get("confusion")
    return out


def _better(metric: str, cand: float, other: float, min_delta: float) -> bool:
    if metric in LOWER_IS_BETTER:
        return cand < other - min_delta
    return cand > other + min_delta


def _value(metrics: dict, metric: str) -> float:
    if metric not in metrics or metric in ("n", "positives", "negatives", "threshold"):
        raise ValueError(f"unknown gate metric {metric!r}; use one of "
                         f"{', '.join(k for k in FIGURES if k not in ('n', 'positives', 'negatives', 'threshold'))}")
    return float(metrics[metric])


def baseline_bundle(models_dir: str | Path | None) -> tuple[Path | None, str]:
    """The bundle to beat: the promoted `current/`, else the shipped default, else none."""
    from maldoc.model import default_bundle_path

    if models_dir is not None and (current_bundle(models_dir) / "bundle.json").is_file():
        return current_bundle(models_dir), CURRENT
    shipped = default_bundle_path()
    if (shipped / "bundle.json").is_file():
        return shipped, SHIPPED
    return None, ""


def decide(candidate_dir: str | Path, current_dir: str | Path | None, table, *, metric: str = DEFAULT_METRIC,
           max_fpr: float = DEFAULT_MAX_FPR, min_delta: float = 0.0, force: bool = False,
           current_source: str = CURRENT) -> Decision:
    """Promote the candidate only when its `metric` beats both the bundle at `current_dir` and the
    rule scorer by more than `min_delta`, and its FPR is at most `max_fpr`.

    `current_dir` None (or a folder without a bundle) means nothing to beat but the rules; callers
    pass `baseline_bundle(models_dir)` so that the shipped default stands in for a missing current.
    """
    if not 0.0 <= max_fpr <= 1.0:
        raise ValueError(f"max_fpr must be within [0, 1], got {max_fpr}")
    cand = bundle_metrics(candidate_dir, table)
    rules = rule_metrics(table)
    d = Decision(False, "", metric, _value(cand, metric), None, _value(rules, metric), cand["version"], "", "",
                 force, max_fpr, min_delta, {"candidate": _figures(cand), "rules": _figures(rules)}, files_used(table),
                 dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    refusals: list[str] = []
    if current_dir is not None and (Path(current_dir) / "bundle.json").is_file():
        d.current_source = current_source
        try:
            cur = bundle_metrics(current_dir, table)
        except SchemaUnavailable as exc:
            refusals.append(f"the {current_source} bundle cannot be scored ({exc})")
        else:
            d.current, d.current_version = _value(cur, metric), cur["version"]
            d.figures["current"] = _figures(cur)
    c_val = d.candidate
    n = cand["n"]
    if math.isnan(c_val):
        refusals.append(f"candidate {metric} is undefined on {n} evaluation files")
    else:
        contenders = [("rules", d.rules)] + ([(d.current_source, d.current)] if d.current is not None else [])
        for who, value in contenders:
            if not math.isnan(value) and not _better(metric, c_val, value, min_delta):
                refusals.append(f"candidate {metric} {c_val:.4f} does not beat the {who} {value:.4f}"
                                f"{f' by more than {min_delta:g}' if min_delta else ''}")
    fpr = cand["fpr"]
    if math.isnan(fpr) or fpr > max_fpr:
        refusals.append(f"candidate FPR {fpr:.4f} at its threshold is above the bound {max_fpr:g}"
                        if not math.isnan(fpr) else "candidate FPR is undefined (no benign evaluation files)")
    if refusals:
        d.promote = force
        d.reason = ("forced, although: " if force else "refused: ") + "; ".join(refusals)
    else:
        d.promote = True
        beaten = " and ".join(f"the {who} {v:.4f}" for who, v in
                              [(d.current_source, d.current), ("rules", d.rules)] if v is not None and who)
        d.reason = f"candidate {metric} {c_val:.4f} beats {beaten}; FPR {fpr:.4f} <= {max_fpr:g}"
        if force:
            d.reason += " (force was set, and not needed)"
            d.forced = False
    return d


def record_decision(decision: Decision | dict, models_dir: str | Path) -> Path:
    """Keep every decision, promoted or not, as JSON under `<models_dir>/decisions/`."""
    body = decision.as_dict() if isinstance(decision, Decision) else dict(decision)
    folder = Path(models_dir) / DECISIONS
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (body.get("decided_at") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")).replace(":", "")
    version = str(body.get("candidate_version") or "unversioned").replace(os.sep, "_")
    path = folder / f"{stamp}-{version}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def current_bundle(models_dir: str | Path) -> Path:
    return Path(models_dir) / CURRENT


def publish(candidate_dir: str | Path, models_dir: str | Path, decision: dict | None = None) -> Path:
    """Copy the bundle to `versions/<version>/` and make it `current/` in one rename.

    Serving reads `current/`: the new bundle is complete before it is renamed into place, so a
    reader finds the old bundle, the new one, or (for the instant between two renames) none,
    never half of one. Renames rather than a symlink, because bucket mounts have no symlinks.
    """
    models = Path(models_dir)
    meta = json.loads((Path(candidate_dir) / "bundle.json").read_text())
    version = str(meta.get("version") or "unversioned").replace(os.sep, "_")
    kept = models / VERSIONS / version
    if kept.exists():
        shutil.rmtree(kept)
    shutil.copytree(candidate_dir, kept)
    if decision is not None:
        (kept / "promotion.json").write_text(json.dumps(decision, indent=2, sort_keys=True) + "\n")
    staging = models / f".{CURRENT}.new-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(kept, staging)
    current = current_bundle(models)
    old = models / f".{CURRENT}.old-{os.getpid()}"
    if current.exists():
        current.rename(old)
    staging.rename(current)
    if old.exists():
        shutil.rmtree(old)
    return current
