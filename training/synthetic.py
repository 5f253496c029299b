"""Synthetic training items from the sample generator (`maldoc.samples`, issue 5).

    synthetic_items(count, seed=0) -> list[MemoryItem]

The generator's samples are inert documents built to look like each attack family and like the
hard negatives (benign macros, form JavaScript...). They train every fold and the shipped model,
and are the whole training set when `maldoc train` is given no corpus. They never count in a figure.
"""

from __future__ import annotations

from maldoc.training.corpus import MemoryItem

_LABELS = {"malicious": "malicious", "benign": "benign", "clean": "benign", True: "malicious", False: "benign"}


def _field(sample, *names, default=None):
    for name in names:
        if isinstance(sample, dict) and name in sample:
            return sample[name]
        if hasattr(sample, name):
            return getattr(sample, name)
    return default


def synthetic_items(count: int, seed: int = 0) -> list[MemoryItem]:
    try:
        from maldoc.samples import generate_samples
    except ImportError as exc:
        raise RuntimeError("the synthetic sample generator (maldoc.samples.generate_samples) is not available: "
                           "give a corpus with --corpus") from exc
    items = []
    for i, sample in enumerate(generate_samples(count, seed)):
        if isinstance(sample, tuple) and not hasattr(sample, "data"):  # a plain (name, data, label, ...) tuple
            data = next(x for x in sample if isinstance(x, bytes | bytearray))
            strings = [x for x in sample if isinstance(x, str)]
            label = next((_LABELS[s] for s in strings if s in _LABELS), "benign")
            name = next((s for s in strings if s not in _LABELS), f"synthetic-{i}")
            family = ""
        else:
            data = _field(sample, "data", "content", "bytes")
            raw = _field(sample, "label", "malicious", default="benign")
            label = _LABELS.get(raw, str(raw))
            name = str(_field(sample, "name", "filename", default=f"synthetic-{i}"))
            family = str(_field(sample, "family", "kind", "technique", default="") or "")
        ext = str(_field(sample, "format", default="") or "") if hasattr(sample, "data") else ""
        # format stays empty: the table fills it with the detected type, as the corpus manifest does
        items.append(MemoryItem(bytes(data), label, name, meta={
            "source_repo": "synthetic", "source_path": f"synthetic/{i}-{name}", "family_or_note": family,
            "extension": ext, "synthetic": True}))
    return items
