import numpy as np

from maldoc.schema import SCHEMA
from maldoc.training import features
from maldoc.training.corpus import Corpus, MemoryItem
from maldoc.training.features import FeatureCache, FeatureTable, build_feature_table, cache_key


def test_table_from_corpus_is_cached_and_keeps_failed_files(tiny_corpus, tmp_path, monkeypatch):
    with Corpus(tiny_corpus) as corpus:
        items = list(corpus.items())
    table = build_feature_table(items, tmp_path / "cache", jobs=0)
    assert len(table) == len(items) == 25
    assert table.X.shape == (25, len(SCHEMA))
    empty = table.meta.index[table.meta["label"] == "malformed"][0]
    assert "empty" in table.meta.loc[empty, "flags"]  # failed files stay, with their flags
    assert len(table.labelled()) == 24
    mal = table.meta["label"] == "malicious"
    assert (table.meta.loc[mal, "rule_score"] > 0).all()  # executable payloads: the rule baseline sees them
    assert len(table.sub_X) and set(table.sub_owner) <= set(range(25))  # ZIP members scored like a verdict does
    assert (tmp_path / "cache" / f"features-{cache_key()}.parquet").is_file()

    calls = []
    real = features.extract_rows
    monkeypatch.setattr(features, "extract_rows", lambda todo, *a, **k: calls.append(len(todo)) or real(todo, *a, **k))
    again = build_feature_table(items, tmp_path / "cache", jobs=0)
    assert calls == [0]  # everything came from the cache
    np.testing.assert_array_equal(again.X, table.X)
    assert again.meta["flags"].tolist() == table.meta["flags"].tolist()


def test_pool_extraction_matches_in_process(tiny_corpus):
    with Corpus(tiny_corpus) as corpus:
        items = list(corpus.items())[:4]
    pooled = build_feature_table(items, None, jobs=1)
    local = build_feature_table(items, None, jobs=0)
    np.testing.assert_array_equal(pooled.X, local.X)


def test_duplicates_and_memory_items_share_one_extraction(tmp_path):
    data = b"PK\x05\x06" + bytes(18)
    items = [MemoryItem(data, "benign", "a", {"source_repo": "s"}), MemoryItem(data, "malicious", "b")]
    rows = features.extract_rows(items, jobs=0)
    assert rows["sha256"].nunique() == 1
    table = build_feature_table(items, None, jobs=0)
    assert table.meta["label"].tolist() == ["benign", "malicious"]


def test_table_save_load_round_trip(tiny_corpus, tmp_path):
    with Corpus(tiny_corpus) as corpus:
        table = build_feature_table(list(corpus.items()), None, jobs=0)
    path = table.save(tmp_path / "t.parquet")
    back = FeatureTable.load(path)
    np.testing.assert_array_equal(back.X, table.X)
    np.testing.assert_array_equal(back.sub_X, table.sub_X)
    np.testing.assert_array_equal(back.sub_owner, table.sub_owner)
    assert back.schema_id == SCHEMA.id and back.names == SCHEMA.names
    assert back.meta["label"].tolist() == table.meta["label"].tolist()
    sub = back.subset(np.array([1, 0]))
    assert sub.meta["sha256"].tolist() == table.meta["sha256"].iloc[[1, 0]].tolist()


def test_cache_merges_shards(tmp_path):
    a = features.extract_rows([MemoryItem(b"PK\x05\x06" + bytes(18), "benign", "a")], jobs=0)
    b = features.extract_rows([MemoryItem(b"%PDF-1.4\n%%EOF", "benign", "b")], jobs=0)
    cache = FeatureCache(tmp_path, "k")
    cache.add(a)
    cache.add(b)
    cache.add(a)
    cache.save()
    assert FeatureCache(tmp_path, "k").known() == set(a["sha256"]) | set(b["sha256"])


def test_synthetic_items_from_the_generator():
    from maldoc.training.synthetic import synthetic_items

    items = synthetic_items(4, seed=1)
    assert {i.label for i in items} == {"malicious", "benign"}
    assert all(i.meta["synthetic"] and i.meta["source_repo"] == "synthetic" and i.read() for i in items)
    assert all(i.meta["extension"] and i.meta["family_or_note"] for i in items)
