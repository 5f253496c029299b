"""What each pipeline step does, as plain functions (the kfp components only wrap these).

    list_corpus(corpus_dir, work_dir) -> (listing, files)         every file with its sha256
    shard_listing(listing, work_dir, shards) -> [shard listing]    files to shards by sha256
    extract_shard(shard_listing, cache_dir, out_dir, ...) -> dict  features of a shard's uncached files
    merge_features(listing, cache_dir, shard_dirs, table_path, ...) -> dict   cache += shards; full table
    split_eval(table, frac, seed) -> (train_idx, eval_idx)         stable, leak-free evaluation files
    train_candidate(table_path, out_dir, report_dir, params) -> dict
    evaluation_summary(bundle_dir, table_path) -> dict             metrics, ROC points, confusion matrix

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


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


def list_corpus(corpus_dir: str, work_dir: str, *, feedback_db: str | None = None,
                quarantine_dir: str | None = None) -> tuple[str, int]:
    """Every labelled file of the corpus with its sha256 and size: (listing path, number of files).

    With a feedback store, an analyst's newest label replaces the corpus label of the same file
    (a correction), and labelled files the corpus lacks are added from `quarantine_dir`, found by
    their sha256; both carry `feedback` in their meta, which the model card counts.
    """
    from maldoc.training.corpus import Corpus

    root = Path(corpus_dir).resolve()
    entries = []
    with Corpus(root) as corpus:
        for item in corpus.items():
            path = Path(item.path).resolve()
            inside = path.is_relative_to(root)
            entries.append({"path": str(path.relative_to(root)) if inside else path.name, "packed": not inside,
                            "label": item.label, "sha256": (item.sha256 or _sha256_file(path)).lower(),
                            "size": path.stat().st_size, "meta": dict(item.meta)})
    body = {"corpus": str(root), "items": entries}
    if feedback_db:
        body["feedback"] = add_feedback(entries, feedback_db, quarantine_dir)
    listing, _ = _write_listing(Path(work_dir), "corpus", body)
    return listing, len(entries)


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
        entries.append({"path": str(path), "packed": False, "label": absent[sha].label, "sha256": sha,
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
    return [_write_listing(Path(work_dir), "shard", {"corpus": body["corpus"], "items": part})[0]
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

    root = Path(listing["corpus"])
    entries = listing["items"]
    corpus = Corpus(root) if any(e["packed"] for e in entries) else None
    try:
        packed: dict[tuple[str, str], Path] = {}
        if corpus is not None:
            packed = {(it.label, Path(it.path).name): Path(it.path) for it in corpus.items()}
        items = []
        for e in entries:
            path = packed.get((e["label"], e["path"]), Path(e["path"])) if e["packed"] else root / e["path"]
            items.append(Item(path=path, label=e["label"], sha256=e["sha256"], meta=e["meta"]))
        yield items
    finally:
        if corpus is not None:
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


# -- evaluation files --------------------------------------------------------------------------
def _eval_keys(meta) -> list[str]:
    """A campaign (collection + campaign) where the manifest names one, else the file itself.

    Unlike training's CV groups these never depend on the corpus size (no splitting of large
    groups), so they stay the same as files are added.
    """
    shas = meta["sha256"].astype(str)
    if "family_or_note" not in meta:
        return shas.tolist()
    campaign = meta["family_or_note"].fillna("").astype(str).str.split(";").str[0].str.strip()
    source = meta["source_repo"].fillna("").astype(str) if "source_repo" in meta else ""
    return [f"{s}|{c}" if c else sha for s, c, sha in zip(source, campaign, shas, strict=True)]


def split_eval(table, frac: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows to train on and rows to evaluate (and gate) on.

    A leak group (identical files, a mail and its attachments, a campaign when the manifest names
    one) goes to the evaluation side when a hash of its key (campaign, else smallest sha256) falls
    under `frac`, so a file stays on its side from one retraining to the next and a current bundle
    trained by this pipeline never saw the evaluation files either. Synthetic and `malformed` rows
    always train. Falls back to a stratified grouped hold-out when hashing leaves a class out of
    either side (tiny corpora).
    """
    from maldoc.training.splits import holdout, leak_groups

    meta = table.meta
    labelled = table.labelled()
    synthetic = meta["synthetic"].astype(bool).to_numpy() if "synthetic" in meta else np.zeros(len(meta), bool)
    real = labelled[~synthetic[labelled]]
    if len(real) < 2:
        raise ValueError("no labelled, non-synthetic files to evaluate on: give the pipeline a real corpus")
    sub = meta.iloc[real].reset_index(drop=True)
    keys = np.array(_eval_keys(sub), dtype=object)
    groups = leak_groups(sub.assign(_eval_group=keys), "_eval_group", split_large=False)
    smallest = {g: min(keys[groups == g]) for g in np.unique(groups)}

    def draw(g) -> bool:
        digest = hashlib.sha256(f"{seed}:{smallest[g]}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < frac

    on_eval = np.array([draw(g) for g in groups], dtype=bool)
    y = table.y[real]
    if len(np.unique(y[on_eval])) < 2 or len(np.unique(y[~on_eval])) < 2:
        _, test = holdout(sub, groups, frac, seed)
        on_eval = np.zeros(len(real), bool)
        on_eval[test] = True
    eval_idx = real[on_eval]
    train_idx = np.setdiff1d(np.arange(len(meta)), eval_idx)
    return train_idx, eval_idx


def split_table(table_path: str, train_path: str, eval_path: str, frac: float, seed: int) -> dict:
    from maldoc.training.features import FeatureTable

    table = FeatureTable.load(table_path)
    train_idx, eval_idx = split_eval(table, frac, seed)
    table.subset(train_idx).save(train_path)
    table.subset(eval_idx).save(eval_path)
    return {"train": len(train_idx), "eval": len(eval_idx)}


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


def train_candidate(table_path: str, out_dir: str, report_dir: str, params_json: str = "{}", *, log=print) -> dict:
    """`maldoc train` on a saved table: the bundle (with its model card) and the training report."""
    from maldoc.training.card import model_card
    from maldoc.training.drift import write_drift_bins
    from maldoc.training.features import FeatureTable
    from maldoc.training.report import write_report
    from maldoc.training.train import train_bundle

    table = FeatureTable.load(table_path)
    bundle, report = train_bundle(table, train_params(params_json), log=log)
    counted = feedback_counts(table)
    if counted:
        bundle.meta["feedback"] = counted
    bundle.save(out_dir, card=model_card(bundle.meta, report))
    write_drift_bins(out_dir, table)  # the reference the service's drift figures compare live traffic with
    paths = write_report(report, report_dir, title=f"maldoc model {bundle.version}")
    return {"version": bundle.version, "cv": report["models"]["lightgbm"],
            "report_html": str(paths.get("html", "")), "thresholds": bundle.meta["thresholds"]}


def roc_points(y: np.ndarray, scores: np.ndarray, max_points: int = 200) -> dict[str, list[float]]:
    """ROC curve points (thresholds kept finite, for JSON), thinned to at most `max_points`."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y, scores)
    thr = np.clip(thr, 0.0, 1.0)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr, thr = fpr[keep], tpr[keep], thr[keep]
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "threshold": thr.tolist()}


SCALAR_METRICS = ("roc_auc", "pr_auc", "tpr", "fpr", "precision", "brier", "tpr_at_fpr_0.01", "tpr_at_fpr_0.005",
                  "tpr_at_fpr_0.001", "threshold", "n", "positives", "negatives")


def evaluation_summary(bundle_dir: str, table_path: str, report_dir: str | None = None) -> dict:
    """`maldoc evaluate` of a bundle on a saved table, plus what the KFP UI draws."""
    from maldoc.model import ModelBundle
    from maldoc.training.evaluate import evaluate_bundle
    from maldoc.training.features import FeatureTable

    bundle = ModelBundle.load(bundle_dir)
    result = evaluate_bundle(bundle, FeatureTable.load(table_path))
    if report_dir:
        from maldoc.training.report import write_report

        write_report(result, report_dir, title=f"maldoc evaluation of {bundle.version}")
    m = result["models"]["lightgbm"]
    c = m["confusion"]
    scores = result["scores"]
    both = scores["y"].nunique() == 2
    return {
        "version": bundle.version,
        "scalars": {k: float(m[k]) for k in SCALAR_METRICS if m.get(k) is not None and not np.isnan(m[k])},
        "rules": {k: float(v) for k, v in result["models"]["rules"].items()
                  if k in SCALAR_METRICS and v is not None and not np.isnan(v)},
        "roc": roc_points(scores["y"].to_numpy(), scores["lightgbm"].to_numpy()) if both else None,
        "confusion": {"categories": ["benign", "malicious"], "matrix": [[c["tn"], c["fp"]], [c["fn"], c["tp"]]]},
    }
