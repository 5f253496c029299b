"""The model answering scans, swapped without a restart, with the previous one kept for rollback.

A new bundle is first loaded and self-checked in a child process (`python -m
maldoc.serving.modelstore --check BUNDLE`): LightGBM is native code, and a malformed model text
whose hash matches can abort or hang the process that parses it. Only when the child reports
success is the bundle loaded here, checked again, and swapped in. Reloads read only from the
configured models folder (`MALDOC_MODELS_DIR`), symlinks resolved. The self-check refuses a
model that answers nonsense: scores that are not probabilities, thresholds out of order or at
1.0 (nothing could ever be malicious), or one that labels every malicious file of the bundled
demo set clean. A request takes one reference to the current model at its start, so a swap
never mixes two models in one answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import functools
import hashlib
import json
import logging
import math
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from maldoc import __version__
from maldoc.engine import Engine
from maldoc.model import ModelBundle, load_scorer
from maldoc.policy import CutoffLabel, Policy
from maldoc.schema import SCHEMA
from maldoc.scoring import Scorer
from maldoc.types import Node
from maldoc.verdict import Label

log = logging.getLogger("maldoc.serving")

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


class ReloadRefused(RuntimeError):
    """A reload the service will not attempt (a path outside the models folder) or whose bundle
    failed in the check process; the current model stays."""


@functools.cache
def _demo_nodes() -> tuple[Node, ...]:
    """The bundled demo set's malicious files, analysed once per process (analysis does not depend
    on the model; only scoring does). Empty when the demo set is not installed."""
    from maldoc.demo import demo_folder

    root = demo_folder()
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        return ()
    with manifest.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("label") == "malicious" and r.get("path")]
    engine = Engine(jobs=0)
    return tuple(engine.analyze((root / r["path"]).read_bytes(), Path(r["path"]).name) for r in rows
                 if (root / r["path"]).is_file())


def self_check(scorer: Scorer, *, demo: bool = True) -> None:
    t, s = float(scorer.threshold), float(scorer.suspicious_threshold)
    if not (0.0 < s <= t <= 1.0):
        raise SelfCheckError(f"thresholds out of order: suspicious={s}, malicious={t}")
    if t >= 1.0:
        raise SelfCheckError(f"malicious threshold {t} is at or above 1.0: no file could ever be malicious")
    if not str(scorer.version):
        raise SelfCheckError("model has no version")
    # The model itself is judged: no certain-indicator floor, no cut-off floor lifting its labels.
    engine = Engine(jobs=0, scorer=scorer, policy=Policy(certain_indicators=False, cutoff_label=CutoffLabel.CLEAN))
    for data, name in _PROBES:
        try:
            verdict = engine.scan(data, name)
        except Exception as exc:
            raise SelfCheckError(f"probe {name}: {type(exc).__name__}") from exc
        for v in verdict.walk():
            if not math.isfinite(v.score) or not 0.0 <= v.score <= 1.0:
                raise SelfCheckError(f"probe {name}: score {v.score} is not a probability")
    nodes = _demo_nodes() if demo else ()
    if nodes:
        labels = [engine.verdict(node).label for node in nodes]
        if not any(label in (Label.MALICIOUS, Label.SUSPICIOUS) for label in labels):
            raise SelfCheckError(f"labels all {len(nodes)} malicious files of the demo set clean")


def _identity(scorer: Scorer) -> str:
    """What makes two models answer alike: version, thresholds and, for a bundle, its whole
    bundle.json (model text hash, feature names, ...), plus maldoc's own version and schema."""
    meta = scorer.meta if isinstance(scorer, ModelBundle) else {}
    doc = {"version": str(scorer.version), "thresholds": [float(scorer.threshold), float(scorer.suspicious_threshold)],
           "meta": meta, "maldoc": __version__, "schema": SCHEMA.hash}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Loaded:
    scorer: Scorer
    source: str  # the bundle folder's name, "rules", or "default": never a filesystem path
    generation: int
    loaded_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def version(self) -> str:
        return str(self.scorer.version)

    @functools.cached_property
    def cache_id(self) -> str:
        """Part of every cache key: a reload with other thresholds or another model text never
        answers from verdicts the previous one scored."""
        return f"{self.version}+{_identity(self.scorer)}"

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


def _source(path: str | None) -> str:
    if not path:
        return "default"
    return "rules" if path == "rules" else Path(path).name or "bundle"


def _scrub(message: str, path: str | None) -> str:
    """Error text without the bundle's folder path (the folder's name stays)."""
    if path and path != "rules":
        folder = Path(path)
        for text in {str(folder), str(folder.resolve())}:
            message = message.replace(text, folder.name)
    return message


def _load(path: str | None) -> Scorer:
    scorer = load_scorer(path)
    self_check(scorer)
    return scorer


async def check_in_child(path: str, timeout_s: float) -> None:
    """Load and self-check `path` in a child process; raise ReloadRefused unless it passed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "maldoc.serving.modelstore", "--check", path,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise ReloadRefused(f"the bundle's check did not finish within {timeout_s:g} s "
                            "(a malformed model can hang its parser)") from None
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    code = proc.returncode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        raise ReloadRefused(f"loading the bundle crashed its check process ({name}): the model file is malformed")
    try:
        report = json.loads(out.decode("utf-8", "replace").strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise ReloadRefused(f"the bundle's check process exited with code {code} and no report") from None
    if code != 0 or not report.get("ok"):
        raise ReloadRefused(str(report.get("error", f"check failed with exit code {code}"))[:500])


class ModelStore:
    def __init__(self, default_path: str | None, *, models_dir: str | None = None,
                 check_timeout_s: float = 120.0) -> None:
        self.default_path = default_path
        self.models_dir = models_dir
        self.check_timeout_s = check_timeout_s
        self.current: Loaded | None = None
        self.previous: Loaded | None = None
        self._generation = 0
        self._lock = asyncio.Lock()

    def allowed(self, path: str) -> str:
        """`path` resolved inside the models folder (relative paths are taken from it), or ReloadRefused."""
        if path == "rules":
            return path
        if not self.models_dir:
            raise ReloadRefused("reloading from a given path is disabled: set MALDOC_MODELS_DIR to the folder "
                                "bundles may be loaded from (a reload without a path re-reads MALDOC_MODEL)")
        root = Path(self.models_dir).resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise ReloadRefused("bundle path is outside MALDOC_MODELS_DIR; only bundles in that folder are loaded")
        return str(target)

    async def load(self, path: str | None = None, *, isolate: bool = True) -> Loaded:
        """Load `path` (default: the configured model), self-check it, then swap it in.

        `path` must lie in the models folder. With `isolate` (every reload) the bundle is loaded
        and checked in a child process first. Raises (ReloadRefused, BundleError, SelfCheckError,
        OSError...) and leaves the current model alone when the new one fails.
        """
        target = self.allowed(path) if path is not None else self.default_path
        async with self._lock:
            try:
                if isolate and target != "rules":
                    await check_in_child(target or "", self.check_timeout_s)
                scorer = await asyncio.to_thread(_load, target)
            except (ReloadRefused, SelfCheckError) as exc:
                raise type(exc)(_scrub(str(exc), target)) from None
            except Exception as exc:
                if not isolate:
                    raise  # start-up: the operator's own log, with the path
                raise ReloadRefused(f"{type(exc).__name__}: {_scrub(str(exc), target)}") from None
            self._generation += 1
            loaded = Loaded(scorer, source=_source(target), generation=self._generation)
            self.previous, self.current = self.current, loaded
            return loaded

    async def rollback(self) -> Loaded:
        async with self._lock:
            if self.previous is None:
                raise LookupError("no previous model to roll back to")
            self._generation += 1
            back = self.previous
            restored = Loaded(back.scorer, source=back.source, generation=self._generation)
            self.previous, self.current = self.current, restored
            return restored


def main(argv: list[str] | None = None) -> int:
    """`python -m maldoc.serving.modelstore [--check] [BUNDLE]`: load and self-check a model.

    Without --check (the image build step) it prints one line and fails loudly. With --check (the
    service's reload child) it prints one JSON line, {"ok": true, "version": ...} or
    {"ok": false, "error": ...}, and exits 0 or 1; a crash is the parent's to report.
    """
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    path = args[0] if args and args[0] else None
    if not check:
        scorer = _load(path)
        print(f"model {scorer.version}: loaded and self-checked")
        return 0
    try:
        scorer = _load(path)
    except Exception as exc:
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps({"ok": True, "version": str(scorer.version)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
