"""Refactors and speed work must not move verdicts: a fixed set of files against stored answers.

The golden file holds, per file, the label and score (4 decimals) the engine gave when it was
last regenerated on purpose (a retrain, a detection fix). Files are named by demo-set name or
by sha256 (corpus files: nothing of their content is stored). Regenerate deliberately with

    MALDOC_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/core/test_verdicts_unchanged.py

and say why in the commit message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from maldoc import scan
from maldoc.demo import demo_folder
from maldoc.model import load_scorer
from maldoc.training.corpus import Corpus

GOLDEN = Path(__file__).parent.parent / "golden" / "verdicts.json"
REGEN = os.environ.get("MALDOC_REGEN_GOLDEN") == "1"
PER_CORPUS = {"corpus": 150, "corpus2": 60}  # files sampled from each development corpus
TOLERANCE = 1e-4


def _shared() -> Path | None:
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared"
        if (candidate / "corpus" / "manifest.csv").is_file():
            return candidate
    return None


def _pick(items: list, n: int) -> list:
    ordered = sorted((i for i in items if i.sha256), key=lambda i: i.sha256)
    step = max(1, len(ordered) // n)
    return ordered[::step][:n]


def _current() -> dict[str, dict]:
    scorer = load_scorer()
    answers: dict[str, dict] = {}
    for path in sorted(demo_folder().iterdir()):
        if path.suffix in (".csv", ".md"):
            continue
        v = scan(path.read_bytes(), path.name, model=scorer)
        answers[f"demo/{path.name}"] = {"label": v.label.value, "score": round(v.score, 4)}
    shared = _shared()
    if shared is not None:
        for folder, n in PER_CORPUS.items():
            if not (shared / folder / "manifest.csv").is_file():
                continue
            with Corpus(shared / folder) as corpus:
                for item in _pick(list(corpus.items()), n):
                    v = scan(item.read(), item.sha256, model=scorer)
                    answers[f"{folder}/{item.sha256}"] = {"label": v.label.value, "score": round(v.score, 4)}
    return answers


@pytest.mark.slow
def test_verdicts_match_the_golden_file():
    current = _current()
    if REGEN:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"regenerated {GOLDEN} ({len(current)} files)")
    golden = json.loads(GOLDEN.read_text())
    have_corpus = any(k.startswith("corpus") for k in current)
    expected = {k: v for k, v in golden.items() if k.startswith("demo/") or have_corpus}
    missing = sorted(set(expected) - set(current))
    assert not missing, f"files in the golden set no longer scanned: {missing[:5]}"
    moved = []
    for key, want in expected.items():
        got = current[key]
        if got["label"] != want["label"] or abs(got["score"] - want["score"]) > TOLERANCE:
            moved.append(f"{key}: {want['label']} {want['score']} -> {got['label']} {got['score']}")
    assert not moved, f"{len(moved)} verdicts moved:\n" + "\n".join(moved[:20])
