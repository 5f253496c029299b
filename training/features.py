"""The feature table: every corpus file analysed once, vectorised, cached on disk by content.

    build_feature_table(items, cache_dir=None, jobs=None, *, limits=None, options=None,
                        progress=False) -> FeatureTable
    extract_rows(items, jobs=None, *, limits=None, options=None, progress=False) -> pd.DataFrame
    cache_key(limits=None, options=None) -> str
    FeatureCache(cache_dir, key).lookup(shas) / .add(rows) / .save()
    FeatureTable.save(path) / FeatureTable.load(path) / .subset(idx) / .labelled() / .y

Extraction runs through `maldoc.engine.Engine.analyze_many` (worker pool: hard per-file timeouts,
crash isolation) and `maldoc.schema.tree_features`, exactly as serving does. A table row holds the root file's vector
(what the model trains on) and the vectors of every analysed node below it (`sub_X`), because a
verdict scores each embedded item too and takes the maximum (`maldoc.scoring.build_verdict`):
evaluation reproduces that. Files whose analysis failed keep their row, flags and error lines.

The cache is one parquet file per (schema id, extractor versions, options and limits), with one
row per (sha256, node): the same bytes are never analysed twice for the same configuration, and
the Kubeflow shards of issue 7 can merge their caches with `FeatureCache.add`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from maldoc.extractor import Options, registry
from maldoc.limits import Limits
from maldoc.schema import SCHEMA, tree_features, vectorize_values
from maldoc.types import Node, sha256

MAX_SUB_ROWS = 64  # descendant nodes kept per file for verdict-style scoring (first, depth first)
INFO_COLUMNS = ("file_type", "flags", "errors", "findings", "rule_score", "elapsed_ms", "n_nodes")
LABELS = ("malicious", "benign")  # what the model learns; `malformed` is robustness input only


def cache_key(limits: Limits | None = None, options: Options | None = None) -> str:
    """Everything that changes a feature vector for the same bytes."""
    limits = limits or Limits()
    options = options or Options()
    # every limit (time and memory too) can change what a file yields, so all of them key the cache
    text = json.dumps({"schema": SCHEMA.id, "extractors": registry().versions(), "options": options.cache_key(),
                       "limits": limits.as_dict()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _node_rows(node: Node, sha: str) -> list[dict]:
    """One record per analysed node: index 0 is the file itself, the rest are descendants."""
    pairs = tree_features(node)  # every node's subtree aggregate, in one bottom-up pass
    score = pairs[0][1]["tree.rule_score"]
    findings = sorted({f.rule_id for sub in node.walk() for f in sub.result.findings})
    flags = sorted({f.value for sub in node.walk() for f in sub.result.flags})
    errors = [e for sub in node.walk() for e in sub.result.errors][:5]
    info = {"sha256": sha, "file_type": node.file_type.value, "flags": ",".join(flags),
            "errors": " | ".join(errors)[:500], "findings": ",".join(findings), "rule_score": float(score),
            "elapsed_ms": float(node.elapsed_ms), "n_nodes": len(pairs)}
    rows = []
    for i, (_sub, values) in enumerate(pairs[: MAX_SUB_ROWS + 1]):
        rec = dict(info) if i == 0 else {"sha256": sha}
        rec["node"] = i
        rec["vector"] = vectorize_values(values)
        rows.append(rec)
    return rows


def _frame(records: list[dict]) -> pd.DataFrame:
    if not records:
        cols = ["sha256", "node", *INFO_COLUMNS, *SCHEMA.names]
        return pd.DataFrame({c: pd.Series(dtype=float if c in SCHEMA.index else object) for c in cols})
    vectors = np.vstack([r.pop("vector") for r in records]).astype(np.float32)
    info = pd.DataFrame.from_records(records)
    return pd.concat([info, pd.DataFrame(vectors, columns=list(SCHEMA.names))], axis=1)


def extract_rows(items: Iterable, jobs: int | None = None, *, limits: Limits | None = None,
                 options: Options | None = None, progress: bool = False) -> pd.DataFrame:
    """Analyse each distinct file of `items` (anything with `.read()`); jobs=0 runs in-process."""
    from maldoc.engine import Engine, Unreadable

    limits = limits or Limits()
    options = options or Options()
    todo: dict[str, object] = {}
    for item in items:
        todo.setdefault(_sha(item), item)
    records: list[dict] = []
    if todo:
        with Engine(limits=limits, options=options, jobs=jobs) as engine:
            batch = ((sha, item.read) for sha, item in todo.items())
            for sha, node in engine.analyze_many(batch, progress="extracting features" if progress else False,
                                                 total=len(todo)):
                if isinstance(node, Unreadable):
                    continue  # the loader vouched for these files; a vanished one has no row
                records += _node_rows(node, sha)
    return _frame(records)


def _sha(item) -> str:
    sha = getattr(item, "sha256", "") or ""
    return sha.lower() if sha else sha256(item.read())


class FeatureCache:
    """Rows per (sha256, node) for one cache key, in `<dir>/features-<key>.parquet`."""

    def __init__(self, cache_dir: str | Path, key: str) -> None:
        self.path = Path(cache_dir) / f"features-{key}.parquet"
        self._rows: pd.DataFrame | None = None  # read on first use: `known()` alone needs one column
        self._dirty = False

    @property
    def rows(self) -> pd.DataFrame:
        if self._rows is None:
            self._rows = pd.read_parquet(self.path) if self.path.is_file() else _frame([])
        return self._rows

    @rows.setter
    def rows(self, value: pd.DataFrame) -> None:
        self._rows = value

    def known(self) -> set[str]:
        if self._rows is None and self.path.is_file():  # a shard asking what is done: sha256 column only
            return set(pd.read_parquet(self.path, columns=["sha256"])["sha256"].unique())
        return set(self.rows["sha256"].unique())

    def add(self, rows: pd.DataFrame) -> None:
        if rows.empty:
            return
        merged = pd.concat([self.rows, rows], ignore_index=True) if len(self.rows) else rows
        self.rows = merged.drop_duplicates(subset=["sha256", "node"], keep="last").reset_index(drop=True)
        self._dirty = True

    def lookup(self, shas: Iterable[str]) -> pd.DataFrame:
        wanted = set(shas)
        return self.rows[self.rows["sha256"].isin(wanted)]

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        self.rows.to_parquet(tmp, index=False)
        tmp.replace(self.path)  # atomic: a killed run never leaves half a cache
        self._dirty = False


@dataclass
class FeatureTable:
    """`meta` (one row per item: label, manifest columns, extraction info), `X` its root vectors,
    `sub_X` the descendants' vectors with `sub_owner` the meta row each belongs to."""

    meta: pd.DataFrame
    X: np.ndarray
    names: tuple[str, ...] = SCHEMA.names
    sub_X: np.ndarray = field(default_factory=lambda: np.zeros((0, len(SCHEMA)), np.float32))
    sub_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    schema_id: str = SCHEMA.id

    def __len__(self) -> int:
        return len(self.meta)

    @property
    def y(self) -> np.ndarray:
        return (self.meta["label"].to_numpy() == "malicious").astype(int)

    def labelled(self) -> np.ndarray:
        """Row indices of files the model learns from and is measured on (not `malformed`)."""
        return np.flatnonzero(self.meta["label"].isin(LABELS).to_numpy())

    def subset(self, idx: Sequence[int] | np.ndarray) -> FeatureTable:
        idx = np.asarray(idx, dtype=np.int64)
        remap = np.full(len(self.meta), -1, np.int64)
        remap[idx] = np.arange(len(idx))
        keep = remap[self.sub_owner] >= 0 if len(self.sub_owner) else np.zeros(0, bool)
        return FeatureTable(self.meta.iloc[idx].reset_index(drop=True), self.X[idx], self.names,
                            self.sub_X[keep], remap[self.sub_owner[keep]], self.schema_id)

    def check_schema(self) -> None:
        if tuple(self.names) != SCHEMA.names:
            raise ValueError(f"feature table built for schema {self.schema_id}, this maldoc computes {SCHEMA.id}:"
                             " rebuild it (the cache key changes with the schema, so a rebuild re-extracts)")

    def summary(self) -> dict:
        m = self.meta
        counts = m.groupby(["label", "format"]).size() if "format" in m else m.groupby("label").size()
        digest = hashlib.sha256("\n".join(sorted(f"{s},{lab}" for s, lab in zip(m["sha256"], m["label"],
                                                                            strict=True))).encode())
        return {"files": len(m), "by_label": m["label"].value_counts().to_dict(),
                "by_label_format": {"/".join(map(str, k)) if isinstance(k, tuple) else str(k): int(v)
                                    for k, v in counts.items()},
                "sources": sorted(m["source_repo"].dropna().unique().tolist()) if "source_repo" in m else [],
                "data_sha256": digest.hexdigest(), "schema_id": self.schema_id}

    # -- persistence (one parquet file; the pipeline passes tables between components) --------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        root = pd.concat([self.meta.reset_index(drop=True).assign(_owner=-1),
                          pd.DataFrame(self.X, columns=list(self.names))], axis=1)
        sub = pd.DataFrame(self.sub_X, columns=list(self.names)).assign(_owner=self.sub_owner)
        frame = pd.concat([root, sub], ignore_index=True)
        frame.attrs = {}
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), b"maldoc.schema_id":
                                               self.schema_id.encode()})
        pq.write_table(arrow, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> FeatureTable:
        import pyarrow.parquet as pq

        arrow = pq.read_table(path)
        schema_id = (arrow.schema.metadata or {}).get(b"maldoc.schema_id", b"").decode()
        frame = arrow.to_pandas()
        meta_cols = [c for c in frame.columns if "." not in c and c != "_owner"]
        names = tuple(c for c in frame.columns if "." in c)
        is_root = frame["_owner"].to_numpy() == -1
        meta = frame.loc[is_root, meta_cols].reset_index(drop=True)
        return cls(meta, frame.loc[is_root, list(names)].to_numpy(np.float32), names,
                   frame.loc[~is_root, list(names)].to_numpy(np.float32),
                   frame.loc[~is_root, "_owner"].to_numpy(np.int64), schema_id)


def _item_meta(item, sha: str) -> dict:
    meta = {k: v for k, v in (getattr(item, "meta", {}) or {}).items() if "." not in k}
    meta.update(sha256=sha, label=item.label, path=str(item.path))
    meta.setdefault("format", "")
    meta.setdefault("source_repo", "")
    meta.setdefault("source_path", "")
    meta.setdefault("synthetic", False)
    return meta


def build_feature_table(items: Iterable, cache_dir: str | Path | None = None, jobs: int | None = None, *,
                        limits: Limits | None = None, options: Options | None = None,
                        progress: bool = False) -> FeatureTable:
    """The table for `items` (corpus `Item`s or in-memory items), extracting only what the cache lacks."""
    items = list(items)
    shas = [_sha(item) for item in items]
    cache = FeatureCache(cache_dir, cache_key(limits, options)) if cache_dir else None
    known = cache.known() if cache else set()
    missing = [item for item, sha in zip(items, shas, strict=True) if sha not in known]
    fresh = extract_rows(missing, jobs, limits=limits, options=options, progress=progress)
    if cache:
        cache.add(fresh)
        cache.save()
        rows = cache.lookup(shas)
    else:
        rows = fresh
    roots = rows[rows["node"] == 0].set_index("sha256")
    meta = pd.DataFrame([_item_meta(item, sha) for item, sha in zip(items, shas, strict=True)])
    info = roots.loc[shas, list(INFO_COLUMNS)].reset_index(drop=True)
    meta = pd.concat([meta.reset_index(drop=True), info], axis=1)
    meta["format"] = [f or t for f, t in zip(meta["format"], meta["file_type"], strict=True)]
    X = roots.loc[shas, list(SCHEMA.names)].to_numpy(np.float32)
    subs = rows[rows["node"] > 0]
    position: dict[str, list[int]] = {}
    for i, sha in enumerate(shas):
        position.setdefault(sha, []).append(i)
    owner_list = [position[s] for s in subs["sha256"]]
    repeat = np.array([len(o) for o in owner_list], dtype=np.int64)
    sub_X = np.repeat(subs[list(SCHEMA.names)].to_numpy(np.float32), repeat, axis=0) if len(subs) else \
        np.zeros((0, len(SCHEMA)), np.float32)
    sub_owner = np.array([i for o in owner_list for i in o], dtype=np.int64)
    return FeatureTable(meta, X, SCHEMA.names, sub_X, sub_owner, SCHEMA.id)
