"""The PDF object walk: maldoc's pdfminer-based walk beside pikepdf (qpdf, C++) on the same corpus PDFs.

    .venv/bin/python bench/bench_pdf_walk.py [--limit 200] [--cpu 0]

Each side runs in its own process (pinned to one core, `taskset`), file after file, over the
corpus's PDFs (../shared/corpus and corpus2, read through `maldoc.training.corpus`, in memory):
  walk     `maldoc.extractors._pdf_objects.walk`: linear `N G obj` scan, pdfminer's tokenizer per
           object that may matter, object streams inflated (what `extractors/pdf.py` runs)
  pikepdf  `pikepdf.open` (qpdf: xref first, reconstruction when it is broken), every object of
           `pdf.objects` visited, its dictionary keys read, each stream's raw bytes read
Rows: files/s, p50/p99/max ms, failures (an exception, or no object found), peak RSS. Then what
each side sees: files where the set of action names (/JS, /JavaScript, /OpenAction, /AA, /Launch,
/URI, /EmbeddedFile, /SubmitForm, /XFA) or the object count differ, with both values.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NAMES = ("/JS", "/JavaScript", "/OpenAction", "/AA", "/Launch", "/URI", "/EmbeddedFile", "/SubmitForm", "/XFA")
MAX_OBJECTS = 100_000


def _pdfs(limit: int) -> list:
    """Every k-th corpus PDF by sha256; the items keep the corpus loader's temporary folder alive."""
    from maldoc.training.corpus import load_corpora, shared_corpora

    roots = shared_corpora()
    if not roots:
        raise SystemExit("no corpus: ../shared/corpus is absent")
    items = sorted((i for i in load_corpora(roots) if i.get("format") == "pdf"), key=lambda i: i.sha256)
    step = max(1, len(items) // max(limit, 1))
    return items[::step][:limit]


def _names_walk(value, found: set[str], depth: int = 0) -> None:
    from pdfminer.psparser import PSLiteral

    if depth > 32:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if f"/{k}" in NAMES:
                found.add(f"/{k}")
            _names_walk(v, found, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _names_walk(v, found, depth + 1)
    elif isinstance(value, PSLiteral) and f"/{value.name}" in NAMES:
        found.add(f"/{value.name}")


def side_walk(data: bytes) -> tuple[int, set[str]]:
    from maldoc.extractors._pdf_objects import Lazy, Stream, walk

    doc = walk(data, lambda: None, MAX_OBJECTS)
    found: set[str] = set()
    for obj in doc.objects.values():
        if isinstance(obj, Stream):
            _names_walk(obj.attrs, found)
        elif not isinstance(obj, Lazy):
            _names_walk(obj, found)
    return len(doc.objects), found


def _names_pike(obj, found: set[str], depth: int = 0) -> None:
    import pikepdf

    if depth > 32:
        return
    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        for k in list(obj.keys()):  # a pikepdf Dictionary: its keys, read once
            if k in NAMES:
                found.add(k)
            try:
                value = obj.get(k)
            except Exception:  # qpdf raises on a damaged value: count what was read
                continue
            if isinstance(value, pikepdf.Array | pikepdf.Dictionary) and not value.is_indirect:
                _names_pike(value, found, depth + 1)
            elif isinstance(value, pikepdf.Name) and str(value) in NAMES:
                found.add(str(value))
    elif isinstance(obj, pikepdf.Array):
        for v in obj:
            if isinstance(v, pikepdf.Array | pikepdf.Dictionary) and not v.is_indirect:
                _names_pike(v, found, depth + 1)


def side_pikepdf(data: bytes) -> tuple[int, set[str]]:
    import io

    import pikepdf

    found: set[str] = set()
    count = 0
    with pikepdf.open(io.BytesIO(data), suppress_warnings=True) as pdf:
        for obj in pdf.objects:
            if obj is None or (isinstance(obj, pikepdf.Object) and obj._type_code == pikepdf.ObjectType.null):
                continue
            count += 1
            if isinstance(obj, pikepdf.Stream):
                obj.read_raw_bytes()
            _names_pike(obj, found)
    return count, found


def run_side(kind: str, listing: Path, out: Path) -> None:
    """One side over every file of the listing (child process): per-file seconds, failures, peak RSS."""
    import resource

    fn = side_walk if kind == "walk" else side_pikepdf
    blobs = json.loads(listing.read_text())
    rows = []
    for path in blobs:
        data = Path(path).read_bytes()
        started = time.perf_counter()
        try:
            count, names = fn(data)
            error = ""
        except Exception as exc:  # a failure is a figure here
            count, names, error = 0, set(), type(exc).__name__
        rows.append({"s": time.perf_counter() - started, "objects": count, "names": sorted(names), "error": error})
    out.write_text(json.dumps({"rows": rows, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200, help="corpus PDFs at most")
    parser.add_argument("--cpu", default="0", help="core the measured processes are pinned to")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--listing", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        run_side(args.side, Path(args.listing), Path(args.out))
        return
    items = _pdfs(args.limit)
    sizes = [i.path.stat().st_size for i in items]
    # The sides run as separate processes (each one's peak memory its own) over the corpus loader's
    # own files: nothing of the corpus is copied.
    with tempfile.TemporaryDirectory(prefix="maldoc-pdfwalk-") as tmp:
        listing = Path(tmp) / "files.json"
        listing.write_text(json.dumps([str(i.path) for i in items]))
        results = {}
        for kind in ("walk", "pikepdf"):
            out = Path(tmp) / f"{kind}.json"
            pin = ["taskset", "-c", args.cpu] if shutil.which("taskset") else []
            subprocess.run([*pin, sys.executable, __file__, "--side", kind, "--listing", str(listing),
                            "--out", str(out)], check=True, stdin=subprocess.DEVNULL)
            results[kind] = json.loads(out.read_text())
    print(f"{len(items)} corpus PDFs, {sum(sizes) / len(sizes) / 1024:.0f} KiB mean")
    print(f"{'side':8} {'files/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} {'failures':>8} {'RSS MB':>7}")
    for kind, res in results.items():
        t = [r["s"] for r in res["rows"]]
        fails = sum(bool(r["error"]) or r["objects"] == 0 for r in res["rows"])
        print(f"{kind:8} {len(t) / sum(t):8.1f} {statistics.median(t) * 1000:7.1f} {pct(t, 0.99) * 1000:7.1f} "
              f"{max(t) * 1000:8.1f} {fails:8d} {res['rss_mb']:7.0f}")
    differ = []
    for i, (a, b) in enumerate(zip(results["walk"]["rows"], results["pikepdf"]["rows"], strict=True)):
        if a["names"] != b["names"] or a["error"] != b["error"]:
            differ.append((i, a, b))
    errors: dict[str, int] = {}
    for _i, _a, b in differ:
        if b["error"]:
            errors[b["error"]] = errors.get(b["error"], 0) + 1
    lost = sum(bool(b["error"]) and bool(a["names"]) for _i, a, b in differ)
    both = [d for d in differ if not d[2]["error"] and not d[1]["error"]]
    print(f"files where the sides differ: {len(differ)}; pikepdf failed on {sum(errors.values())} "
          f"({errors or 'none'}), {lost} of them with action names the walk sees; both read the file but "
          f"saw other names: {len(both)}")
    for i, a, b in differ[:15]:
        only_walk = sorted(set(a["names"]) - set(b["names"]))
        only_pike = sorted(set(b["names"]) - set(a["names"]))
        failed = f"; pikepdf: {b['error']}" if b["error"] else ""
        print(f"  file {i:3d}: objects walk {a['objects']} / pikepdf {b['objects']}; only the walk sees "
              f"{only_walk or '-'}; only pikepdf sees {only_pike or '-'}{failed}")


if __name__ == "__main__":
    main()
