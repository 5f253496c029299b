"""Promotion: a candidate replaces the current bundle only when it scores better on the same files.

    decide(candidate_dir, current_dir, eval_table, metric=..., min_delta=0.0, force=False) -> Decision
    publish(candidate_dir, models_dir) -> Path          versions/<version>/ and an atomic swap of current/

Each bundle scores the evaluation files with its own feature schema: the table holds this code's
schema; a bundle built for another schema is scored on the columns it was trained on when its
bundle.json lists them (`feature_names`), the schema's major version is the same and every column
it splits on is still computed. Otherwise its schema can no longer be computed, the comparison is impossible, and
the gate refuses unless forced. Scores are verdict scores (a file scores the maximum over itself
and its embedded items), each bundle at its own threshold, as `maldoc evaluate` reports them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

LOWER_IS_BETTER = frozenset({"fpr", "brier"})
CURRENT = "current"
VERSIONS = "versions"


class SchemaUnavailable(RuntimeError):
    """The bundle's features cannot be computed by this code any more."""


@dataclass
class Decision:
    promote: bool
    reason: str
    metric: str
    candidate: float | None = None
    current: float | None = None
    candidate_version: str = ""
    current_version: str = ""
    forced: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def _predictor(folder: Path) -> tuple[Callable[[np.ndarray], np.ndarray], dict]:
    """predict(rows of this code's schema) -> scores, and the bundle's meta.

    The bundle maps its own columns onto this code's schema by name (`ModelBundle.load`); one it
    cannot map (a column it uses is gone, another major version) cannot be compared.
    """
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


def _better(metric: str, cand: float, cur: float, min_delta: float) -> bool:
    if metric in LOWER_IS_BETTER:
        return cand < cur - min_delta
    return cand > cur + min_delta


def _value(metrics: dict, metric: str) -> float:
    if metric not in metrics:
        raise ValueError(f"unknown gate metric {metric!r}; use one of "
                         f"{', '.join(k for k, v in metrics.items() if isinstance(v, float))}")
    return float(metrics[metric])


def decide(candidate_dir: str | Path, current_dir: str | Path | None, table, *, metric: str = "tpr_at_fpr_0.001",
           min_delta: float = 0.0, force: bool = False) -> Decision:
    """Promote the candidate only when its `metric` beats the current bundle's by more than `min_delta`."""
    cand = bundle_metrics(candidate_dir, table)
    c_val = _value(cand, metric)
    base = Decision(False, "", metric, c_val, None, cand["version"], "", False)
    if math.isnan(c_val):
        base.reason = f"candidate {metric} is undefined on {cand['n']} evaluation files"
        return base
    if current_dir is None or not (Path(current_dir) / "bundle.json").is_file():
        base.promote, base.reason = True, "no current bundle"
        return base
    try:
        cur = bundle_metrics(current_dir, table)
    except SchemaUnavailable as exc:
        base.forced = force
        base.promote = force
        base.reason = f"{'forced: ' if force else 'refused: '}the current bundle cannot be scored ({exc})"
        return base
    base.current, base.current_version = _value(cur, metric), cur["version"]
    if math.isnan(base.current) or _better(metric, c_val, base.current, min_delta):
        base.promote = True
        base.reason = f"candidate {metric} {c_val:.4f} beats current {base.current:.4f}"
    else:
        base.reason = (f"refused: candidate {metric} {c_val:.4f} does not beat current {base.current:.4f}"
                       f" by more than {min_delta:g}")
    return base


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
