"""Small numeric helpers shared by extractors (import-light: no registry, no schema)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np


def entropy(data: bytes, cap: int = 1 << 20) -> float:
    """Shannon entropy in bits per byte of the first `cap` bytes."""
    if not data:
        return 0.0
    counts = np.bincount(np.frombuffer(data[:cap], dtype=np.uint8), minlength=256)
    p = counts[counts > 0] / min(len(data), cap)
    return float(-(p * np.log2(p)).sum())


def text_entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def log2_size(n: float) -> float:
    """log2(n + 1): sizes and counts on a scale where 0 stays 0 and doubling adds one."""
    return math.log2(n + 1)
