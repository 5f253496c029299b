"""Office extraction speed next to oletools' olevba + mraptor, on the same corpus files, same run.

    .venv/bin/python bench/bench_office.py [--corpus DIR] [--limit N] [--formats ole,ooxml,rtf]

Per format: files/s, p50, p99 (ms) for
  ours-file   every maldoc extractor registered for the file's type, on the file itself
  ours-tree   maldoc.engine.analyze: the file and everything emitted from it (decrypted
              content, embedded objects, packages), which is what a scan costs
  olevba+mraptor  what running both tools costs: olevba's analysis (VBA_Parser, analyze_macros
              without the slow deobfuscation) and mraptor (its own VBA_Parser, MacroRaptor)
The goal (issue 3): ours-file <= 1.5x olevba+mraptor, p99 < 0.5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections import defaultdict

from maldoc.engine import analyze
from maldoc.extractor import Context, registry
from maldoc.filetype import detect
from maldoc.limits import Budget, Limits
from maldoc.olecompat import mraptor, olevba, quiet
from maldoc.training.corpus import Corpus, shared_corpus
from maldoc.types import ExtractorResult, Sample


def ours_file(data: bytes, name: str) -> None:
    limits = Limits()
    ctx = Context(limits=limits, budget=Budget(limits))
    out = ExtractorResult()
    sample = Sample(data=data, name=name, path=(name,))
    for ext in registry().for_type(detect(data)):
        with contextlib.suppress(Exception):  # the engine would flag it; here only time matters
            ext.extract(sample, ctx, out)


def ours_tree(data: bytes, name: str) -> None:
    analyze(data, name)


def olevba_mraptor(data: bytes, name: str) -> None:
    with quiet():
        try:  # olevba
            parser = olevba.VBA_Parser(name, data=data)
            parser.analyze_macros(show_decoded_strings=False, deobfuscate=False)
            parser.close()
        except Exception:  # unsupported or broken files cost what they cost
            pass
        try:  # mraptor
            parser = olevba.VBA_Parser(name, data=data)
            if parser.detect_vba_macros():
                code = "\n".join(c for _, _, _, c in parser.extract_all_macros() if isinstance(c, str))
                mraptor.MacroRaptor(code).scan()
            parser.close()
        except Exception:
            pass


RUNNERS = {"ours-file": ours_file, "ours-tree": ours_tree, "olevba+mraptor": olevba_mraptor}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=None, help="corpus folder (default: ../shared/corpus)")
    parser.add_argument("--limit", type=int, default=0, help="files per format (0: all)")
    parser.add_argument("--formats", default="ole,ooxml,rtf")
    args = parser.parse_args()
    root = args.corpus or shared_corpus()
    if root is None:
        raise SystemExit("no corpus: pass --corpus or set MALDOC_CORPUS")
    formats = set(args.formats.split(","))
    registry()  # imports and registry checks outside the timings
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    seen: dict[str, int] = defaultdict(int)
    slowest: list[tuple[float, str, str]] = []
    with Corpus(root) as corpus:
        for item in corpus.items():
            fmt = item.get("format")
            if fmt not in formats or (args.limit and seen[fmt] >= args.limit):
                continue
            seen[fmt] += 1
            data = item.read()
            for label, run in RUNNERS.items():  # interleaved: both sides see the same cache state
                start = time.perf_counter()
                run(data, item.path.name)
                elapsed = time.perf_counter() - start
                times[(fmt, label)].append(elapsed)
                times[("all", label)].append(elapsed)
                if label == "ours-file":
                    slowest.append((elapsed, fmt, item.path.name))
    print(f"{'format':8} {'runner':16} {'files':>6} {'files/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for fmt in [*sorted(formats & set(seen)), "all"]:
        for label in RUNNERS:
            values = times.get((fmt, label))
            if not values:
                continue
            print(f"{fmt:8} {label:16} {len(values):6d} {len(values) / sum(values):9.1f} "
                  f"{statistics.median(values) * 1000:8.1f} {percentile(values, 0.99) * 1000:8.1f} "
                  f"{max(values) * 1000:8.1f}")
        base = sum(times.get((fmt, "olevba+mraptor"), [0.0]))
        if base:
            ratio = sum(times[(fmt, "ours-file")]) / base
            tree = sum(times[(fmt, "ours-tree")]) / base
            print(f"{fmt:8} {'ratio':16} ours-file / olevba+mraptor = {ratio:.2f}x, ours-tree = {tree:.2f}x")
    print("slowest (ours-file):", ", ".join(f"{n[:12]} {f} {t * 1000:.0f} ms" for t, f, n in
                                           sorted(slowest, reverse=True)[:5]))


if __name__ == "__main__":
    main()
