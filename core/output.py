"""How `maldoc scan` shows its results: a table for people, JSON / JSON lines for programs."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

from maldoc import __version__
from maldoc.types import Node
from maldoc.verdict import Label, Verdict

_STYLE = {Label.MALICIOUS: "bold red", Label.SUSPICIOUS: "yellow", Label.CLEAN: "green", Label.ERROR: "magenta"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def emit(results, args, errors: list[str], scorer) -> int:
    """Print a record per input in the chosen format, then a one-line summary on stderr; return the
    exit code (2 when any input could not be read at all, else 1 when any verdict is malicious)."""
    from maldoc.cli import EXIT_CLEAN, EXIT_MALICIOUS, EXIT_USAGE
    from maldoc.engine import Unreadable
    from maldoc.record import Document, Record, Summary

    started = time.perf_counter()
    labels: Counter[str] = Counter()
    unreadable = 0
    table_rows: list[Verdict] = []
    records: list[Record] = []
    problems = [Record(input=line.split(": ", 1)[0], status="unreadable", reason=line) for line in errors]
    for path, verdict, node in results:
        shown = "-" if str(path) == "-" else str(path)
        if isinstance(verdict, Unreadable):
            unreadable += 1
            record = Record(input=shown, status="unreadable", reason=verdict.reason)
            print(f"maldoc: {verdict.reason}", file=sys.stderr)
        else:
            labels[verdict.label.value] += 1
            if args.extract:
                extract(node, verdict, Path(args.extract))
            record = Record(input=shown, status="scanned", verdict=verdict)
            if not (args.json or args.jsonl):
                table_rows.append(verdict.model_copy(update={"path": shown}))
        if args.jsonl:
            print(record.model_dump_json(by_alias=True), flush=True)
        elif args.json:
            records.append(record)
    for record in problems:
        unreadable += 1
        if args.jsonl:
            print(record.model_dump_json(by_alias=True), flush=True)
        records.append(record)
    summary = Summary(inputs=sum(labels.values()) + unreadable, unreadable=unreadable, labels=dict(labels),
                      seconds=round(time.perf_counter() - started, 3))
    if args.json:
        doc = Document(maldoc=__version__, model=scorer.version, records=records, summary=summary)
        print(doc.model_dump_json(by_alias=True, indent=2))
    elif not args.jsonl and table_rows:
        print_table(table_rows, show_all=args.all)
        if args.show_macros:
            print_macros(table_rows)
    counts = ", ".join(f"{labels[k]} {k}" for k in ("malicious", "suspicious", "clean", "error") if labels[k])
    print(f"maldoc: {summary.inputs} input{'s' if summary.inputs != 1 else ''}: {counts or 'none scanned'}"
          f"{f'; {unreadable} unreadable' if unreadable else ''}; {summary.seconds:.1f} s", file=sys.stderr)
    if unreadable:
        return EXIT_USAGE
    return EXIT_MALICIOUS if labels["malicious"] else EXIT_CLEAN


def _reasons(v: Verdict, n: int = 3) -> str:
    """The top reasons: findings first, with the evidence of the first; a refusal says why."""
    titles = [f"{r.title} ({r.evidence})" if i == 0 and r.evidence else r.title for i, r in enumerate(v.reasons[:n])]
    if not titles and v.label is not Label.CLEAN and v.errors:
        titles = v.errors[:1]
    return "; ".join(titles)


def print_table(verdicts: list[Verdict], *, show_all: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, pad_edge=False)
    for col in ("verdict", "score", "type", "file", "reasons", "flags"):
        table.add_column(col, overflow="fold")
    for v in verdicts:
        _row(table, v, depth=0, show_all=show_all)
    # Piped output is read by people in logs and tickets: do not fold it to 80 columns.
    Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200).print(table)


def _row(table, v: Verdict, depth: int, show_all: bool) -> None:
    name = v.path if depth == 0 else "  " * depth + "└ " + (v.name or v.path.rsplit(" > ", 1)[-1])
    table.add_row(f"[{_STYLE[v.label]}]{v.label.value}[/]", f"{v.score:.3f}", v.file_type, name,
                  _reasons(v), ",".join(v.flags))
    for child in v.children:
        if show_all or child.label is not Label.CLEAN or child.children:
            _row(table, child, depth + 1, show_all)


def print_macros(verdicts: list[Verdict]) -> None:
    for v in verdicts:
        for sub in v.walk():
            for m in sub.macros:
                print(f"\n--- {sub.path} :: {m.kind} {m.name}{' (truncated)' if m.truncated else ''} ---")
                print(m.code)


def extract(node: Node, verdict: Verdict, dest: Path) -> None:
    """Write embedded items and macro source below dest/<sha256 of the input>/.

    Every name below the folder comes from the file, so none is trusted: each container path part
    is cleaned to `[A-Za-z0-9._-]`, a part left empty or made only of dots (`.`, `..`) is renamed,
    and every directory and file is opened relative to its parent without following symlinks, so
    a link already in the output folder is refused rather than written through.
    """
    dest.mkdir(parents=True, exist_ok=True)
    base = dest.resolve()
    root = base / node.sha256[:16]
    top = (node.sha256[:16],)
    refused = 0
    for sub in node.walk():
        rel = [_safe_part(part, 80) for part in sub.path[1:]]
        if sub.data is not None and rel:
            refused += not _write_below(base, (*top, *rel[:-1]), f"{rel[-1]}.{sub.sha256[:8]}.bin", sub.data)
        for i, m in enumerate(sub.result.macros):
            name = f"{i:02d}_{m.kind}_{_UNSAFE.sub('_', m.name)[:60]}.txt"
            refused += not _write_below(base, (*top, *rel, "macros"), name, m.code.encode("utf-8"))
    print(f"maldoc: extracted into {root}", file=sys.stderr)
    if refused:
        print(f"maldoc: {refused} item(s) not extracted: a symlink or a non-folder is in the way below {base}",
              file=sys.stderr)


def _safe_part(part: str, limit: int) -> str:
    """One path part of a container path as a plain file name: never empty, `.`, `..` or absolute."""
    cleaned = _UNSAFE.sub("_", part)[:limit]
    return cleaned if cleaned.strip(".") else "_" * max(1, len(cleaned))


_NOFOLLOW_OPEN = (os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY"))


def _write_below(base: Path, folders: tuple[str, ...], name: str, data: bytes) -> bool:
    """Write data to base/folders.../name, creating folders; False when the way is not plain folders."""
    for part in (*folders, name):
        if part in ("", ".", "..") or "/" in part or "\\" in part or "\x00" in part:
            raise ValueError("unsafe path part")  # _safe_part rules these out: a programming error
    try:
        if _NOFOLLOW_OPEN:
            _write_fd(base, folders, name, data)
        else:
            _write_checked(base, folders, name, data)
    except OSError:  # ELOOP (a symlink), ENOTDIR, EEXIST as a file, permissions
        return False
    return True


def _write_fd(base: Path, folders: tuple[str, ...], name: str, data: bytes) -> None:
    """Each step opened relative to the folder before it with O_NOFOLLOW: no link is ever followed."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in folders:
            with contextlib.suppress(FileExistsError):  # a link of that name fails the open below
                os.mkdir(part, 0o755, dir_fd=fd)
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600, dir_fd=fd)
        with os.fdopen(out, "wb") as fh:
            fh.write(data)
    finally:
        os.close(fd)


def _write_checked(base: Path, folders: tuple[str, ...], name: str, data: bytes) -> None:
    """Where paths relative to a folder handle are not available: check each step, then resolve."""
    path = base
    for part in (*folders, name):
        path = path / part
        if path.is_symlink():
            raise OSError(f"symlink in the way: {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.resolve().is_relative_to(base):
        raise OSError(f"outside the output folder: {path}")
    path.write_bytes(data)
