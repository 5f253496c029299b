"""Drift of live traffic against the training data, and the verdict mix, on `/metrics`.

    monitor = DriftMonitor(registry)        registers its gauges in the app's Prometheus registry
    monitor.use_model(scorer)               the bundle's drift_bins.json (none: verdict mix only)
    monitor.observe(node, label)            once per verdict (node None for a cached verdict)
    monitor.summary() -> dict               what `/metrics` and `maldoc drift` show

Each scored file's feature row is counted into the training set's bins (`maldoc.training.drift`):
fixed-size arrays, so memory does not grow with traffic. Counts cover the last `window` to
`2 x window` files (two generations: when the newer one fills, the older one is dropped), so the
figures follow current traffic. Exported gauges:

    maldoc_drift_psi{group}            population-stability index of the group's most-shifted feature
    maldoc_drift_psi_max               the largest feature PSI
    maldoc_drift_files                 files counted in the window
    maldoc_drift_verdict_share{label}  share of each verdict label in the window
    maldoc_drift_reference_files       training files behind the reference (0: no reference)

A PSI above 0.1 is usually read as a moderate shift, above 0.25 as a large one.
"""

from __future__ import annotations

import math
import threading
from collections import Counter

import numpy as np

from maldoc.training.drift import Reference, load_drift_bins

DEFAULT_WINDOW = 5000


class DriftMonitor:
    def __init__(self, registry=None, *, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self.version = ""
        self.reference: Reference | None = None
        self._lock = threading.Lock()
        self._reset()
        if registry is not None:
            registry.register(_Collector(self))

    def _reset(self) -> None:
        self._counts = [self.reference.empty(), self.reference.empty()] if self.reference else []
        self._labels: list[Counter] = [Counter(), Counter()]
        self._files = [0, 0]

    # -- configuration -------------------------------------------------------------------------
    def use_model(self, scorer) -> None:
        """Take the reference of the bundle now answering (none for the rule scorer or an old bundle)."""
        from maldoc.schema import SCHEMA

        ref = load_drift_bins(getattr(scorer, "path", None))
        self.set_reference(Reference(ref, SCHEMA.names) if ref else None, getattr(scorer, "version", ""))

    def set_reference(self, reference: Reference | None, version: str = "") -> None:
        with self._lock:
            self.reference, self.version = reference, version
            self._reset()

    # -- counting ------------------------------------------------------------------------------
    def observe(self, node=None, label: str | None = None, *, row: np.ndarray | None = None) -> None:
        """Count one verdict: its label, and its root feature row (from `node`, or given)."""
        if row is None and node is not None and self.reference is not None:
            from maldoc.schema import vectorize

            row = vectorize(node)
        with self._lock:
            self._rotate()
            if label:
                self._labels[1][str(label)] += 1
            if row is not None and self.reference is not None:
                self.reference.count(self._counts[1], row)
                self._files[1] += 1

    def _rotate(self) -> None:
        if max(self._files[1], sum(self._labels[1].values())) >= self.window:
            self._labels = [self._labels[1], Counter()]
            self._files = [self._files[1], 0]
            if self.reference is not None:
                self._counts = [self._counts[1], self.reference.empty()]

    # -- reading -------------------------------------------------------------------------------
    def summary(self, top: int = 5) -> dict:
        with self._lock:
            labels = self._labels[0] + self._labels[1]
            files = sum(self._files)
            counts = self._counts[0] + self._counts[1] if self.reference is not None else None
        verdicts = sum(labels.values())
        out = {"model_version": self.version, "files": files, "verdicts": dict(sorted(labels.items())),
               "verdict_share": {k: v / verdicts for k, v in sorted(labels.items())} if verdicts else {},
               "reference_files": self.reference.files if self.reference else 0, "psi": {}, "psi_max": math.nan,
               "top_features": []}
        if counts is not None and files:
            per = self.reference.feature_psi(counts)
            out["psi"] = self.reference.group_psi(counts)
            finite = ~np.isnan(per)
            if finite.any():
                out["psi_max"] = float(per[finite].max())
                order = np.argsort(-np.where(finite, per, -np.inf))[:top]
                out["top_features"] = [{"feature": self.reference.features[i], "psi": float(per[i])} for i in order]
        return out


class _Collector:
    """Computes the gauges when Prometheus scrapes (never on the scan path)."""

    def __init__(self, monitor: DriftMonitor) -> None:
        self.monitor = monitor

    def describe(self):
        return []  # gauges appear once there is something to say

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        s = self.monitor.summary()
        psi = GaugeMetricFamily("maldoc_drift_psi", "population-stability index of live features against the "
                                "training set, of the feature group's most-shifted feature", labels=["group"])
        for group, value in s["psi"].items():
            if not math.isnan(value):
                psi.add_metric([group], value)
        yield psi
        if not math.isnan(s["psi_max"]):
            yield GaugeMetricFamily("maldoc_drift_psi_max", "largest feature PSI", value=s["psi_max"])
        yield GaugeMetricFamily("maldoc_drift_files", "files counted in the drift window", value=s["files"])
        share = GaugeMetricFamily("maldoc_drift_verdict_share", "share of each verdict label in the drift window",
                                  labels=["label"])
        for label, value in s["verdict_share"].items():
            share.add_metric([label], value)
        yield share
        yield GaugeMetricFamily("maldoc_drift_reference_files", "training files behind the drift reference "
                                "(0: the model ships none)", value=s["reference_files"])
