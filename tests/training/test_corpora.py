import csv
import hashlib

import pytest

from maldoc.training.corpus import CorpusError, item_format, load_corpora, stratified_limit


def _corpus(root, files, header=("sha256", "label", "format", "source_repo")):
    root.mkdir(parents=True)
    rows = []
    for data, label, fmt in files:
        sha = hashlib.sha256(data).hexdigest()
        (root / label).mkdir(exist_ok=True)
        (root / label / sha).write_bytes(data)
        rows.append({"sha256": sha, "label": label, "format": fmt, "source_repo": root.name})
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_several_corpora_are_deduplicated_by_sha256(tmp_path):
    a = _corpus(tmp_path / "a", [(b"one", "benign", "pdf"), (b"two", "malicious", "ole")])
    b = _corpus(tmp_path / "b", [(b"two", "malicious", "ole"), (b"three", "benign", "eml")])
    notes = []
    items = load_corpora([a, b], log=notes.append)
    assert sorted(i.read() for i in items) == [b"one", b"three", b"two"]
    assert {i.get("corpus") for i in items} == {str(a), str(b)}
    assert any("more than one corpus" in n for n in notes)


def test_an_empty_corpus_is_a_clear_error(tmp_path):
    empty = _corpus(tmp_path / "empty", [])
    with pytest.raises(CorpusError, match="no labelled files"):
        load_corpora([empty])


def test_a_manifest_without_labels_is_a_clear_error(tmp_path):
    root = _corpus(tmp_path / "nolabel", [(b"x", "benign", "pdf")], header=("sha256", "format"))
    with pytest.raises(CorpusError, match="no 'label' column"):
        load_corpora([root])


def test_limit_keeps_every_label_and_format(tmp_path):
    files = [(f"b{i}".encode(), "benign", "pdf") for i in range(80)]
    files += [(f"m{i}".encode(), "malicious", "ole") for i in range(15)]
    files += [(b"rare", "malicious", "rtf")]
    items = load_corpora([_corpus(tmp_path / "c", files)])
    picked = stratified_limit(items, 20, seed=1)
    assert len(picked) == 20
    strata = {(i.label, item_format(i)) for i in picked}
    assert strata == {("benign", "pdf"), ("malicious", "ole"), ("malicious", "rtf")}
    assert sum(i.label == "benign" for i in picked) in (15, 16, 17)  # about its share of 80/96
    assert stratified_limit(items, 20, seed=1) == picked  # reproducible
    with pytest.raises(CorpusError):
        stratified_limit(items, 0)
