"""Fixtures for the service tests: a started app (lifespan runs) and a factory for special ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from serving_support import TestClient, settings

from maldoc.serving.app import create_app


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Factory: `make_client(task=..., **settings)` -> a started TestClient (lifespan runs)."""
    clients: list[TestClient] = []

    def make(task=None, **overrides) -> TestClient:
        kwargs = {"task": task} if task is not None else {}
        client = TestClient(create_app(settings(**overrides), **kwargs))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """One shared app with default-ish settings, for tests that need no special configuration."""
    with TestClient(create_app(settings(admin_keys=["admin-secret"]))) as c:
        yield c

