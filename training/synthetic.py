"""Synthetic training items from the sample generator (`maldoc.samples`).

    synthetic_items(count, seed=0) -> list[MemoryItem]
    pair_items(count, seed=0) -> list[MemoryItem]        2 x count: each document with and without its malicious part

The generator's samples are inert documents built to look like each attack family and like the
hard negatives (benign macros, form JavaScript...). They train every fold and the shipped model,
and are the whole training set when `maldoc train` is given no corpus. They never count in a figure.
"""

from __future__ import annotations

from maldoc.samples import generate_samples
from maldoc.training.corpus import MemoryItem


def synthetic_items(count: int, seed: int = 0) -> list[MemoryItem]:
    items = []
    for i, sample in enumerate(generate_samples(count, seed)):
        # format stays empty: the table fills it with the detected type, as the corpus manifest does
        items.append(MemoryItem(sample.data, sample.label, sample.name, meta={
            "source_repo": "synthetic", "source_path": f"synthetic/{i}-{sample.name}",
            "family_or_note": sample.family, "extension": sample.format, "synthetic": True}))
    return items


def pair_items(count: int, seed: int = 0) -> list[MemoryItem]:
    """`count` synthetic pairs (`maldoc.samples.pairs`): the malicious twin and its benign twin, both training only."""
    from maldoc.samples.pairs import generate_pairs

    items = []
    for pair in generate_pairs(count, seed):
        for label, data in (("malicious", pair.malicious), ("benign", pair.benign)):
            items.append(MemoryItem(data, label, f"{pair.stem}.{pair.format}", meta={
                "source_repo": "synthetic", "source_path": f"synthetic-pairs/{pair.stem}/{label}",
                "family_or_note": f"pair:{pair.kind}", "extension": pair.format, "synthetic": True}))
    return items
