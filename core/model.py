"""The model bundle: a LightGBM model with everything needed to trust and explain its output.

A bundle is a folder:
  model.txt      LightGBM's text model
  bundle.json    version, schema id and feature names, thresholds, metrics, training summary,
                 library versions, and the sha256 of model.txt
  MODEL_CARD.md  for people: what it was trained on, how it was evaluated, what limits it
Loading verifies the model's hash and maps the bundle's columns onto the code's schema by name:
a bundle trained on an older schema scores a newer, larger one (columns it never saw are left
out of its input, and a verdict says which of them the file has values for). It is refused only
when a column it splits on is no longer computed or the schema's major version changed, because
silently misaligned features give confident nonsense.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from maldoc import catalogue
from maldoc.lgbm import FastBooster, LightGBMError
from maldoc.schema import SCHEMA, Schema, node_features, vectorize_values
from maldoc.types import Node
from maldoc.verdict import Reason

DEFAULT_BUNDLE = "models/default"  # inside the maldoc package (core/models/default)
TOP_REASONS = 8


class BundleError(RuntimeError):
    """The bundle is missing, corrupt, or built for another feature schema."""


@dataclass
class ModelBundle:
    booster: object  # lightgbm.Booster (training) or maldoc.lgbm.FastBooster (loaded for scoring)
    meta: dict = field(default_factory=dict)
    path: Path | None = None

    # -- the Scorer interface -------------------------------------------------------------
    @property
    def version(self) -> str:
        return self.meta.get("version", "unversioned")

    @property
    def threshold(self) -> float:
        return float(self.meta["thresholds"]["malicious"])

    @property
    def suspicious_threshold(self) -> float:
        return float(self.meta["thresholds"]["suspicious"])

    def _columns(self) -> np.ndarray:
        cols = getattr(self, "_cols", None)
        if cols is None:  # a bundle built in memory by training: the code's own schema
            cols = self._cols = np.arange(len(SCHEMA))
        return cols

    def model_rows(self, rows: np.ndarray) -> np.ndarray:
        """Rows in the code's schema order -> rows in the order the booster was trained on."""
        cols = self._columns()
        if len(cols) == rows.shape[1] and getattr(self, "_identity", True):
            return rows
        out = np.full((rows.shape[0], len(cols)), np.nan, dtype=rows.dtype)
        known = cols >= 0
        out[:, known] = rows[:, cols[known]]
        return out

    @property
    def feature_names(self) -> tuple[str, ...]:
        names = self.meta.get("feature_names")
        return tuple(names) if names else SCHEMA.names

    def unseen(self, row: np.ndarray) -> list[str]:
        """Features of the code's schema this bundle predates that `row` (schema order) has values for."""
        extra = getattr(self, "_unseen_idx", None)
        if extra is None or not len(extra):
            return []
        values = row[extra]
        return [SCHEMA.names[i] for i, v in zip(extra, values, strict=True) if not math.isnan(v) and v != 0]

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(self.model_rows(rows), num_threads=1), dtype=float)

    def contributions(self, rows: np.ndarray) -> np.ndarray:
        """LightGBM pred_contrib for rows in the code's schema order: (n, model features + 1)."""
        return np.asarray(self.booster.predict(self.model_rows(rows), pred_contrib=True, num_threads=1))

    def score_tree(self, feats: list[dict[str, float]], reasons_from: float = 0.0) -> list:
        """Every node's score from one batched prediction; reasons (pred_contrib, ~3x the cost of a
        prediction) only for the nodes scoring at least `reasons_from`: a clean node has none."""
        from maldoc.scoring import NodeScore

        if not feats:
            return []
        rows = np.vstack([vectorize_values(values) for values in feats])
        own = self.model_rows(rows)
        raw = np.asarray(self.booster.predict(own, raw_score=True, num_threads=1), dtype=float)
        probs = 1.0 / (1.0 + np.exp(-raw))
        explain = np.flatnonzero(probs >= reasons_from)
        reasons: dict[int, list[Reason]] = {}
        if len(explain):
            contrib = np.asarray(self.booster.predict(own[explain], pred_contrib=True, num_threads=1))
            for j, i in enumerate(explain):
                reasons[int(i)] = self.reasons(own[i], contrib[j, :-1])
        return [NodeScore(float(probs[i]), reasons.get(i, []), self.unseen(rows[i])) for i in range(len(feats))]

    def score(self, node: Node) -> tuple[float, list[Reason]]:
        scored = self.score_tree([node_features(node)])[0]
        return scored.score, scored.reasons

    def reasons(self, row: np.ndarray, contrib: np.ndarray, top: int = TOP_REASONS) -> list[Reason]:
        """Top positive contributions; `row` and `contrib` are in the bundle's own column order.

        Only what a person can act on: a missing or zero value (a rule that did not fire, "not a
        PDF", a count of none) is never a reason, whatever its contribution to the model."""
        names = self.feature_names
        out = []
        for i in np.argsort(-contrib):
            if contrib[i] <= 0 or len(out) >= top:
                break
            if math.isnan(row[i]) or row[i] == 0:
                continue
            name = names[i]
            out.append(Reason(feature=name, title=describe(name, float(row[i])), value=float(row[i]),
                              contribution=round(float(contrib[i]), 4)))
        return out

    # -- persistence ----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, *, schema: Schema = SCHEMA) -> ModelBundle:
        folder = Path(path) if path else default_bundle_path()
        meta_file, model_file = folder / "bundle.json", folder / "model.txt"
        if not meta_file.is_file() or not model_file.is_file():
            raise BundleError(f"{folder}: not a model bundle (needs bundle.json and model.txt)")
        try:
            meta = json.loads(meta_file.read_text())
        except json.JSONDecodeError as exc:
            raise BundleError(f"{meta_file}: unreadable: {exc}") from None
        text = model_file.read_bytes()
        if hashlib.sha256(text).hexdigest() != meta.get("model_sha256"):
            raise BundleError(f"{model_file}: sha256 does not match bundle.json; the bundle is corrupt or edited")
        try:  # the C API directly: scoring never pays for importing the lightgbm package
            booster = FastBooster(text.decode())
        except LightGBMError as exc:
            raise BundleError(f"{model_file}: LightGBM cannot load it ({exc})") from None
        bundle = cls(booster=booster, meta=meta, path=folder)
        bundle._bind(schema, folder)
        return bundle

    def _bind(self, schema: Schema, folder: Path) -> None:
        """Map the bundle's columns onto `schema` by name, or refuse with what to do."""
        meta, booster = self.meta, self.booster
        names = meta.get("feature_names")
        if not names:  # bundles from before feature names were recorded: only an exact match works
            if meta.get("schema_hash") != schema.hash:
                raise BundleError(f"{folder}: built for feature schema {meta.get('schema_id')} without a list of "
                                  f"its features; this maldoc computes {schema.id}. Retrain it (`maldoc train`).")
            names = list(schema.names)
        if booster.num_feature() != len(names):
            raise BundleError(f"{folder}: model has {booster.num_feature()} features, bundle.json lists {len(names)}")
        major = schema_major(meta)
        if major != schema.version:
            raise BundleError(f"{folder}: built for feature schema major version {major}, this maldoc computes "
                              f"version {schema.version}. Retrain it (`maldoc train`) or use a matching release.")
        used = np.asarray(booster.feature_importance("split")) > 0
        gone = [n for n, u in zip(names, used, strict=True) if u and n not in schema.index]
        if gone:
            raise BundleError(f"{folder}: {len(gone)} features the model uses are no longer computed "
                              f"(e.g. {gone[0]}). Retrain it (`maldoc train`) or use a matching release.")
        self._cols = np.array([schema.index.get(n, -1) for n in names], dtype=np.int64)
        self._identity = bool(len(names) == len(schema) and np.array_equal(self._cols, np.arange(len(schema))))
        known = set(names)
        self._unseen_idx = np.array([i for i, n in enumerate(schema.names) if n not in known], dtype=np.int64)
        meta["feature_names"] = list(names)

    def save(self, folder: str | Path, card: str = "") -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        text = self.booster.model_to_string().encode()
        meta = dict(self.meta)
        meta.update(model_sha256=hashlib.sha256(text).hexdigest(), schema_hash=SCHEMA.hash, schema_id=SCHEMA.id,
                    schema_version=SCHEMA.version, n_features=len(SCHEMA), feature_names=list(SCHEMA.names))
        (folder / "model.txt").write_bytes(text)
        (folder / "bundle.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if card:
            (folder / "MODEL_CARD.md").write_text(card)
        self.meta, self.path = meta, folder
        return folder


def describe(feature: str, value: float) -> str:
    """A feature name as a person reads it."""
    if feature.startswith("rule."):
        try:
            return catalogue.get(feature[5:]).title
        except catalogue.CatalogueError:
            return feature
    if feature.startswith("flag."):
        return f"analysis flag: {feature[5:]}"
    if feature == "tree.rule_score":
        return f"the findings' combined weight = {round(value, 3)}"
    if feature.startswith(("file.type.", "tree.type.")):
        kind = "is" if feature.startswith("file.") else "contains"
        return f"{kind} {feature.rsplit('.', 1)[1]}" if value else f"not {feature.rsplit('.', 1)[1]}"
    if math.isnan(value):
        return f"{feature} not measured"
    shown = int(value) if float(value).is_integer() else round(value, 3)
    return f"{feature} = {shown}"


def schema_major(meta: dict) -> int:
    """The feature-schema major version a bundle was built for (from `schema_id`: v<major>-<hash>)."""
    if "schema_version" in meta:
        return int(meta["schema_version"])
    head = str(meta.get("schema_id", "")).split("-", 1)[0]
    return int(head[1:]) if head[1:].isdigit() else -1


def default_bundle_path() -> Path:
    return Path(str(resources.files("maldoc").joinpath(DEFAULT_BUNDLE)))


def load_scorer(path: str | Path | None = None):
    """The bundle at `path`; with no path, the shipped bundle or, when none ships, the rule scorer.

    A bundle that exists but fails to load is an error, never a quiet fall-back to rules.
    """
    from maldoc.scoring import RuleScorer

    if path is None and not (default_bundle_path() / "bundle.json").is_file():
        return RuleScorer()
    if str(path) == "rules":
        return RuleScorer()
    return ModelBundle.load(path)
