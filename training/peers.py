"""The field's rule set, run on the same files as the model: what a gateway without maldoc would flag.

    peer_hits(data) -> dict[name, (hit, seconds)]        every peer rule on one file's bytes
    run_peers(items, model=None, jobs=None, log) -> dict  per-format TPR/FPR and time per file of each peer

The rules, as their users deploy them:
  mraptor   oletools' MacroRaptor on all VBA/XLM code: AutoExec and (Write or eXecute).
  olefy     the rspamd olefy rule: olevba reports both an AutoExec and a Suspicious keyword.
  rtfobj    rtfobj finds an OLE object of class OLE2Link, Equation* or Package (or a Package object).
  pdfid     pdfid's keyword counts: /JS or /JavaScript with /OpenAction or /AA, or any /Launch.
An e-mail is scanned as a gateway scans it: each MIME part (bounded) goes through every rule. The
`field rule set` column is any of the four. Each rule runs in a worker process with a time limit,
so a parser that hangs on hostile input costs its own file only (counted as no alert).
"""

from __future__ import annotations

import email
import email.policy
import math
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

PEERS = ("mraptor", "olefy", "rtfobj", "pdfid")
FIELD = "field rule set"
MAX_PARTS = 50  # MIME parts of one e-mail handed to the rules
PEER_TIMEOUT_S = 60.0
_HEADER = re.compile(rb"^(?:From [^\n]*\n)?[!-9;-~]{1,76}:[ \t]")  # optional mbox "From " line


def _vba(data: bytes):
    from oletools.olevba import VBA_Parser

    return VBA_Parser("sample", data=data, relaxed=True)


def _is_office(data: bytes) -> bool:
    return data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or data[:2] == b"PK" or b"<?mso-application" in data[:512]


def mraptor_hit(data: bytes) -> bool:
    from oletools.mraptor import MacroRaptor

    if not _is_office(data):
        return False
    parser = _vba(data)
    try:
        if not parser.detect_vba_macros():
            return False
        code = "\n".join(str(c) for _, _, _, c in parser.extract_all_macros())
        raptor = MacroRaptor(code)
        raptor.scan()
        return bool(raptor.suspicious)
    finally:
        parser.close()


def olefy_hit(data: bytes) -> bool:
    if not _is_office(data):
        return False
    parser = _vba(data)
    try:
        if not parser.detect_vba_macros():
            return False
        kinds = {kind for kind, _, _ in parser.analyze_macros()}
        return "AutoExec" in kinds and "Suspicious" in kinds
    finally:
        parser.close()


RTF_CLASSES = (b"ole2link", b"equation", b"package")


def rtfobj_hit(data: bytes) -> bool:
    from oletools.rtfobj import RtfObjParser

    if not data.lstrip()[:5].lower().startswith(b"{\\rt"):
        return False
    parser = RtfObjParser(data)
    parser.parse()
    for obj in parser.objects:
        if getattr(obj, "is_package", False):
            return True
        name = (getattr(obj, "class_name", b"") or b"").lower().rstrip(b"\x00")
        if getattr(obj, "is_ole", False) and name.startswith(RTF_CLASSES):
            return True
    return False


def pdfid_counts(data: bytes) -> dict[str, int]:
    from pdfid import pdfid

    doc = pdfid.PDFiD("sample", allNames=False, extraData=False, disarm=False, force=True, filebuffer=data)
    out = {}
    for node in doc.documentElement.getElementsByTagName("Keywords")[0].childNodes:
        out[node.getAttribute("Name")] = int(node.getAttribute("Count"))
    return out


def pdfid_hit(data: bytes) -> bool:
    if b"%PDF" not in data[:1024]:
        return False
    c = pdfid_counts(data)
    js = c.get("/JS", 0) + c.get("/JavaScript", 0)
    auto = c.get("/OpenAction", 0) + c.get("/AA", 0)
    return bool((js and auto) or c.get("/Launch", 0))


RULES: dict[str, Callable[[bytes], bool]] = {"mraptor": mraptor_hit, "olefy": olefy_hit, "rtfobj": rtfobj_hit,
                                             "pdfid": pdfid_hit}


def mime_parts(data: bytes) -> list[bytes]:
    """The decoded leaf parts of an e-mail (bounded), what a gateway hands its scanners."""
    if not _HEADER.match(data[:1000]):  # an RFC 822 header line first, or it is not an e-mail
        return []
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload:
            parts.append(payload)
        if len(parts) >= MAX_PARTS:
            break
    return parts


def _safe(rule: Callable[[bytes], bool], data: bytes) -> bool:
    try:
        return rule(data)
    except Exception:  # a rule that cannot parse a file raises no alert on it, as in the field
        return False


def peer_hits(data: bytes) -> dict[str, tuple[bool, float]]:
    """Each rule on the file and, for an e-mail, on each of its parts: (alert, seconds spent)."""
    blobs = [data, *mime_parts(data)]
    out = {}
    for name, rule in RULES.items():
        start = time.perf_counter()
        hit = any(_safe(rule, blob) for blob in blobs)
        out[name] = (hit, time.perf_counter() - start)
    return out


def _task(path: str) -> dict[str, tuple[bool, float]]:
    import logging

    logging.disable(logging.CRITICAL)  # oletools logs parse trouble at ERROR; the outcome is what counts
    with open(path, "rb") as handle:
        return peer_hits(handle.read())


def _cache_path(cache_dir: str | Path) -> Path:
    """Peers' alerts depend on the file and the peers' code only: one file per oletools version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tag = version("oletools")
    except PackageNotFoundError:
        tag = "unknown"
    return Path(cache_dir) / f"peers-{tag}-{'-'.join(RULES)}.parquet"


def run_peers(items: list, model: pd.DataFrame | None = None, jobs: int | None = None,
              log: Callable[[str], None] = print, cache_dir: str | Path | None = None) -> dict:
    """Every peer on every item; per format (and pooled) TPR, FPR and ms per file of each, beside the model.

    `model` (optional) holds `sha256` and `flagged` (the model's decision at its operating point, or
    a `lightgbm` score column with `threshold` given per row) plus `elapsed_ms`, and joins the table.
    With `cache_dir`, each file's alerts and times are kept there (by sha256) and never computed twice.
    """
    from pebble import ProcessPool

    cached: dict[str, dict] = {}
    path = _cache_path(cache_dir) if cache_dir else None
    if path is not None and path.exists():
        try:
            cached = {r["sha256"]: r for r in pd.read_parquet(path).to_dict("records")}
        except (OSError, ValueError):
            log(f"peers: cache {path.name} unreadable, computing again")
    todo = [item for item in items if item.sha256 not in cached]
    fresh: list[dict] = []
    jobs = jobs or 2
    start = time.perf_counter()
    if todo:
        log(f"peers: {len(todo)} files to run ({len(items) - len(todo)} cached)")
        with ProcessPool(max_workers=max(1, jobs)) as pool:
            futures = [(item, pool.schedule(_task, args=(str(item.path),), timeout=PEER_TIMEOUT_S)) for item in todo]
            for n, (item, future) in enumerate(futures, 1):
                try:
                    hits = future.result()
                except Exception:  # timed out or the worker died: no alert, the time limit spent
                    hits = {name: (False, PEER_TIMEOUT_S) for name in RULES}
                fresh.append({"sha256": item.sha256, **{name: hit for name, (hit, _) in hits.items()},
                              **{f"{name}_s": sec for name, (_, sec) in hits.items()}})
                if n % 500 == 0 or n == len(futures):
                    log(f"peers: {n}/{len(futures)} files, {time.perf_counter() - start:.0f} s")
    if path is not None and fresh:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        pd.DataFrame([*cached.values(), *fresh]).to_parquet(tmp, index=False)
        tmp.replace(path)
    cached.update({r["sha256"]: r for r in fresh})
    rows = [{**cached[item.sha256], "sha256": item.sha256, "label": item.label, "format": item.get("format", "")}
            for item in items]
    frame = pd.DataFrame(rows)
    frame[FIELD] = frame[list(RULES)].any(axis=1)
    frame[f"{FIELD}_s"] = frame[[f"{n}_s" for n in RULES]].sum(axis=1)
    detectors = [*RULES, FIELD]
    if model is not None:
        frame = frame.merge(model[["sha256", "flagged", "elapsed_ms"]], on="sha256", how="left")
        frame["maldoc"] = frame["flagged"].fillna(False).astype(bool)
        frame["maldoc_s"] = frame["elapsed_ms"].astype(float) / 1000.0
        detectors.append("maldoc")
    return {"by_format": per_format(frame, detectors), "pooled": figures(frame, detectors),
            "frame": frame,
            "note": "Each detector's alerts at its own (fixed) operating point; maldoc at its out-of-collection "
                    "operating point when given. ms per file: the detector's own time on each file "
                    "(maldoc: the whole analysis, one worker)."}


def figures(frame: pd.DataFrame, detectors: list[str]) -> dict:
    y = (frame["label"] == "malicious").to_numpy()
    out = {}
    for name in detectors:
        hit = frame[name].to_numpy(bool)
        pos, neg = int(y.sum()), int((~y).sum())
        out[name] = {"tpr": float(hit[y].mean()) if pos else math.nan,
                     "fpr": float(hit[~y].mean()) if neg else math.nan,
                     "positives": pos, "negatives": neg, "tp": int(hit[y].sum()), "fp": int(hit[~y].sum()),
                     "ms_per_file": float(np.nanmean(frame[f"{name}_s"].to_numpy(float)) * 1000)}
    return out


def per_format(frame: pd.DataFrame, detectors: list[str]) -> dict:
    return {fmt: figures(part, detectors) for fmt, part in frame.groupby(frame["format"].fillna("").astype(str))}
