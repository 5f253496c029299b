"""Shared fixtures. Tests never need real malware: corpus tests skip when ../shared is absent."""

from __future__ import annotations

import pytest

from maldoc.training.corpus import Corpus, shared_corpus


@pytest.fixture(scope="session")
def corpus_items():
    """Every item of the development corpus (unpacked once per session), or skip."""
    root = shared_corpus()
    if root is None:
        pytest.skip("development corpus ../shared/corpus not present (set MALDOC_CORPUS to point at one)")
    with Corpus(root) as corpus:
        yield list(corpus.items())
