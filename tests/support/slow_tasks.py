"""Scan tasks that take their time on purpose, for the service's timeout and queue-full tests.

Module-level so that forkserver workers can import them (pytest puts tests/support on sys.path).
An input starting with b"SLEEP <seconds>" sleeps that long first; anything else scans normally.
"""

from __future__ import annotations

import time

from maldoc.pool import analyze_task


def sleepy(data, name, limits, options):
    if data.startswith(b"SLEEP"):
        time.sleep(float(data[5:].split()[0]))
    return analyze_task(data, name, limits, options)
