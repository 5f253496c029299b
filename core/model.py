"""The model bundle: a LightGBM model with everything needed to trust and explain its output.

A bundle is a folder:
  model.txt      LightGBM's text model
  bundle.json    version, schema id and feature names, thresholds, metrics, training summary,
                 library versions, and the sha256 of model.txt
  MODEL_CARD.md  for people: what it was trained on, how it was evaluated, what limits it
Loading verifies the model's hash and refuses a schema other than the code's, with a message
saying which and what to do, because silently misaligned features give confident nonsense.
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
from maldoc.schema import SCHEMA, Schema, vectorize
from maldoc.types import Node
from maldoc.verdict import Reason

DEFAULT_BUNDLE = "models/default"  # inside the maldoc package (core/models/default)
TOP_REASONS = 8


class BundleError(RuntimeError):
    """The bundle is missing, corrupt, or built for another feature schema."""


@dataclass
class ModelBundle:
    booster: object  # lightgbm.Booster
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

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(rows, num_threads=1), dtype=float)

    def score(self, node: Node) -> tuple[float, list[Reason]]:
        row = vectorize(node)[None, :]
        contrib = self.booster.predict(row, pred_contrib=True, num_threads=1)[0]
        logit = float(contrib.sum())
        prob = 1.0 / (1.0 + math.exp(-logit))
        return prob, self.reasons(row[0], contrib[:-1])

    def reasons(self, row: np.ndarray, contrib: np.ndarray, top: int = TOP_REASONS) -> list[Reason]:
        out = []
        for i in np.argsort(-contrib):
            if contrib[i] <= 0 or len(out) >= top:
                break
            if math.isnan(row[i]):
                continue  # "this extractor never ran" is no reason a person can act on
            name = SCHEMA.names[i]
            out.append(Reason(feature=name, title=describe(name, float(row[i])),
                              value=None if math.isnan(row[i]) else float(row[i]),
                              contribution=round(float(contrib[i]), 4)))
        return out

    # -- persistence ----------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, *, schema: Schema = SCHEMA) -> ModelBundle:
        import lightgbm  # imported here: scanning with rules alone never needs it

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
        if meta.get("schema_hash") != schema.hash:
            raise BundleError(
                f"{folder}: built for feature schema {meta.get('schema_id')}, this maldoc computes "
                f"{schema.id}. Retrain it (`maldoc train`) or use a maldoc release matching the bundle."
            )
        booster = lightgbm.Booster(model_str=text.decode())
        if booster.num_feature() != len(schema):
            raise BundleError(f"{folder}: model has {booster.num_feature()} features, schema {len(schema)}")
        return cls(booster=booster, meta=meta, path=folder)

    def save(self, folder: str | Path, card: str = "") -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        text = self.booster.model_to_string().encode()
        meta = dict(self.meta)
        meta.update(model_sha256=hashlib.sha256(text).hexdigest(), schema_hash=SCHEMA.hash,
                    schema_id=SCHEMA.id, n_features=len(SCHEMA), feature_names=list(SCHEMA.names))
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
    if feature.startswith(("file.type.", "tree.type.")):
        kind = "is" if feature.startswith("file.") else "contains"
        return f"{kind} {feature.rsplit('.', 1)[1]}" if value else f"not {feature.rsplit('.', 1)[1]}"
    if math.isnan(value):
        return f"{feature} not measured"
    shown = int(value) if float(value).is_integer() else round(value, 3)
    return f"{feature} = {shown}"


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
