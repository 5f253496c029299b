"""Worker tasks that misbehave on purpose, for the pool's isolation tests.

Module-level so that forkserver workers can import them (pytest puts tests/support on sys.path).
"""

from __future__ import annotations

import os
import time

from maldoc.pool import analyze_task


def hang_or_scan(data, name, limits, options):
    if name == "hang":
        time.sleep(3600)
    return analyze_task(data, name, limits, options)


def die_or_scan(data, name, limits, options):
    if name == "die":
        os._exit(9)
    return analyze_task(data, name, limits, options)


def hog_or_scan(data, name, limits, options):
    if name == "hog":
        block = bytearray(8 * 1024 * 1024 * 1024)  # 8 GiB: fails only under the worker's memory limit
        block[-1] = 1
        return analyze_task(bytes(block[:10]), name, limits, options)
    return analyze_task(data, name, limits, options)
