"""The generator: `generate_samples(count, seed)` in memory, `generate(out_dir, count, seed)` to disk.

Templates alternate malicious / benign (balanced labels) and cycle through every family before
repeating one, in a seeded order; each sample gets its own `random.Random` seeded from
(seed, index, family), so sample i is the same whatever `count` is, and the same seed gives
byte-identical files. Nothing here reads the clock or the system RNG.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from maldoc.samples import (  # noqa: F401 (register)
    templates_carriers,
    templates_containers,
    templates_lnk,
    templates_mail,
    templates_office,
    templates_pdf,
    templates_qr,
    templates_script,
    templates_svg,
    templates_web,
)
from maldoc.samples.registry import TEMPLATES, Template

MANIFEST = "manifest.csv"
COLUMNS = ("sha256", "label", "format", "family_or_note", "path")


class GeneratedSample(NamedTuple):
    name: str  # file name, unique within one run
    data: bytes
    label: str  # malicious | benign
    format: str  # extension: doc, xlsm, pdf, eml, ...
    family: str  # the template that made it


def templates(label: str | None = None) -> list[Template]:
    return [t for _, t in sorted(TEMPLATES.items()) if label is None or t.label == label]


def schedule(count: int, seed: int) -> list[Template]:
    """Which template makes sample i: malicious and benign alternate, each cycling through its families."""
    order_rng = random.Random(f"maldoc-samples/order/{seed}")
    pools = {label: templates(label) for label in ("malicious", "benign")}
    queues: dict[str, list[Template]] = {label: [] for label in pools}
    out = []
    for i in range(count):
        label = "malicious" if i % 2 == 0 else "benign"
        if not queues[label]:
            queues[label] = list(pools[label])
            order_rng.shuffle(queues[label])
        out.append(queues[label].pop())
    return out


def build(template: Template, seed: int, index: int) -> GeneratedSample:
    rng = random.Random(f"maldoc-samples/{seed}/{index}/{template.family}")
    stem, data = template.build(rng)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
    return GeneratedSample(f"{index:04d}_{safe}.{template.format}", data, template.label, template.format,
                           template.family)


def generate_samples(count: int, seed: int = 0) -> Iterator[GeneratedSample]:
    """`count` samples, in memory (the training pipeline's embedded default corpus)."""
    for index, template in enumerate(schedule(count, seed)):
        yield build(template, seed, index)


def generate(out_dir: str | Path, count: int, seed: int = 0) -> list[GeneratedSample]:
    """Write `count` samples and `manifest.csv` (loadable by `maldoc.training.corpus.Corpus`) into out_dir.

    Files listed by a previous manifest in out_dir are removed first, so regenerating leaves no strays.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    old = out / MANIFEST
    if old.is_file():
        with old.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                stale = out / row.get("path", "")
                if row.get("path") and stale.is_file() and stale.parent == out:
                    stale.unlink()
    samples = list(generate_samples(count, seed))
    with old.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for s in samples:
            (out / s.name).write_bytes(s.data)
            writer.writerow((hashlib.sha256(s.data).hexdigest(), s.label, s.format, s.family, s.name))
    return samples
