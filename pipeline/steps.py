"""What each pipeline step does, as plain functions (the kfp components only wrap these).

    list_corpus(corpus_dirs, work_dir) -> (listing, files)        every file of the corpora, once per sha256
    shard_listing(listing, work_dir, shards) -> [shard listing]    files to shards by sha256
    extract_shard(shard_listing, cache_dir, out_dir, ...) -> dict  features of a shard's uncached files
    merge_features(listing, cache_dir, shard_dirs, table_path, ...) -> dict   cache += shards; full table
    train_candidate(table_path, out_dir, report_dir, params, ooc_path) -> dict   bundle, report, OOC scores
    evaluation_summary(bundle_dir, ooc_path) -> dict               OOC figures, ROC points, confusion matrix

Listings are JSON files named by their content digest under `<cache_dir>/listings/`: a shard's
inputs are then plain strings that only change when the shard's files change, so KFP step caching
reuses an unchanged shard. Files go to shards by their sha256, not their position, so that new
samples change only the shards they fall into. Feature extraction itself, the feature cache,
training and metrics are `maldoc.training`'s, as in `maldoc train` / `maldoc evaluate`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from maldoc.extractor import Options
from maldoc.limits import Limits

LISTINGS = "listings"


def write_json(path: str, data: dict) -> None:
    """Metrics live in artifact metadata; a file as well lets kfp.local's step cache see the artifact."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def limits_from_json(text: str) -> Limits:
    return Limits(**json.loads(text or "{}"))


def options_from_json(passwords_json: str) -> Options:
    return Options(passwords=tuple(json.loads(passwords_json or "[]")))


def _write_listing(work_dir: Path, kind: str, body: dict) -> tuple[str, str]:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()[:20]
    path = work_dir / LISTINGS / f"{kind}-{digest}.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return str(path), digest


def shard_of(sha: str, shards: int) -> int:
    return int(sha[:8], 16) % shards


FEEDBACK_SOURCE = "analyst-feedback"  # the collection name of files that came in through feedback


def list_corpus(corpus_dirs: str | list[str], work_dir: str, *, feedback_db: str | None = None,
                quarantine_dir: str | None = None, log=print) -> tuple[str, int]:
    """Every labelled file of the corpora with its sha256 and size: (listing path, number of files).

    Several corpora are one set, each sha256 listed once (the first corpus holding it wins, as in
    `maldoc train --corpus A --corpus B`). Each entry names its corpus, and its path relative to
    it (or, `packed`, its name inside the corpus' label ZIP). With a feedback store, an analyst's
    newest label replaces the corpus label of the same file (a correction), and labelled files the
    corpora lack are added from `quarantine_dir`, found by their sha256; both carry `feedback` in
    their meta, which the model card counts.
    """
    from maldoc.training.corpus import load_corpora

    roots = [Path(d).resolve() for d in ([corpus_dirs] if isinstance(corpus_dirs, str) else corpus_dirs)]
    if not roots:
        raise ValueError("no corpus given")
    items = load_corpora(roots, log=log)
    entries = []
    for item in items:
        root = Path(item.meta["corpus"])
        path = Path(item.path).resolve()
        inside = path.is_relative_to(root)
        entries.append({"corpus": str(root), "path": str(path.relative_to(root)) if inside else path.name,
                        "packed": not inside, "label": item.label, "sha256": item.sha256.lower(),
                        "zip_label": item.label,  # the label ZIP a packed file is in (feedback may relabel it)
                        "size": path.stat().st_size, "meta": dict(item.meta)})  # meta keeps `corpus` too
    for item in items:  # unpacked ZIPs are read again, by `listed_items`, where they are needed
        item.owner.close()
    body: dict = {"corpora": [str(r) for r in roots], "items": entries}
    if feedback_db:
        body["feedback"] = add_feedback(entries, feedback_db, quarantine_dir)
    listing, _ = _write_listing(Path(work_dir), "corpus", body)
    return listing, len(entries)


def corpus_dirs_from_json(text: str) -> list[str]:
    """The pipeline's `corpus_dirs_json` parameter: a JSON list of folders (one folder alone is allowed)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text  # a bare path
    dirs = [value] if isinstance(value, str) else value
    if not isinstance(dirs, list) or not dirs or not all(isinstance(d, str) and d for d in dirs):
        raise ValueError(f"corpus_dirs_json: expected a JSON list of corpus folders, got {text!r}")
    return dirs


def add_feedback(entries: list[dict], feedback_db: str, quarantine_dir: str | None) -> dict:
    """Apply the analysts' labels to the listing entries in place; returns what was done."""
    from maldoc.serving.feedback import locate, read_latest

    records = read_latest(feedback_db)
    by_sha: dict[str, list[dict]] = {}
    for entry in entries:
        by_sha.setdefault(entry["sha256"], []).append(entry)
    relabelled = 0
    for sha, record in records.items():
        for entry in by_sha.get(sha, []):
            if entry["label"] != record.label:
                relabelled += 1
            entry["label"] = record.label
            entry["meta"] = {**entry["meta"], "feedback": "relabelled"}
    absent = {sha: r for sha, r in records.items() if sha not in by_sha}
    found = locate(absent, quarantine_dir) if absent and quarantine_dir else {}
    for sha, path in sorted(found.items()):
        entries.append({"corpus": str(path.parent), "path": path.name, "packed": False,
                        "label": absent[sha].label, "sha256": sha,
                        "size": path.stat().st_size,
                        "meta": {"source_repo": FEEDBACK_SOURCE, "source_path": path.name, "feedback": "added"}})
    return {"records": len(records), "relabelled": relabelled, "added": len(found),
            "not_found": len(absent) - len(found)}


def shard_listing(listing: str, work_dir: str, shards: int) -> list[str]:
    """One listing per shard (empty ones left out), each file's shard chosen by its sha256."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    body = read_listing(listing)
    per_shard: list[list[dict]] = [[] for _ in range(shards)]
    seen: set[str] = set()
    for entry in body["items"]:
        if entry["sha256"] not in seen:  # the same bytes are analysed once, whatever their labels
            seen.add(entry["sha256"])
            per_shard[shard_of(entry["sha256"], shards)].append(entry)
    return [_write_listing(Path(work_dir), "shard", {"items": part})[0]
            for part in per_shard if part]


_UNITS = {"": 1, "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4,
          "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}


def quantity_bytes(text: str) -> int:
    """A Kubernetes memory quantity ("512Mi", "2G", "1073741824") in bytes."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kMGT]i?|Ki)?\s*", str(text))
    if not match:
        raise ValueError(f"memory quantity {text!r}: expected a number with an optional unit (Mi, Gi, M, G)")
    return int(float(match.group(1)) * _UNITS[match.group(2) or ""])


def shard_memory(shard_listing: str, request: str, limit: str, per_gib: str, most: str) -> tuple[str, str]:
    """The extraction step's memory request and limit for one shard, from its bytes.

    request = `request` + `per_gib` for every GiB in the shard, at most `most`; the limit is
    `limit` or the request when that is larger (Kubernetes wants limit >= request).
    """
    total = sum(int(e.get("size", 0)) for e in read_listing(shard_listing)["items"])
    cap = quantity_bytes(most)
    want = min(cap, quantity_bytes(request) + int(quantity_bytes(per_gib) * total / (1 << 30)))
    top = min(cap, max(want, quantity_bytes(limit)))
    mib = 1 << 20
    return f"{-(-want // mib)}Mi", f"{-(-top // mib)}Mi"


def read_listing(path: str) -> dict:
    return json.loads(Path(path).read_text())


@contextmanager
def listed_items(listing: dict) -> Iterator[list]:
    """The listing's entries as corpus `Item`s whose files can be read (ZIP corpora are unpacked)."""
    from maldoc.training.corpus import Corpus, Item

    entries = listing["items"]
    corpora = {root: Corpus(root) for root in sorted({e["corpus"] for e in entries if e["packed"]})}
    try:
        packed: dict[tuple[str, str, str], Path] = {}
        for root, corpus in corpora.items():
            packed.update({(root, it.label, Path(it.path).name): Path(it.path) for it in corpus.items()})
        items = []
        for e in entries:
            root = e["corpus"]
            path = packed.get((root, e.get("zip_label", e["label"]), e["path"]), Path(e["path"])) if e["packed"] else \
                Path(root) / e["path"]
            items.append(Item(path=path, label=e["label"], sha256=e["sha256"], meta=e["meta"]))
        yield items
    finally:
        for corpus in corpora.values():
            corpus.close()


def extract_shard(shard_listing: str, cache_dir: str, out_dir: str, *, limits: Limits, options: Options,
                  jobs: int | None = 1) -> dict:
    """Extract the shard's files the shared cache lacks; their rows go to a cache file in `out_dir`.

    The shared cache is only read here: shards run at once, and the merge step is its one writer.
    """
    from maldoc.training.features import FeatureCache, cache_key, extract_rows

    key = cache_key(limits, options)
    known = FeatureCache(cache_dir, key).known()
    with listed_items(read_listing(shard_listing)) as items:
        missing = [item for item in items if item.sha256 not in known]
        rows = extract_rows(missing, jobs, limits=limits, options=options)
    out = FeatureCache(out_dir, key)
    out.add(rows)
    out.save()
    Path(out_dir).mkdir(parents=True, exist_ok=True)  # an empty shard output is still a folder
    return {"files": len(items), "extracted": len(missing), "cached": len(items) - len(missing)}


def merge_features(listing: str, cache_dir: str, shard_dirs: list[str], table_path: str, *, limits: Limits,
                   options: Options, jobs: int | None = 1, synthetic: int = 0, seed: int = 0) -> dict:
    """Add every shard's rows to the shared cache, then build the corpus' feature table from it."""
    from maldoc.training.features import FeatureCache, build_feature_table, cache_key

    key = cache_key(limits, options)
    cache = FeatureCache(cache_dir, key)
    before = len(cache.known())
    for folder in shard_dirs:
        cache.add(FeatureCache(folder, key).rows)
    cache.save()
    with listed_items(read_listing(listing)) as items:
        if synthetic:
            from maldoc.training.synthetic import synthetic_items

            items = items + synthetic_items(synthetic, seed)
        # everything the shards saw is cached now; only synthetic items can still need extraction
        table = build_feature_table(items, cache_dir, jobs, limits=limits, options=options)
    table.save(table_path)
    return {"files": len(table), "cache_files_before": before, "cache_files_after": len(cache.known())}


# -- training and evaluation -------------------------------------------------------------------
def train_params(params_json: str):
    """`TrainParams` from a JSON object of its fields (lists become tuples)."""
    from maldoc.training.train import TrainParams

    given = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(params_json or "{}").items()}
    return TrainParams(**given)


def feedback_counts(table) -> dict[str, int]:
    """Training files that analysts labelled: relabelled corpus files and files added from quarantine."""
    if "feedback" not in table.meta:
        return {}
    marks = table.meta["feedback"].iloc[table.labelled()].fillna("").astype(str)
    counts = {k: int(v) for k, v in marks[marks != ""].value_counts().items()}
    return {"relabelled": counts.get("relabelled", 0), "added": counts.get("added", 0)} if counts else {}


def train_candidate(table_path: str, out_dir: str, report_dir: str, params_json: str = "{}",
                    ooc_path: str | None = None, *, log=print) -> dict:
    """`maldoc train` on a saved table: the bundle (with its model card), the training report, and
    the out-of-collection scores the gate decides on (`ooc_path`, parquet: one row per real file).

    The figures returned are the out-of-collection ones (folds of whole collections, thresholds
    per fold), not the campaign view: those are what the gate compares.
    """
    from maldoc.training.card import model_card
    from maldoc.training.drift import write_drift_bins
    from maldoc.training.features import FeatureTable
    from maldoc.training.report import write_report
    from maldoc.training.train import json_safe, train_bundle

    table = FeatureTable.load(table_path)
    bundle, report = train_bundle(table, train_params(params_json), log=log)
    counted = feedback_counts(table)
    if counted:
        bundle.meta["feedback"] = counted
    bundle.save(out_dir, card=model_card(bundle.meta, report))
    write_drift_bins(out_dir, table)  # the reference the service's drift figures compare live traffic with
    if ooc_path:
        write_ooc_scores(report["oof"], ooc_path)
    paths = write_report(report, report_dir, title=f"maldoc model {bundle.version}")
    ooc = report["ooc"]
    return {"version": bundle.version, "ooc": json_safe(ooc["metrics"]), "ooc_rules": json_safe(ooc["rules"]),
            "ooc_unit": ooc["unit"], "ooc_folds": json_safe(ooc["folds"]),
            "report_html": str(paths.get("html", "")), "thresholds": bundle.meta["thresholds"]}


OOC_COLUMNS = ("sha256", "label", "format", "source_repo", "fold", "y", "score", "score_rules")


def write_ooc_scores(frame, path: str) -> None:
    """The training run's out-of-collection frame, trimmed to what the gate and the evaluation read."""
    frame = frame.rename(columns={"score_lightgbm": "score"})
    if "source_repo" not in frame:
        frame = frame.assign(source_repo="")
    out = frame[list(OOC_COLUMNS)].copy()
    for column in ("sha256", "label", "format", "source_repo"):
        out[column] = out[column].fillna("").astype(str)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    out.reset_index(drop=True).to_parquet(path, index=False)


def read_ooc_scores(path: str):
    import pandas as pd

    return pd.read_parquet(path)


def roc_points(y: np.ndarray, scores: np.ndarray, max_points: int = 200) -> dict[str, list[float]]:
    """ROC curve points (thresholds kept finite, for JSON), thinned to at most `max_points`."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y, scores)
    thr = np.clip(thr, 0.0, 1.0)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr, thr = fpr[keep], tpr[keep], thr[keep]
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "threshold": thr.tolist()}


def evaluation_summary(bundle_dir: str, ooc_path: str) -> dict:
    """What the KFP UI draws of the candidate: its out-of-collection figures (the gate's), the rule
    scorer's on the same files, the ROC curve and the confusion matrix at the bundle's threshold.

    The ROC curve is drawn on each file's score as its fold's benign exceedance
    (`training.ooc.fpr_calibrated`): fold models' raw scores are not on one scale.
    """
    from maldoc.model import ModelBundle
    from maldoc.pipeline.gate import ooc_figures
    from maldoc.training.evaluate import RULE_THRESHOLD
    from maldoc.training.ooc import fpr_calibrated

    bundle = ModelBundle.load(bundle_dir)
    frame = read_ooc_scores(ooc_path)
    cand = ooc_figures(frame, "score", bundle.threshold)
    rules = ooc_figures(frame, "score_rules", RULE_THRESHOLD)
    y = frame["y"].to_numpy()
    calibrated = fpr_calibrated(frame)
    ok = ~np.isnan(calibrated)
    c = cand["confusion"]

    def scalars(figures: dict) -> dict[str, float]:
        return {k: float(v) for k, v in figures.items() if isinstance(v, int | float) and not isinstance(v, bool)
                and not np.isnan(v)}

    return {
        "version": bundle.version,
        "scalars": scalars(cand), "rules": scalars(rules),
        "roc": roc_points(y[ok], calibrated[ok]) if len(np.unique(y[ok])) == 2 else None,
        "confusion": {"categories": ["benign", "malicious"], "matrix": [[c["tn"], c["fp"]], [c["fn"], c["tp"]]]},
    }
