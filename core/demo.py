"""`maldoc demo`: scan the bundled demo set and show each verdict beside its known label."""

from __future__ import annotations

import csv
import sys
from importlib import resources
from pathlib import Path

from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.runner import scan_files
from maldoc.verdict import Label, Verdict


def demo_folder() -> Path:
    return Path(str(resources.files("maldoc.samples").joinpath("demo")))


class _Item:
    __slots__ = ("label", "path")

    def __init__(self, path: Path, label: str) -> None:
        self.path, self.label = path, label


def labelled_files(root: Path) -> list[_Item]:
    """(path, label) from `manifest.csv` / `labels.csv` (`path` or `sha256`, `label`), files beside it.

    Deliberately small: corpora with password ZIPs are the training loader's business
    (`maldoc.training.corpus`); the demo needs only a folder of files and their labels.
    """
    manifest = next((root / n for n in ("manifest.csv", "labels.csv") if (root / n).is_file()), None)
    if manifest is None:
        raise ValueError(f"{root}: no labelled files (needs a manifest.csv or labels.csv)")
    items = []
    with manifest.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            label = (row.get("label") or "").strip().lower()
            if label not in ("malicious", "benign"):
                continue
            path = root / (row.get("path") or row.get("sha256") or "")
            if not path.is_file():
                raise ValueError(f"{manifest}: file {row.get('path') or row.get('sha256')} not found")
            items.append(_Item(path, label))
    return items


def run_demo(folder: str | None, scorer) -> int:
    from rich.console import Console
    from rich.table import Table

    root = Path(folder) if folder else demo_folder()
    try:
        items = labelled_files(root)
    except (ValueError, OSError) as exc:
        print(f"maldoc: {exc}", file=sys.stderr)
        return 2
    if not items:
        print(f"maldoc: {root}: no labelled files (needs a manifest.csv or labels.csv)", file=sys.stderr)
        return 2
    labels = {item.path: item for item in items}
    table = Table(title=f"maldoc demo: {len(items)} files, model {scorer.version}")
    for col in ("known label", "verdict", "score", "type", "file", "top reasons"):
        table.add_column(col, overflow="fold")
    agree = 0
    results = scan_files([i.path for i in items], scorer=scorer, limits=Limits(), options=Options(), jobs=None,
                         progress=sys.stderr.isatty())
    for path, verdict, _node in results:
        item = labels[path]
        if not isinstance(verdict, Verdict):  # unreadable: say so, count it as a disagreement
            table.add_row(item.label, "[bold red]unreadable[/]", "-", "-", path.name, verdict.reason)
            continue
        flagged = verdict.label in (Label.MALICIOUS, Label.SUSPICIOUS)
        ok = flagged == (item.label == "malicious")
        agree += ok
        style = "green" if ok else "bold red"
        table.add_row(item.label, f"[{style}]{verdict.label.value}[/]", f"{verdict.score:.3f}", verdict.file_type,
                      path.name, "; ".join(r.title for r in verdict.reasons[:2]))
    console = Console()
    console.print(table)
    console.print(f"{agree}/{len(items)} verdicts agree with the known labels "
                  "(malicious or suspicious for malicious files, clean for benign).")
    return 0
