"""The steps the components wrap: listing, sharding by hash, shard extraction with the shared
feature cache, merging, and stable evaluation files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.pipeline import steps
from maldoc.training.features import FeatureTable

LIMITS = Limits(timeout_s=20.0)


def _shard_items(paths: list[str]) -> list[set[str]]:
    return [{e["sha256"] for e in steps.read_listing(p)["items"]} for p in paths]


def test_listing_has_every_file_with_its_sha256(tiny_corpus, tmp_path):
    listing, files = steps.list_corpus(str(tiny_corpus), str(tmp_path / "work"))
    body = steps.read_listing(listing)
    assert files == 40 == len(body["items"])
    entry = next(e for e in body["items"] if e["path"] == "malicious/malicious-001.html")
    assert entry["label"] == "malicious" and len(entry["sha256"]) == 64 and not entry["packed"]
    assert entry["corpus"] == str(tiny_corpus.resolve())
    # content-addressed: the same corpus lists to the same file
    assert steps.list_corpus(str(tiny_corpus), str(tmp_path / "work"))[0] == listing


def _zip_corpus(root: Path, samples: list, collection: str, password: bytes | None = b"infected") -> Path:
    """A corpus as `training.corpus` reads the shared ones: `manifest.csv`, and members named by
    their sha256 in `malicious.zip` (AES, password `infected`) and `benign.zip`."""
    import csv
    import hashlib

    import pyzipper

    root.mkdir(parents=True)
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sha256", "label", "format", "family_or_note", "source_repo", "source_path"])
        for label in ("malicious", "benign"):
            with pyzipper.AESZipFile(root / f"{label}.zip", "w", compression=pyzipper.ZIP_DEFLATED,
                                     encryption=pyzipper.WZ_AES if label == "malicious" and password else None) as zf:
                if label == "malicious" and password:
                    zf.setpassword(password)
                for s in samples:
                    if s.label == label:
                        sha = hashlib.sha256(s.data).hexdigest()
                        zf.writestr(sha, s.data)
                        writer.writerow([sha, label, s.format, s.family, collection, s.name])
    return root


def test_listing_takes_several_corpora_each_file_once(tmp_path):
    import hashlib

    from maldoc.samples import generate_samples

    samples = list(generate_samples(16, seed=3))
    first = _zip_corpus(tmp_path / "a", samples[:10], "collection-a")
    second = _zip_corpus(tmp_path / "b", samples[6:], "collection-b")  # 4 files in both
    notes: list[str] = []
    listing, files = steps.list_corpus([str(first), str(second)], str(tmp_path / "work"), log=notes.append)
    body = steps.read_listing(listing)
    assert files == 16 == len({e["sha256"] for e in body["items"]})
    assert body["corpora"] == [str(first.resolve()), str(second.resolve())]
    by_sha = {e["sha256"]: e for e in body["items"]}
    for i, s in enumerate(samples):
        entry = by_sha[hashlib.sha256(s.data).hexdigest()]
        where, repo = (first, "collection-a") if i < 10 else (second, "collection-b")  # the first copy wins
        assert (entry["corpus"], entry["meta"]["source_repo"], entry["label"]) == (str(where.resolve()), repo,
                                                                                  s.label)
        assert entry["packed"] and entry["size"] == len(s.data)
    assert any("4 files appear in more than one corpus" in n for n in notes)
    # the files are read back from their own corpus' ZIPs, as the extraction steps do
    with steps.listed_items(body) as items:
        assert sorted(hashlib.sha256(item.read()).hexdigest() for item in items) == sorted(by_sha)
    # the pipeline's parameter is a JSON list; one folder alone is accepted too
    assert steps.corpus_dirs_from_json(json.dumps([str(first), str(second)])) == [str(first), str(second)]
    assert steps.corpus_dirs_from_json(str(first)) == [str(first)]
    with pytest.raises(ValueError, match="corpus_dirs_json"):
        steps.corpus_dirs_from_json("[]")


def test_a_relabelled_packed_file_is_still_found_in_its_zip(tmp_path):
    import hashlib

    from maldoc.samples import generate_samples
    from maldoc.serving.feedback import FeedbackStore

    samples = list(generate_samples(6, seed=4))
    corpus = _zip_corpus(tmp_path / "c", samples, "collection-c")
    benign = next(s for s in samples if s.label == "benign")
    with FeedbackStore(tmp_path / "fb.sqlite") as store:
        store.add(hashlib.sha256(benign.data).hexdigest(), "malicious")
    listing, _ = steps.list_corpus([str(corpus)], str(tmp_path / "work"), feedback_db=str(tmp_path / "fb.sqlite"))
    body = steps.read_listing(listing)
    with steps.listed_items(body) as items:
        relabelled = [item for item in items if item.meta.get("feedback") == "relabelled"]
        assert [item.label for item in relabelled] == ["malicious"] and relabelled[0].read() == benign.data


def test_new_files_change_only_the_shards_they_fall_into(tiny_corpus, tmp_path, corpus_writer):
    work = str(tmp_path / "work")
    before = steps.shard_listing(steps.list_corpus(str(tiny_corpus), work)[0], work, 4)
    assert len(before) == 4
    assert sum(len(s) for s in _shard_items(before)) == 40
    corpus_writer(tiny_corpus, 2, seed=7, start=100)
    after = steps.shard_listing(steps.list_corpus(str(tiny_corpus), work)[0], work, 4)
    unchanged = set(before) & set(after)
    assert len(unchanged) >= 2  # two new files touch at most two shards; the others keep their listing file
    assert sum(len(s) for s in _shard_items(after)) == 42
    with pytest.raises(ValueError):
        steps.shard_listing(after[0], work, 0)


def test_shards_extract_only_what_the_cache_lacks_and_merge_fills_it(tiny_corpus, tmp_path, corpus_writer):
    work, cache = tmp_path / "work", tmp_path / "cache"
    opts = {"limits": LIMITS, "options": Options(), "jobs": 0}

    def run(tag: str) -> tuple[list[dict], dict]:
        listing = steps.list_corpus(str(tiny_corpus), str(cache))[0]
        shard_dirs, stats = [], []
        for i, shard in enumerate(steps.shard_listing(listing, str(cache), 3)):
            out = work / f"{tag}-{i}"
            stats.append(steps.extract_shard(shard, str(cache), str(out), **opts))
            shard_dirs.append(str(out))
        merged = steps.merge_features(listing, str(cache), shard_dirs, str(work / f"{tag}.parquet"), **opts)
        return stats, merged

    cold, merged = run("cold")
    assert sum(s["extracted"] for s in cold) == 40 and sum(s["cached"] for s in cold) == 0
    assert merged["cache_files_before"] == 0 and merged["cache_files_after"] == 40
    table = FeatureTable.load(work / "cold.parquet")
    assert len(table) == 40 and sorted(set(table.meta["label"])) == ["benign", "malicious"]
    corpus_writer(tiny_corpus, 4, seed=3, start=200)  # 10 % new samples
    warm, merged = run("warm")
    assert sum(s["extracted"] for s in warm) == 4 and sum(s["cached"] for s in warm) == 40
    assert merged["cache_files_after"] == 44
    assert len(FeatureTable.load(work / "warm.parquet")) == 44


def test_cache_is_keyed_by_limits_and_passwords(tiny_corpus, tmp_path):
    cache = tmp_path / "cache"
    listing = steps.list_corpus(str(tiny_corpus), str(cache))[0]
    shard = steps.shard_listing(listing, str(cache), 1)[0]
    first = steps.extract_shard(shard, str(cache), str(tmp_path / "a"), limits=LIMITS, options=Options(), jobs=0)
    steps.merge_features(listing, str(cache), [str(tmp_path / "a")], str(tmp_path / "t.parquet"), limits=LIMITS,
                         options=Options(), jobs=0)
    again = steps.extract_shard(shard, str(cache), str(tmp_path / "b"), limits=LIMITS, options=Options(), jobs=0)
    other = steps.extract_shard(shard, str(cache), str(tmp_path / "c"), limits=LIMITS,
                                options=steps.options_from_json(json.dumps(["secret"])), jobs=0)
    assert (first["extracted"], again["extracted"], other["extracted"]) == (40, 0, 40)


def test_train_params_from_json():
    params = steps.train_params('{"n_splits": 3, "baselines": ["rules"], "loco": false}')
    assert (params.n_splits, params.baselines, params.loco) == (3, ("rules",), False)
    with pytest.raises(TypeError):
        steps.train_params('{"no_such_knob": 1}')


def test_analyst_feedback_relabels_corpus_files_and_adds_quarantined_ones(tiny_corpus, tmp_path):
    import hashlib

    from maldoc.serving.feedback import FeedbackStore

    corrected = tiny_corpus / "benign" / "benign-000.html"
    quarantine = tmp_path / "quarantine"
    quarantine.mkdir()
    held = b"<html><body><script>eval(unescape('%61%6c%65%72%74'))</script>held part</body></html>"
    (quarantine / "part.html").write_bytes(held)
    with FeedbackStore(tmp_path / "fb.sqlite") as store:
        store.add(hashlib.sha256(corrected.read_bytes()).hexdigest(), "malicious", note="a lure after all")
        store.add(hashlib.sha256(held).hexdigest(), "malicious", location="part.html")
        store.add("ef" * 32, "benign")  # a file nobody kept: counted as not found
    listing, files = steps.list_corpus(str(tiny_corpus), str(tmp_path / "work"),
                                       feedback_db=str(tmp_path / "fb.sqlite"), quarantine_dir=str(quarantine))
    body = steps.read_listing(listing)
    assert files == 41
    assert body["feedback"] == {"records": 3, "relabelled": 1, "added": 1, "not_found": 1}
    entry = next(e for e in body["items"] if e["path"] == "benign/benign-000.html")
    assert entry["label"] == "malicious" and entry["meta"]["feedback"] == "relabelled"
    added = next(e for e in body["items"] if e["meta"].get("feedback") == "added")
    assert (added["corpus"], added["path"]) == (str(quarantine.resolve()), "part.html")
    assert added["meta"]["source_repo"] == steps.FEEDBACK_SOURCE
    with steps.listed_items(body) as items:  # the quarantined file is read from where it is
        assert any(item.read() == held for item in items)
    from maldoc.training.features import build_feature_table

    with steps.listed_items(body) as items:
        table = build_feature_table(items, tmp_path / "cache", 0, limits=LIMITS)
    assert steps.feedback_counts(table) == {"relabelled": 1, "added": 1}
    from maldoc.training.card import model_card

    assert "1 corpus files carry an analyst's label and 1 labelled files came from the quarantine" in \
        model_card({"feedback": steps.feedback_counts(table)})


def test_extraction_memory_follows_the_shard_bytes(tmp_path):
    listing = tmp_path / "shard.json"
    listing.write_text(json.dumps({"corpus": "/c", "items": [{"size": 3 << 30}, {"size": 1 << 30}]}))
    assert steps.shard_memory(str(listing), "1Gi", "3Gi", "512Mi", "16Gi") == ("3072Mi", "3072Mi")
    assert steps.shard_memory(str(listing), "1Gi", "8Gi", "1Gi", "16Gi") == ("5120Mi", "8192Mi")
    assert steps.shard_memory(str(listing), "1Gi", "3Gi", "8Gi", "16Gi") == ("16384Mi", "16384Mi")  # capped
    assert steps.quantity_bytes("2G") == 2 * 1000**3 and steps.quantity_bytes("1048576") == 1 << 20
    with pytest.raises(ValueError, match="memory quantity"):
        steps.quantity_bytes("lots")
