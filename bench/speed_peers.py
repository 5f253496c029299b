"""The other side of bench_speed.py: the field's rule set on the same files, file by file.

    python bench/speed_peers.py LIST.json OUT.json

What a gateway without maldoc runs on each attachment, one tool per format as their rules apply:
- olevba + mraptor on every non-PDF file: olevba's analysis (VBA_Parser, analyze_macros without
  the slow deobfuscation), then mraptor (its own VBA_Parser and MacroRaptor). The olefy rule
  (rspamd sending attachments to olevba) is the same olevba analysis, so it is counted once.
  olevba reads OLE, OOXML, Word 2003 XML, MHTML and whole e-mails (it walks MIME parts).
- rtfobj on RTF: its parser, and each object decoded (OLE 1.0 header, Package) as rtfobj does.
- a pdfid rule on PDF: pdfid's keyword count, suspicious when /JS, /JavaScript, /OpenAction,
  /AA, /Launch, /EmbeddedFile or /RichMedia occur.
Writes one JSON object to OUT.json: wall and CPU seconds per file (in list order), the process's peak RSS, set-up time.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from pathlib import Path

T0 = time.perf_counter()
warnings.simplefilter("ignore")

import logging  # noqa: E402

from oletools import mraptor, olevba, rtfobj  # noqa: E402
from pdfid import pdfid  # noqa: E402

logging.disable(logging.CRITICAL)
PDF_RISKY = ("/JS", "/JavaScript", "/OpenAction", "/AA", "/Launch", "/EmbeddedFile", "/RichMedia")


def olevba_mraptor(data: bytes, name: str) -> bool:
    hit = False
    try:
        parser = olevba.VBA_Parser(name, data=data)
        results = parser.analyze_macros(show_decoded_strings=False, deobfuscate=False) or []
        hit = any(kind in ("AutoExec", "Suspicious") for kind, _, _ in results)
        parser.close()
    except Exception:  # unsupported or broken files cost what they cost
        pass
    try:
        parser = olevba.VBA_Parser(name, data=data)
        if parser.detect_vba_macros():
            code = "\n".join(c for _, _, _, c in parser.extract_all_macros() if isinstance(c, str))
            raptor = mraptor.MacroRaptor(code)
            raptor.scan()
            hit = hit or raptor.suspicious
        parser.close()
    except Exception:
        pass
    return hit


def rtf_objects(data: bytes) -> bool:
    try:
        parser = rtfobj.RtfObjParser(data)
        parser.parse()
    except Exception:
        return False
    return any(o.is_ole or o.is_package for o in parser.objects)


def pdfid_rule(data: bytes) -> bool:
    try:
        xml = pdfid.PDFiD(None, filebuffer=data)
    except Exception:
        return False
    counts = {k.getAttribute("Name"): int(k.getAttribute("Count") or 0) for k in xml.getElementsByTagName("Keyword")}
    return any(counts.get(k, 0) for k in PDF_RISKY)


def run(data: bytes, name: str, fmt: str) -> bool:
    if fmt == "pdf":
        return pdfid_rule(data)
    hit = olevba_mraptor(data, name)
    if fmt == "rtf":
        hit = rtf_objects(data) or hit
    return hit


def main() -> None:
    with open(sys.argv[1]) as handle:
        files = json.load(handle)
    setup = time.perf_counter() - T0
    blobs = [Path(f["path"]).read_bytes() for f in files]
    times = []
    cpu = []
    hits = []
    for f, data in zip(files, blobs, strict=True):
        start, start_cpu = time.perf_counter(), time.process_time()
        hits.append(run(data, f["name"], f["format"]))
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(sys.argv[2], "w") as out:
        json.dump({"times": times, "cpu": cpu, "hits": hits, "rss_mb": rss_kb / 1024, "setup_s": setup}, out)


if __name__ == "__main__":
    main()
