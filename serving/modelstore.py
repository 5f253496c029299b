"""The model answering scans, swapped without a restart, with the previous one kept for rollback.

A new bundle is loaded off the event loop, then self-checked (it scores a few built-in probes:
every score finite and in [0, 1], thresholds ordered) and only then replaces the current one.
A request takes one reference to the current model at its start, so a swap never mixes two
models in one answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from dataclasses import dataclass, field

from maldoc.engine import Engine
from maldoc.model import ModelBundle, load_scorer
from maldoc.schema import SCHEMA
from maldoc.scoring import Scorer

# Inert probes: no file is read, nothing is written. Enough to run detection, the extractors,
# vectorize() and the scorer end to end.
_PROBES: tuple[tuple[bytes, str], ...] = (
    (b"", "empty.bin"),
    (b"Quarterly figures attached, see you on Monday.\n", "note.txt"),
    (b"<html><body><p>hello</p></body></html>", "page.html"),
    (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <1@example.org>\r\n\r\nhi\r\n",
     "mail.eml"),
)


class SelfCheckError(RuntimeError):
    """A model that loaded but does not answer sanely; it is never put in service."""


def self_check(scorer: Scorer) -> None:
    t, s = float(scorer.threshold), float(scorer.suspicious_threshold)
    if not (0.0 < s <= t <= 1.0):
        raise SelfCheckError(f"thresholds out of order: suspicious={s}, malicious={t}")
    if not str(scorer.version):
        raise SelfCheckError("model has no version")
    engine = Engine(jobs=0, scorer=scorer)
    for data, name in _PROBES:
        try:
            verdict = engine.scan(data, name)
        except Exception as exc:
            raise SelfCheckError(f"probe {name}: {type(exc).__name__}: {exc}") from exc
        for v in verdict.walk():
            if not math.isfinite(v.score) or not 0.0 <= v.score <= 1.0:
                raise SelfCheckError(f"probe {name}: score {v.score} is not a probability")


@dataclass(frozen=True)
class Loaded:
    scorer: Scorer
    source: str  # the bundle folder, or "rules", or "default"
    generation: int
    loaded_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def version(self) -> str:
        return str(self.scorer.version)

    @property
    def cache_id(self) -> str:
        """Version plus the model file's hash: two bundles that share a version never share cached verdicts."""
        meta = getattr(self.scorer, "meta", None) or {}
        digest = str(meta.get("model_sha256", ""))[:12]
        return f"{self.version}+{digest}" if digest else self.version

    @property
    def kind(self) -> str:
        return "bundle" if isinstance(self.scorer, ModelBundle) else "rules"

    def describe(self) -> dict:
        scorer = self.scorer
        meta = scorer.meta if isinstance(scorer, ModelBundle) else {}
        return {
            "version": self.version, "kind": self.kind, "source": self.source, "generation": self.generation,
            "loaded_at": self.loaded_at,
            "schema_id": meta.get("schema_id", SCHEMA.id), "schema_hash": meta.get("schema_hash", SCHEMA.hash),
            "n_features": int(meta.get("n_features", len(SCHEMA))),
            "thresholds": {"malicious": float(scorer.threshold), "suspicious": float(scorer.suspicious_threshold)},
            "metrics": meta.get("metrics", {}),
        }


def _load(path: str | None) -> Scorer:
    scorer = load_scorer(path)
    self_check(scorer)
    return scorer


class ModelStore:
    def __init__(self, default_path: str | None) -> None:
        self.default_path = default_path
        self.current: Loaded | None = None
        self.previous: Loaded | None = None
        self._generation = 0
        self._lock = asyncio.Lock()

    async def load(self, path: str | None = None) -> Loaded:
        """Load `path` (default: the configured model), self-check it, then swap it in.

        Raises (BundleError, SelfCheckError, OSError...) and leaves the current model alone when
        the new one fails.
        """
        path = path if path is not None else self.default_path
        async with self._lock:
            scorer = await asyncio.to_thread(_load, path)
            self._generation += 1
            loaded = Loaded(scorer, source=str(path) if path else "default", generation=self._generation)
            self.previous, self.current = self.current, loaded
            return loaded

    async def rollback(self) -> Loaded:
        async with self._lock:
            if self.previous is None:
                raise LookupError("no previous model to roll back to")
            self.previous, self.current = self.current, self.previous
            return self.current


def main() -> int:
    """`python -m maldoc.serving.modelstore [BUNDLE]`: load and self-check a model (image build step)."""
    import sys

    path = sys.argv[1] if len(sys.argv) > 1 else None
    scorer = _load(path)
    print(f"model {scorer.version}: loaded and self-checked")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
