"""The model bundle shipped inside the package must match the code's feature schema."""

from __future__ import annotations

import json

from maldoc.model import ModelBundle, default_bundle_path, load_scorer
from maldoc.scan import scan
from maldoc.schema import SCHEMA


def test_shipped_bundle_matches_the_schema():
    meta = json.loads((default_bundle_path() / "bundle.json").read_text())
    assert meta["schema_hash"] == SCHEMA.hash, (
        f"core/models/default was trained for schema {meta['schema_id']}, the code computes {SCHEMA.id}: "
        "regenerate it with the command in README.md (Training and evaluation)")
    assert meta["feature_names"] == list(SCHEMA.names)


def test_shipped_bundle_loads_and_is_the_default_scorer():
    bundle = ModelBundle.load()
    assert isinstance(load_scorer(), ModelBundle)
    assert 0.0 < bundle.suspicious_threshold <= bundle.threshold < 1.0
    assert (default_bundle_path() / "MODEL_CARD.md").is_file()
    verdict = scan(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "a.pdf", model=bundle)
    assert verdict.model_version == bundle.version
    assert 0.0 <= verdict.score <= 1.0
