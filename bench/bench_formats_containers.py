"""Speed of the container and carrier extractors next to the nearest peer tool, same files, same run.

    .venv/bin/python bench/bench_formats_containers.py [--corpus DIR ...] [--synthetic N] [--limit N]

Per extractor and file set (synthetic samples of its templates; development-corpus files of its
type where the corpora hold any): files/s, p50 and p99 (ms) for
  ours        that one extractor's extract() on the file (children emitted, not scanned)
  ours-tree   maldoc.engine.analyze: the file and everything emitted from it
  peer        the nearest other tool doing the same job on the same bytes, where one exists:
              archives/ISO  bsdtar -tf and 7z l (listing only, from a temporary copy; they run as
                            processes, so their figure includes process start-up), py7zr listing
              .msg          extract_msg: open, bodies, attachment data
              TNEF          tnefparse: parse, attachments, bodies
              PowerPoint 97 olefile: open and read the PowerPoint Document stream
              others        no peer reads these shapes (slide actions, exploit markers, Word 6 FIB)
Peers that are not installed are left out and named. The corpora hold no 7z/RAR/ISO/TNEF files;
those rows are synthetic only.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from maldoc.engine import analyze
from maldoc.extractor import Context, Extractor, registry
from maldoc.extractors._office_common import open_ole
from maldoc.filetype import detect
from maldoc.limits import Budget, Limits
from maldoc.samples.generate import TEMPLATES
from maldoc.training.corpus import Corpus, shared_corpus
from maldoc.types import ExtractorResult, FileType, Sample

# extractor name -> the generator families whose samples it handles
FAMILIES = {
    "archive": ("sevenzip_script", "sevenzip_documents", "tgz_documents"),
    "diskimage": ("iso_lnk_hidden", "iso_documents"),
    "msg": ("msg_encrypted_7z", "msg_plain"),
    "tnef": ("tnef_script", "tnef_plain"),
    "ppt": ("ppt97_program_object", "ppt97_plain"),
    "pptx": ("ppsx_program_action", "pptx_links", "pptm_macro"),
    "exploits": ("html_follina", "html_search_ms", "docx_follina_field", "docx_mhtml_xusc", "docx_altchunk_rtf",
                 "rtf_static_dib"),
    "word6": ("word6_macro_template", "word6_plain"),
}


def extractor(name: str) -> Extractor:
    return next(e for e in registry().extractors if e.name == name)


def ours(name: str) -> Callable[[bytes], None]:
    ext = extractor(name)

    def run(data: bytes) -> None:
        limits = Limits()
        out = ExtractorResult()
        with contextlib.suppress(Exception):  # the engine would flag it; here only time matters
            ext.extract(Sample(data=data, name="sample", path=("sample",)), Context(limits, Budget(limits)), out)
    return run


def ours_tree(data: bytes) -> None:
    analyze(data, "sample")


# -- peers -----------------------------------------------------------------------------------------
def _listing(tool: list[str]) -> Callable[[bytes], None] | None:
    if shutil.which(tool[0]) is None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="maldoc-bench-"))  # synthetic samples only

    def run(data: bytes) -> None:
        path = folder / "sample.bin"
        path.write_bytes(data)
        subprocess.run([*tool, str(path)], capture_output=True, timeout=60, check=False)
    return run


def _py7zr(data: bytes) -> None:
    import py7zr

    with contextlib.suppress(Exception), py7zr.SevenZipFile(io.BytesIO(data)) as z:
        z.list()


def _extract_msg(data: bytes) -> None:
    import extract_msg

    with contextlib.suppress(Exception):
        m = extract_msg.openMsg(data)
        _ = (m.body, m.htmlBody, [a.data for a in m.attachments])
        m.close()


def _tnefparse(data: bytes) -> None:
    import tnefparse

    with contextlib.suppress(Exception):
        t = tnefparse.TNEF(data, do_checksum=False)
        _ = (t.body, t.htmlbody, [a.data for a in t.attachments])


def _olefile_ppt(data: bytes) -> None:
    import olefile

    with contextlib.suppress(Exception), olefile.OleFileIO(io.BytesIO(data)) as ole:
        ole.openstream("PowerPoint Document").read()


def peers(name: str) -> tuple[dict[str, Callable[[bytes], None]], list[str]]:
    table: dict[str, Callable[[bytes], None] | None] = {}
    missing: list[str] = []
    if name in ("archive", "diskimage"):
        table["bsdtar -tf"] = _listing(["bsdtar", "-tf"])
        table["7z l"] = _listing(["7z", "l"])
        if name == "archive":
            table["py7zr list (7z only)"] = _py7zr
    elif name == "msg":
        table["extract_msg"] = _extract_msg if _importable("extract_msg") else None
    elif name == "tnef":
        table["tnefparse"] = _tnefparse if _importable("tnefparse") else None
    elif name == "ppt":
        table["olefile stream"] = _olefile_ppt
    found = {k: v for k, v in table.items() if v is not None}
    missing = [k for k, v in table.items() if v is None]
    return found, missing


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


# -- file sets -------------------------------------------------------------------------------------
def synthetic(name: str, per_family: int) -> list[bytes]:
    files = []
    for family in FAMILIES[name]:
        for seed in range(per_family):
            files.append(TEMPLATES[family].build(random.Random(f"bench/{family}/{seed}"))[1])
    return files


def _corpus_kind(data: bytes) -> str | None:
    kind = detect(data)
    if kind is FileType("msg"):
        return "msg"
    if kind in (FileType("tnef"), FileType("iso"), FileType("sevenzip"), FileType("rar")):
        return {"tnef": "tnef", "iso": "diskimage"}.get(str(kind), "archive")
    if kind is FileType.OLE:
        with contextlib.suppress(Exception):
            ole = open_ole(data)
            if ole.exists("PowerPoint Document"):
                return "ppt"
            if ole.exists("WordDocument") and ole.openstream("WordDocument").read(2) == b"\xdc\xa5":
                return "word6"
    if kind is FileType.OOXML and b"ppt/presentation.xml" in data:
        return "pptx"
    return None


def corpus_files(roots: list[Path], limit: int) -> dict[str, list[bytes]]:
    found: dict[str, list[bytes]] = {}
    for root in roots:
        if not (root / "manifest.csv").is_file():
            continue
        with Corpus(root) as corpus:
            for item in corpus.items():
                data = item.read()
                kind = _corpus_kind(data)
                if kind and (not limit or len(found.setdefault(kind, [])) < limit):
                    found.setdefault(kind, []).append(data)
    return found


def measure(run: Callable[[bytes], None], files: list[bytes]) -> tuple[float, float, float]:
    times = []
    for data in files:
        start = time.perf_counter()
        run(data)
        times.append(time.perf_counter() - start)
    ordered = sorted(times)
    total = sum(times) or 1e-9
    return len(files) / total, ordered[len(ordered) // 2] * 1000, ordered[min(len(ordered) - 1,
                                                                              int(0.99 * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", default=None, help="corpus folder(s) (default: both shared ones)")
    parser.add_argument("--synthetic", type=int, default=10, help="samples per template family")
    parser.add_argument("--limit", type=int, default=0, help="corpus files per type (0: all)")
    parser.add_argument("--only", default="", help="comma-separated extractor names")
    args = parser.parse_args()
    roots = [Path(c) for c in args.corpus] if args.corpus else []
    if not roots and (shared := shared_corpus()) is not None:
        roots = [shared, shared.parent / "corpus2"]
    real = corpus_files(roots, args.limit) if roots else {}
    names = [n for n in FAMILIES if not args.only or n in args.only.split(",")]
    print(f"{'extractor':<10} {'files':<14} {'runner':<22} {'n':>5} {'files/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name in names:
        runners, missing = peers(name)
        sets = [("synthetic", synthetic(name, args.synthetic))]
        if real.get(name):
            sets.append(("corpus", real[name]))
        for label, files in sets:
            for runner, fn in (("ours", ours(name)), ("ours-tree", ours_tree), *runners.items()):
                if runner.startswith("py7zr") and label == "synthetic":
                    files_for = [f for f in files if f.startswith(b"7z\xbc\xaf")]
                else:
                    files_for = files
                if not files_for:
                    continue
                rate, p50, p99 = measure(fn, files_for)
                print(f"{name:<10} {label:<14} {runner:<22} {len(files_for):>5} {rate:>9.1f} {p50:>8.2f} {p99:>8.2f}")
        if missing:
            print(f"{name:<10} (peer not installed: {', '.join(missing)})")


if __name__ == "__main__":
    main()
