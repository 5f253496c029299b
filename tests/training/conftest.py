"""Small synthetic data for the training tests: tables built directly, and tiny on-disk corpora."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from maldoc.schema import SCHEMA
from maldoc.training.features import FeatureTable

FORMATS = ("ole", "pdf", "eml")


def make_table(n: int = 240, seed: int = 0, n_sources: int = 6) -> FeatureTable:
    """Rows with a learnable signal in two schema columns; every source holds both classes."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.35
    X = rng.normal(size=(n, len(SCHEMA))).astype(np.float32)
    X[:, 0] += 2.5 * y
    X[:, 1] += 1.5 * y
    rows = []
    for i in range(n):
        source = f"repo{i % n_sources}"
        rows.append({"sha256": hashlib.sha256(f"{seed}-{i}".encode()).hexdigest(),
                     "label": "malicious" if y[i] else "benign", "format": FORMATS[i % 3],
                     "source_repo": source, "source_path": f"dir{i % 4}/f{i}",
                     "family_or_note": f"camp{i % 9}; note", "synthetic": False,
                     "rule_score": float(0.8 * y[i] * rng.random()), "flags": "", "findings": "",
                     "file_type": FORMATS[i % 3], "errors": "", "elapsed_ms": 1.0, "n_nodes": 1, "path": f"f{i}"})
    meta = pd.DataFrame(rows)
    meta.loc[n - 5:, "label"] = "malformed"
    return FeatureTable(meta, X)


@pytest.fixture
def small_table() -> FeatureTable:
    return make_table()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def tiny_corpus(tmp_path):
    """A manifest corpus of ZIPs: malicious ones carry an executable or script; one empty file."""
    root = tmp_path / "corpus"
    rows = []
    for i in range(24):
        malicious = i % 2 == 0
        name = f"invoice{i}.exe" if malicious else f"readme{i}.txt"
        payload = (b"MZ\x90\x00" + bytes(200) + str(i).encode()) if malicious else f"hello {i}\n".encode() * 20
        data = _zip({name: payload, "notes.txt": b"x" * i})
        label = "malicious" if malicious else "benign"
        rows.append((data, label, f"repo{i % 3}", f"mails/m{i}.eml"))
    rows.append((b"", "malformed", "repo0", "broken/empty"))
    with_paths = []
    for data, label, repo, path in rows:
        sha = hashlib.sha256(data).hexdigest()
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / sha).write_bytes(data)
        with_paths.append({"sha256": sha, "label": label, "format": "zip" if data else "", "family_or_note": "",
                           "size": len(data), "source_repo": repo, "source_path": path, "source_commit": ""})
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(with_paths[0]))
        writer.writeheader()
        writer.writerows(with_paths)
    return root


@pytest.fixture(scope="session")
def table_factory():
    return make_table
