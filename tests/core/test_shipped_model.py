"""The shipped bundle must load against the code's schema: mapped by name, never by position.

A bundle is refused only when a column it splits on is no longer computed or the schema's major
version changed; features added since it was trained (a new rule, flag, type or extractor) are
left out of its input and reported on the verdict, so adding a format never forces a retrain.
"""

from __future__ import annotations

import json
import shutil

import lightgbm
import numpy as np
import pytest

from maldoc import scan
from maldoc.model import BundleError, ModelBundle, default_bundle_path, load_scorer
from maldoc.schema import SCHEMA


def test_every_column_the_shipped_bundle_uses_is_still_computed():
    meta = json.loads((default_bundle_path() / "bundle.json").read_text())
    bundle = ModelBundle.load()
    used = np.asarray(bundle.booster.feature_importance("split")) > 0
    names = meta["feature_names"]
    gone = [n for n, u in zip(names, used, strict=True) if u and n not in SCHEMA.index]
    assert not gone, f"the shipped model splits on features no longer computed: {gone[:5]}; retrain it " \
                     "(README, Training and evaluation)"
    assert str(meta["schema_id"]).startswith(f"v{SCHEMA.version}-")


def test_shipped_bundle_loads_and_is_the_default_scorer():
    bundle = ModelBundle.load()
    assert isinstance(load_scorer(), ModelBundle)
    assert 0.0 < bundle.suspicious_threshold <= bundle.threshold < 1.0
    assert (default_bundle_path() / "MODEL_CARD.md").is_file()
    verdict = scan(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "a.pdf", model=bundle)
    assert verdict.model_version == bundle.version
    assert 0.0 <= verdict.score <= 1.0


def _bundle_on(tmp_path, names: list[str], schema_id: str | None = None):
    """A tiny real booster trained on `names` (the first column carries the signal), saved as a bundle."""
    rng = np.random.default_rng(0)
    x = rng.random((200, len(names)))
    y = (x[:, 0] > 0.5).astype(int)
    booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_leaves": 4, "min_data_in_leaf": 5},
                             lightgbm.Dataset(x, y, feature_name=[f"f{i}" for i in range(len(names))]), 5)
    folder = ModelBundle(booster=booster, meta={"version": "t", "thresholds": {"malicious": 0.9,
                                                                            "suspicious": 0.5}}).save(tmp_path / "b")
    meta = json.loads((folder / "bundle.json").read_text())
    meta["feature_names"] = names
    if schema_id:
        meta["schema_id"] = schema_id
        meta.pop("schema_version", None)
    (folder / "bundle.json").write_text(json.dumps(meta))
    return folder


def test_an_older_bundle_scores_a_superset_schema(tmp_path):
    names = ["tree.rule_score", "file.size_log2", "rule.VBA_AUTOEXEC"]  # a strict subset, in another order
    bundle = ModelBundle.load(_bundle_on(tmp_path, names))
    rows = np.tile(SCHEMA.base_row, (2, 1))
    rows[0, SCHEMA.index["tree.rule_score"]] = 0.9
    rows[1, SCHEMA.index["tree.rule_score"]] = 0.1
    mapped = bundle.model_rows(rows)
    assert mapped.shape == (2, 3) and mapped[0, 0] == pytest.approx(0.9)
    scores = bundle.predict_rows(rows)
    assert scores[0] > scores[1]
    unseen_col = next(n for n in SCHEMA.names if n not in names and n.startswith("rule."))
    rows[0, SCHEMA.index[unseen_col]] = 2
    assert unseen_col in bundle.unseen(rows[0])


def test_a_bundle_using_a_column_that_is_gone_is_refused(tmp_path):
    folder = _bundle_on(tmp_path, ["pdf.no_such_feature", "tree.rule_score"])
    with pytest.raises(BundleError, match="no longer computed"):
        ModelBundle.load(folder)


def test_a_bundle_of_another_major_version_is_refused(tmp_path):
    folder = _bundle_on(tmp_path, ["tree.rule_score", "file.size_log2"], schema_id=f"v{SCHEMA.version + 1}-abcd")
    with pytest.raises(BundleError, match="major version"):
        ModelBundle.load(folder)


def test_the_shipped_bundle_copied_keeps_loading(tmp_path):
    shutil.copytree(default_bundle_path(), tmp_path / "copy")
    assert ModelBundle.load(tmp_path / "copy").version == ModelBundle.load().version
