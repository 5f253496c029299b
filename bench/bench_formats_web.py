"""Speed of the SVG, shortcut, script and picture (QR) extractors, each next to its nearest peer.

    .venv/bin/python bench/bench_formats_web.py [--synthetic N] [--no-corpus]

Inputs per format: N synthetic samples from the generator's templates of that format, and the
development corpus files of that type (../shared/corpus and corpus2, or MALDOC_CORPUS): root files
and the parts of corpus e-mails, as detected by content. One process, one core, one run; columns
are p50 / p90 / max milliseconds per file and files per second.

Peers (what the same bytes cost without maldoc's analysis):
- svg:    maldoc's HTML extractor on the same bytes (what an SVG got before it was its own type),
          and a defusedxml parse (the XML tree alone; it refuses DTD entities, so some files fail).
- lnk:    LnkParse3's parse and JSON dump alone (the library maldoc wraps).
- script: the mail sniffer's language test alone (`_mail_sniff.script_kind`); no other static
          script analyser is installed.
- qr:     Pillow open + zxing-cpp `read_barcodes` alone (the libraries maldoc wraps).
"""

from __future__ import annotations

import argparse
import email
import io
import statistics
import time
import warnings
from collections.abc import Callable, Iterator

import defusedxml.ElementTree as DET
import LnkParse3
import zxingcpp
from PIL import Image

from maldoc.extractor import Context, Extractor
from maldoc.extractors import _mail_sniff as sniff
from maldoc.extractors.html import HtmlExtractor
from maldoc.extractors.lnk import LnkExtractor
from maldoc.extractors.qr import QrExtractor
from maldoc.extractors.script import ScriptExtractor
from maldoc.extractors.svg import SvgExtractor
from maldoc.filetype import detect
from maldoc.limits import Budget, Limits
from maldoc.samples.generate import build
from maldoc.samples.registry import TEMPLATES
from maldoc.training.corpus import Corpus, shared_corpus
from maldoc.types import ExtractorResult, Sample

FORMATS = {  # format -> (extractor, template formats, type-name test)
    "svg": (SvgExtractor, ("svg",), lambda t: t == "svg"),
    "lnk": (LnkExtractor, ("lnk",), lambda t: t == "lnk"),
    "script": (ScriptExtractor, ("vbs", "vbe", "js", "ps1", "bat"), lambda t: t.startswith("script_")),
    "qr": (QrExtractor, ("png",), lambda t: t.startswith("image_")),
}
MAX_PARTS = 50  # MIME parts taken from one corpus e-mail


def _extractor(cls: type[Extractor]) -> Callable[[bytes], None]:
    extractor = cls()

    def run(data: bytes) -> None:
        limits = Limits()
        extractor.extract(Sample(data, "x"), Context(limits, Budget(limits)), ExtractorResult())
    return run


def _svg_xml(data: bytes) -> None:
    DET.fromstring(data)


def _lnk_bare(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LnkParse3.lnk_file(indata=data).get_json()


def _script_sniff(data: bytes) -> None:
    sniff.script_kind(sniff.text_head(data) or "")


def _qr_bare(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zxingcpp.read_barcodes(Image.open(io.BytesIO(data)).convert("L"))


PEERS: dict[str, list[tuple[str, Callable[[bytes], None]]]] = {
    "svg": [("html extractor", _extractor(HtmlExtractor)), ("defusedxml parse", _svg_xml)],
    "lnk": [("LnkParse3 alone", _lnk_bare)],
    "script": [("language sniff", _script_sniff)],
    "qr": [("Pillow+zxing alone", _qr_bare)],
}


def synthetic(fmt: str, n: int) -> list[bytes]:
    families = [t for t in TEMPLATES.values() if t.format in FORMATS[fmt][1]]
    return [build(families[i % len(families)], 7, i).data for i in range(n)] if families else []


def _parts(data: bytes) -> Iterator[bytes]:
    msg = email.message_from_bytes(data)
    for i, part in enumerate(msg.walk()):
        if i >= MAX_PARTS:
            return
        payload = part.get_payload(decode=True) if not part.is_multipart() else None
        if isinstance(payload, bytes) and payload:
            yield payload


def corpus_files() -> dict[str, list[bytes]]:
    found: dict[str, list[bytes]] = {fmt: [] for fmt in FORMATS}
    root = shared_corpus()
    if root is None:
        return found
    for folder in (root, root.parent / "corpus2"):
        if not (folder / "manifest.csv").is_file():
            continue
        with Corpus(folder) as corpus:
            for item in corpus.items():
                data = item.read()
                kind = detect(data).value
                blobs = [data] + (list(_parts(data)) if kind == "email" else [])
                for blob in blobs:
                    t = detect(blob).value
                    for fmt, (_, _, test) in FORMATS.items():
                        if test(t):
                            found[fmt].append(blob)
    return found


def timed(fn: Callable[[bytes], None], files: list[bytes]) -> tuple[list[float], int]:
    times, failed = [], 0
    for data in files:
        start = time.perf_counter()
        try:
            fn(data)
        except Exception:  # a peer failing on a file is a figure, not a stop
            failed += 1
        times.append(time.perf_counter() - start)
    return times, failed


def row(fmt: str, source: str, name: str, files: list[bytes], fn: Callable[[bytes], None]) -> str:
    times, failed = timed(fn, files)
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    rate = len(ms) / max(sum(times), 1e-9)
    return (f"{fmt:<7}{source:<10}{name:<22}{len(ms):>6}{statistics.median(ms):>9.2f}{p90:>9.2f}{ms[-1]:>9.2f}"
            f"{rate:>10.1f}{failed:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=60, help="synthetic samples per format")
    parser.add_argument("--no-corpus", action="store_true", help="synthetic samples only")
    args = parser.parse_args()
    corpus = {fmt: [] for fmt in FORMATS} if args.no_corpus else corpus_files()
    print(f"{'format':<7}{'source':<10}{'runner':<22}{'files':>6}{'p50 ms':>9}{'p90 ms':>9}{'max ms':>9}"
          f"{'files/s':>10}{'failed':>7}")
    for fmt, (cls, _, _) in FORMATS.items():
        for source, files in (("synthetic", synthetic(fmt, args.synthetic)), ("corpus", corpus[fmt])):
            if not files:
                print(f"{fmt:<7}{source:<10}(no files of this type)")
                continue
            for name, fn in [("maldoc extractor", _extractor(cls)), *PEERS[fmt]]:
                print(row(fmt, source, name, files, fn), flush=True)


if __name__ == "__main__":
    main()
