"""The drift reference: per-feature histograms of the training set, saved in the bundle.

    reference_bins(X, names, bins=10) -> dict       edges and expected shares per feature
    write_drift_bins(bundle_dir, table) -> Path     drift_bins.json from the rows a bundle trained on
    load_drift_bins(bundle_dir) -> dict | None
    bin_counts(values, edges) -> np.ndarray         counts per bin, missing (NaN) last
    psi(expected, counts) -> float                  population-stability index of one feature
    group_psi(reference, counts) -> {group: psi}    per feature group (file, tree, rule, ...): its largest

Edges are the training values' deciles (distinct values only), so a bin holds about a tenth of the
training files; bins are right-closed, `(e[i-1], e[i]]`, with one below the first edge, one above
the last and one for "not measured" (NaN). Serving counts live vectors into the same bins
(`maldoc.serving.drift`), and `maldoc drift` prints the same figures. A group's figure is the PSI
of its most-shifted feature: a mean would drown one moved feature among the many (one-hot types,
rules that never fire) that stay put.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

DRIFT_FILE = "drift_bins.json"
DEFAULT_BINS = 10
EPSILON = 1e-4  # an empty bin's share, so that the log ratio stays finite


def feature_group(name: str) -> str:
    """`file`, `tree`, `flag`, `rule`, or the extractor's name: the feature name's first part."""
    return name.split(".", 1)[0]


def _edges(values: np.ndarray, bins: int) -> list[float]:
    values = values[~np.isnan(values)]
    if not len(values):
        return []
    qs = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(v) for v in np.unique(np.concatenate([qs, [values.min()]]))]


def bin_counts(values: np.ndarray, edges: list[float] | np.ndarray) -> np.ndarray:
    """Counts in len(edges)+1 right-closed bins, then the NaN count: len(edges)+2 numbers."""
    values = np.asarray(values, float)
    missing = np.isnan(values)
    idx = np.searchsorted(np.asarray(edges, float), values[~missing], side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    return np.concatenate([counts, [float(missing.sum())]])


def reference_bins(X: np.ndarray, names: tuple[str, ...] | list[str], bins: int = DEFAULT_BINS) -> dict:
    features = {}
    for j, name in enumerate(names):
        edges = _edges(np.asarray(X[:, j], float), bins)
        counts = bin_counts(X[:, j], edges)
        features[name] = {"edges": edges, "expected": (counts / max(1.0, counts.sum())).round(6).tolist()}
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(feature_group(name), []).append(name)
    return {"files": int(X.shape[0]), "bins": bins, "features": features, "groups": groups}


def write_drift_bins(bundle_dir: str | Path, table) -> Path:
    """Save the reference of the labelled rows of `table` (the rows the bundle was trained on)."""
    rows = table.labelled()
    ref = reference_bins(table.X[rows], table.names)
    ref["schema_id"] = table.schema_id
    path = Path(bundle_dir) / DRIFT_FILE
    path.write_text(json.dumps(ref, separators=(",", ":"), sort_keys=True) + "\n")
    return path


def load_drift_bins(bundle_dir: str | Path | None) -> dict | None:
    if bundle_dir is None:
        return None
    path = Path(bundle_dir) / DRIFT_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def psi(expected: list[float] | np.ndarray, counts: np.ndarray) -> float:
    """sum((a - e) * ln(a / e)) over the bins; NaN when nothing was counted."""
    total = float(np.sum(counts))
    if total <= 0:
        return math.nan
    e = np.clip(np.asarray(expected, float), EPSILON, None)
    a = np.clip(np.asarray(counts, float) / total, EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_psi(reference: dict, counts: dict[str, np.ndarray]) -> dict[str, float]:
    return {name: psi(reference["features"][name]["expected"], c) for name, c in counts.items()
            if name in reference["features"]}


def group_psi(reference: dict, counts: dict[str, np.ndarray]) -> dict[str, float]:
    """The largest PSI among each group's features (NaN when nothing was observed)."""
    per_feature = feature_psi(reference, counts)
    out = {}
    for group, names in reference["groups"].items():
        values = [per_feature[n] for n in names if n in per_feature and not math.isnan(per_feature[n])]
        out[group] = float(np.max(values)) if values else math.nan
    return out


class Reference:
    """A loaded drift_bins.json laid out for counting many rows at once.

    Every feature gets the same number of columns: its bins (edges padded with +inf, which no
    value exceeds) and, last, the NaN column; `mask` marks the columns a feature really has.
    """

    def __init__(self, ref: dict, names: tuple[str, ...] | list[str]) -> None:
        self.names = tuple(names)
        known = [n for n in self.names if n in ref["features"]]
        self.index = np.array([self.names.index(n) for n in known], dtype=np.int64)  # row column per feature
        self.features = tuple(known)
        width = max((len(ref["features"][n]["edges"]) for n in known), default=0)
        self.edges = np.full((len(known), max(width, 1)), np.inf)
        self.expected = np.zeros((len(known), width + 2))
        self.mask = np.zeros((len(known), width + 2), dtype=bool)
        for i, name in enumerate(known):
            f = ref["features"][name]
            k = len(f["edges"])
            self.edges[i, :k] = f["edges"]
            self.expected[i, :k + 1] = f["expected"][:k + 1]
            self.expected[i, -1] = f["expected"][-1]
            self.mask[i, :k + 1] = True
            self.mask[i, -1] = True
        self.groups = {g: np.array([i for i, n in enumerate(known) if feature_group(n) == g], dtype=np.int64)
                       for g in sorted({feature_group(n) for n in known})}
        self.files = int(ref.get("files", 0))

    def empty(self) -> np.ndarray:
        return np.zeros(self.expected.shape)

    def count(self, counts: np.ndarray, rows: np.ndarray) -> None:
        """Add `rows` (n x schema, in `names` order) into `counts` (in place)."""
        values = np.atleast_2d(np.asarray(rows, float))[:, self.index]  # n x features
        missing = np.isnan(values)
        idx = (self.edges[None, :, :] < np.where(missing, -np.inf, values)[:, :, None]).sum(axis=2)
        idx[missing] = counts.shape[1] - 1
        np.add.at(counts, (np.broadcast_to(np.arange(len(self.features)), idx.shape), idx), 1.0)

    def feature_psi(self, counts: np.ndarray) -> np.ndarray:
        """PSI per feature (NaN when nothing was counted)."""
        total = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.clip(np.where(total > 0, counts / total, np.nan), EPSILON, None)
        e = np.clip(self.expected, EPSILON, None)
        terms = np.where(self.mask, (a - e) * np.log(a / e), 0.0)
        out = terms.sum(axis=1)
        out[total[:, 0] == 0] = np.nan
        return out

    def group_psi(self, counts: np.ndarray) -> dict[str, float]:
        per = self.feature_psi(counts)
        out = {}
        for group, idx in self.groups.items():
            values = per[idx]
            values = values[~np.isnan(values)]
            out[group] = float(values.max()) if len(values) else math.nan
        return out
