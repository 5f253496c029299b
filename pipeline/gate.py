"""Promotion: a candidate replaces the current bundle only when it beats it and the rule scorer,
out of collection.

    decide(candidate_dir, current_dir, ooc, table, metric=..., max_fpr=..., min_delta=0.0, force=False) -> Decision
    ooc_figures(frame, score, threshold) -> dict        a contender's figures on out-of-collection files
    baseline_bundle(models_dir) -> (folder, source)     current/, or the shipped default when none was promoted
    record_decision(decision, models_dir) -> Path       decisions/<time>-<version>.json beside current/
    publish(candidate_dir, models_dir) -> Path           versions/<version>/ and an atomic swap of current/

Every figure the gate compares comes from the candidate's own training run, out of collection
(`maldoc.training.ooc`): folds of whole collections (`source_repo`), each real file scored by a
fold model that never saw its collection. Those files are the evaluation files. The rule scorer is
scored on the same files, and every contender's TPR at an FPR is read the same way: a threshold
per fold on that fold's own benign files (fold models' scores are not on one scale). `tpr`, `fpr`
and `precision` are at the contender's own threshold (the bundle's `malicious`, the rules' 0.7).

The bundle to beat is `current/` under the models folder, and the shipped default bundle while
nothing was promoted yet. A bundle is only scored on evaluation files it did not train on (its
`bundle.json` keeps a 16-hex sha256 prefix of every training file), and the candidate is compared
with it on exactly those files, folds and thresholds per fold as above. When too few of them
remain to measure `metric` (fewer benign files than the FPR takes, or one class missing), the
current bundle is not comparable: the record says so with the counts, and the gate decides by the
rule scorer and the FPR bound alone (`rule` in the record names which rule decided). Files from
collections the current bundle trained on count as comparable (only the files themselves are
left out); the record counts them, since on those the comparison favours the current bundle.

A candidate must beat each contender by more than `min_delta` (a tie is not a win), its `metric`
must be measurable on the files it is compared on, and at its own threshold its out-of-collection
FPR must be at most `max_fpr`. A current bundle whose schema can no longer be computed cannot be
compared, and the gate refuses unless forced. `force` promotes whatever the comparison says; the
decision records that it was forced and what the comparison said.
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
AT_FPRS = (0.01, 0.005, 0.001)
COUNTS = ("n", "positives", "negatives", "threshold")
FIGURES = (*COUNTS, "roc_auc", "roc_auc_pooled", "pr_auc", "brier", "tpr", "fpr", "precision",
           *(f"tpr_at_fpr_{f:g}" for f in AT_FPRS))
RULE_BOTH = "beat the current bundle and the rules out of collection, FPR within the bound"
RULE_RULES_ONLY = "beat the rules out of collection, FPR within the bound (current bundle not comparable)"
RULE_RULES_NO_CURRENT = "beat the rules out of collection, FPR within the bound (no current bundle)"


class SchemaUnavailable(RuntimeError):
    """The bundle's features cannot be computed by this code any more."""


@dataclass
class Decision:
    promote: bool
    reason: str
    metric: str
    candidate: float | None = None  # the metric on the evaluation files
    current: float | None = None  # the current bundle's, on the evaluation files it did not train on
    rules: float | None = None  # the rule scorer's, on the evaluation files
    candidate_on_current_files: float | None = None  # the candidate's, on the current bundle's files
    candidate_version: str = ""
    current_version: str = ""
    current_source: str = ""  # "current" (promoted before), SHIPPED, or "" (no bundle to beat)
    current_comparable: bool = False
    rule: str = ""  # which rule decided (RULE_*)
    forced: bool = False
    max_fpr: float = DEFAULT_MAX_FPR
    min_delta: float = 0.0
    # "evaluation": candidate and rules on every OOC file; "current_files": candidate, current and
    # rules on the evaluation files the current bundle did not train on
    figures: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)  # both file sets: counts, digests and sha256 lists
    folds: list = field(default_factory=list)  # collections of each fold
    notes: list = field(default_factory=list)
    decided_at: str = ""

    def as_dict(self) -> dict:
        """JSON-safe: an undefined figure (NaN) is null, so other tools can read the record."""
        from maldoc.training.train import json_safe

        return json_safe(asdict(self))

    def kfp_metrics(self) -> dict[str, float]:
        """Scalars for a KFP Metrics artifact (NaN and missing values left out)."""
        out = {"promoted": float(self.promote), "forced": float(self.forced),
               "eval_files": float(self.files["evaluation"]["count"]),
               "current_files": float(self.files.get("current", {}).get("count", 0)),
               "current_comparable": float(self.current_comparable), "max_fpr": self.max_fpr}
        for view, prefix in (("evaluation", ""), ("current_files", "on_current_files_")):
            for who, figures in self.figures.get(view, {}).items():
                for name in dict.fromkeys((self.metric, "fpr", "tpr", "roc_auc")):
                    value = figures.get(name)
                    if isinstance(value, int | float) and not math.isnan(value):
                        out[f"{prefix}{who}_{name}"] = float(value)
        return out


def _predictor(folder: Path) -> tuple[Callable[[np.ndarray], np.ndarray], dict]:
    """predict(rows of this code's schema) -> scores, and the bundle's meta."""
    from maldoc.model import BundleError, ModelBundle

    try:
        bundle = ModelBundle.load(folder)
    except BundleError as exc:
        raise SchemaUnavailable(str(exc)) from None
    return bundle.predict_rows, bundle.meta


def ooc_figures(frame, score: str, threshold: float) -> dict:
    """One contender's figures on out-of-collection files (`frame`: `fold`, `y` and the `score` column).

    TPR at each FPR and ROC AUC per fold (`training.ooc.ooc_metrics`); `tpr`, `fpr`, `precision`,
    `brier`, `pr_auc` and the confusion matrix at `threshold`, on the pooled scores.
    """
    from maldoc.training.evaluate import binary_metrics, measurable
    from maldoc.training.ooc import ooc_metrics

    y = frame["y"].to_numpy().astype(int)
    s = frame[score].to_numpy(float)
    out = binary_metrics(y, s, threshold)
    both = len(np.unique(y)) == 2
    m = ooc_metrics(frame.assign(score=s), fprs=AT_FPRS, by=())
    out["roc_auc"], out["roc_auc_pooled"] = m["roc_auc"], m["roc_auc_pooled"]
    for f in AT_FPRS:
        out[f"tpr_at_fpr_{f:g}"] = m["at"][f"{f:g}"]["tpr"] if both else math.nan
    out["not_measurable"] = [f"{f:g}" for f in AT_FPRS if not measurable(out["negatives"], f)]
    return {k: out.get(k) for k in (*FIGURES, "confusion", "not_measurable")}


def metric_measurable(metric: str, figures: dict) -> str:
    """Why `metric` cannot be measured on these figures' files ("" when it can)."""
    if not figures["positives"] or not figures["negatives"]:
        return f"{figures['positives']} malicious and {figures['negatives']} benign files: both classes are needed"
    if metric.startswith("tpr_at_fpr_"):
        fpr = float(metric.removeprefix("tpr_at_fpr_"))
        need = math.ceil(1 / fpr - 1e-9)
        if figures["negatives"] < need:
            return f"{figures['negatives']} benign files, fewer than the {need} it takes to measure TPR at FPR {fpr:g}"
    return ""


def file_set(shas) -> dict:
    """A set of files: count, one hash of the sorted sha256 list (comparable across runs), and the list."""
    shas = sorted({str(s).lower() for s in shas})
    return {"count": len(shas), "sha256_of_sha256_list": hashlib.sha256("\n".join(shas).encode()).hexdigest(),
            "sha256": shas}


def _better(metric: str, cand: float, other: float, min_delta: float) -> bool:
    if metric in LOWER_IS_BETTER:
        return cand < other - min_delta
    return cand > other + min_delta


def _check_metric(metric: str) -> None:
    if metric not in FIGURES or metric in COUNTS:
        raise ValueError(f"unknown gate metric {metric!r}; use one of "
                         f"{', '.join(k for k in FIGURES if k not in COUNTS)}")


def baseline_bundle(models_dir: str | Path | None) -> tuple[Path | None, str]:
    """The bundle to beat: the promoted `current/`, else the shipped default, else none."""
    from maldoc.model import default_bundle_path

    if models_dir is not None and (current_bundle(models_dir) / "bundle.json").is_file():
        return current_bundle(models_dir), CURRENT
    shipped = default_bundle_path()
    if (shipped / "bundle.json").is_file():
        return shipped, SHIPPED
    return None, ""


def _trained_on(meta: dict, shas: np.ndarray) -> np.ndarray | None:
    """Which of `shas` the bundle trained on, by the sha256 prefixes its meta keeps (None: not recorded)."""
    data = meta.get("training_data") or {}
    prefixes = data.get("sha256_prefixes")
    if prefixes is None:
        return None
    n = int(data.get("sha256_prefix_len", 16))
    known = set(prefixes)
    return np.array([str(s).lower()[:n] in known for s in shas], bool)


def _current_scores(predict, table, shas: np.ndarray) -> np.ndarray:
    """The current bundle's verdict scores of the files `shas`, from their rows in the feature table."""
    from maldoc.training.evaluate import verdict_scores

    first: dict[str, int] = {}
    for i, s in enumerate(table.meta["sha256"].astype(str).str.lower()):
        first.setdefault(s, i)
    missing = [s for s in shas if s not in first]
    if missing:
        raise ValueError(f"{len(missing)} evaluation files have no row in the feature table")
    return verdict_scores(predict, table, np.array([first[s] for s in shas], dtype=int))


def _fold_collections(frame) -> list[list[str]]:
    repo = frame["source_repo"].fillna("").astype(str) if "source_repo" in frame else None
    if repo is None:
        return []
    return [sorted(set(repo[frame["fold"] == k])) for k in sorted(frame["fold"].unique())]


def decide(candidate_dir: str | Path, current_dir: str | Path | None, ooc, table=None, *,
           metric: str = DEFAULT_METRIC, max_fpr: float = DEFAULT_MAX_FPR, min_delta: float = 0.0,
           force: bool = False, current_source: str = CURRENT) -> Decision:
    """Promote the candidate only when, out of collection, its `metric` beats the rule scorer and
    (when comparable) the bundle at `current_dir` by more than `min_delta`, and its FPR is at most
    `max_fpr`.

    `ooc` is the candidate's training run's out-of-collection frame (`steps.write_ooc_scores`:
    `sha256`, `fold`, `y`, `score`, `score_rules`); `table` is the feature table holding those
    files' rows, to score the current bundle with. `current_dir` None (or a folder without a
    bundle) means nothing to beat but the rules; callers pass `baseline_bundle(models_dir)` so
    that the shipped default stands in for a missing current.
    """
    from maldoc.training.evaluate import RULE_THRESHOLD

    _check_metric(metric)
    if not 0.0 <= max_fpr <= 1.0:
        raise ValueError(f"max_fpr must be within [0, 1], got {max_fpr}")
    frame = ooc.reset_index(drop=True)
    frame = frame.assign(sha256=frame["sha256"].astype(str).str.lower())
    cand_meta = json.loads((Path(candidate_dir) / "bundle.json").read_text())
    cand_threshold = float(cand_meta["thresholds"]["malicious"])
    cand = ooc_figures(frame, "score", cand_threshold)
    rules = ooc_figures(frame, "score_rules", RULE_THRESHOLD)
    d = Decision(False, "", metric, cand[metric], rules=rules[metric],
                 candidate_version=str(cand_meta.get("version", "")), forced=force, max_fpr=max_fpr,
                 min_delta=min_delta,
                 figures={"evaluation": {"candidate": cand, "rules": rules}},
                 files={"evaluation": file_set(frame["sha256"])}, folds=_fold_collections(frame),
                 decided_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    refusals: list[str] = []
    d.rule = RULE_RULES_NO_CURRENT
    if current_dir is not None and (Path(current_dir) / "bundle.json").is_file():
        d.current_source = current_source
        try:
            _compare_current(d, Path(current_dir), frame, table, cand_threshold, refusals)
        except SchemaUnavailable as exc:
            refusals.append(f"the {current_source} bundle cannot be scored ({exc})")
            d.rule = RULE_BOTH
    why = metric_measurable(metric, cand)
    if why:
        refusals.append(f"candidate {metric} is not measurable on the {cand['n']} evaluation files: {why}")
    else:
        contenders = [("rules", d.rules, d.candidate)]
        if d.current_comparable:
            contenders.append((d.current_source, d.current, d.candidate_on_current_files))
        for who, value, mine in contenders:
            if mine is None or math.isnan(mine):
                refusals.append(f"candidate {metric} is undefined on the {who}' files")
            elif value is not None and not math.isnan(value) and not _better(metric, mine, value, min_delta):
                refusals.append(f"candidate {metric} {mine:.4f} does not beat the {who} {value:.4f}"
                                f"{f' by more than {min_delta:g}' if min_delta else ''}"
                                f"{' on the files it did not train on' if who != 'rules' else ''}")
    fpr = cand["fpr"]
    if fpr is None or math.isnan(fpr) or fpr > max_fpr:
        refusals.append(f"candidate FPR {fpr:.4f} at its threshold is above the bound {max_fpr:g}"
                        if fpr is not None and not math.isnan(fpr) else
                        "candidate FPR is undefined (no benign evaluation files)")
    prefix = " ".join(f"{n}." for n in d.notes)
    if refusals:
        d.promote = force
        d.reason = ("forced, although: " if force else "refused: ") + "; ".join(refusals)
    else:
        d.promote = True
        beaten = [f"the rules {d.rules:.4f} ({cand['n']} files)"]
        if d.current_comparable:
            beaten.insert(0, f"the {d.current_source} {d.current:.4f} ({d.files['current']['count']} files it "
                             f"did not train on, where the candidate has {d.candidate_on_current_files:.4f})")
        d.reason = (f"promoted: candidate {metric} {d.candidate:.4f} out of collection beats "
                    f"{' and '.join(beaten)}; FPR {fpr:.4f} <= {max_fpr:g}")
        if force:
            d.reason += " (force was set, and not needed)"
            d.forced = False
    if prefix:
        d.reason += f". {prefix}"
    return d


def _compare_current(d: Decision, folder: Path, frame, table, cand_threshold: float, refusals: list[str]) -> None:
    """Score the current bundle on the evaluation files it did not train on; fill `d` (figures, files, rule)."""
    from maldoc.training.evaluate import RULE_THRESHOLD

    predict, meta = _predictor(folder)
    d.current_version = str(meta.get("version", ""))
    who = f"the {d.current_source} bundle"
    seen = _trained_on(meta, frame["sha256"].to_numpy())
    total = len(frame)
    if seen is None:
        d.rule = RULE_RULES_ONLY
        d.notes.append(f"current bundle not comparable: {who} records no list of its training files")
        return
    keep = np.flatnonzero(~seen)
    sub = frame.iloc[keep].reset_index(drop=True)
    d.files["current"] = {**file_set(sub["sha256"]), "excluded_trained_on": int(seen.sum())}
    sources = set((meta.get("training_data") or {}).get("sources") or []) - {"", "synthetic"}
    if "source_repo" in sub:
        d.files["current"]["from_collections_it_trained_on"] = int(sub["source_repo"].astype(str).isin(sources).sum())
    if len(sub) and table is None:
        raise ValueError("the feature table is needed to score the current bundle")
    if len(sub):
        sub = sub.assign(score_current=_current_scores(predict, table, sub["sha256"].to_numpy()))
        current = ooc_figures(sub, "score_current", float(meta["thresholds"]["malicious"]))
        d.figures["current_files"] = {"candidate": ooc_figures(sub, "score", cand_threshold), "current": current,
                                      "rules": ooc_figures(sub, "score_rules", RULE_THRESHOLD)}
        d.current = current[d.metric]
        d.candidate_on_current_files = d.figures["current_files"]["candidate"][d.metric]
        why = metric_measurable(d.metric, current)
    else:
        why = "no file left"
    if why:
        d.rule = RULE_RULES_ONLY
        d.notes.append(f"current bundle not comparable: {int(seen.sum())} of {total} evaluation files were in its "
                       f"training data; on the {len(sub)} left, {d.metric}: {why}")
        return
    d.current_comparable = True
    d.rule = RULE_BOTH
    n_in = d.files["current"].get("from_collections_it_trained_on", 0)
    if n_in:
        d.notes.append(f"{n_in} of the {len(sub)} files the current bundle is compared on come from collections "
                       "it trained on: there the comparison favours it")


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
