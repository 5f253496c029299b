"""Pool tasks for the milter tests; importable by name, so forkserver workers can run them."""

from __future__ import annotations

import time


def sleepy_task(data, name, limits, options):
    """Never finishes within any test's timeout: stands in for a parser stuck on hostile input."""
    time.sleep(600)
