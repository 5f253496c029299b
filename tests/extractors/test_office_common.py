"""The one URL finder: its anchored passes must give what a plain finditer of its grammar gives."""

from __future__ import annotations

import random

from maldoc.extractors.urls import _URL_RE, clean_url, find_urls, is_namespace


def _by_finditer(text: str, limit: int = 500) -> list[str]:
    found: dict[str, None] = {}
    for m in _URL_RE.finditer(text):
        url = clean_url(m.group())
        if len(url) > 8 and not is_namespace(url):
            found[url] = None
            if len(found) >= limit:
                break
    return list(found)


def test_find_urls_matches_a_finditer_of_its_regex() -> None:
    rng = random.Random(5)
    pieces = ["http://", "HTTPS://", "ftp://", "FtPs://", "file://", "://", "xhttps://", "\u00e9http://", "_http://",
              "a", "example.com/", "\x00", " ", "http", "s://", "ht\u017fps://", "http\u017f://", "x" * 1998, "ab", '"',
              "http://schemas.openxmlformats.org/a", "-ftp://", "1http://", "hxxps://", "smb://", "\\\\",
              "\\", "host.example\\share", "a.b\\c"]
    for _ in range(4000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 25)))
        assert find_urls(text, namespaces=False) == _by_finditer(text), text[:80]
        assert find_urls(text, 2, namespaces=False) == _by_finditer(text, 2)


def test_find_urls_in_order_without_namespaces() -> None:
    text = 'x https://a.example/p?q=1, "ftp://files.example/x" http://schemas.microsoft.com/office https://a.example/p?q=1'
    assert find_urls(text, namespaces=False) == ["https://a.example/p?q=1", "ftp://files.example/x"]
    assert "http://schemas.microsoft.com/office" in find_urls(text)
