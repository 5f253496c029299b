import numpy as np

from maldoc.schema import SCHEMA
from maldoc.training.feature_groups import FEATURE_SETS, group_of, groups, masked
from maldoc.training.protocol import Variant, ablation, protocol_check
from maldoc.training.train import TrainParams

FAST = TrainParams(max_rounds=40, early_stopping=10, ooc_folds=3, n_splits=3)


def test_feature_groups_partition_the_schema():
    parts = groups(SCHEMA.names)
    assert sum(len(v) for v in parts.values()) == len(SCHEMA)
    assert group_of("file.size_log2") == "size" and group_of("file.entropy") == "size"
    assert group_of("tree.rule_score") == "rule" and group_of("pdf.objects") == "count"
    assert group_of("vba.kw_shell") == "vba"
    semantic = set(SCHEMA.names) - set(FEATURE_SETS["semantic only"](SCHEMA.names))
    assert "vba.autoexec" in semantic and "file.size_log2" not in semantic


def test_masked_hides_columns_from_the_model(small_table):
    t = masked(small_table, ["file.size_log2"])
    col = SCHEMA.index["file.size_log2"]
    assert np.isnan(t.X[:, col]).all() and not np.isnan(small_table.X[:, col]).all()


def test_protocol_check_ranks_variants_on_kept_out_collections(table_factory):
    table = table_factory(n=300, seed=2, n_sources=6)
    variants = [Variant("all"), Variant("no signal", drop=[SCHEMA.names[0], SCHEMA.names[1]]),
                Variant("half signal", drop=[SCHEMA.names[0]])]
    check = protocol_check(table, variants, FAST, holdout=("repo0",), campaign=False, log=lambda _m: None)
    assert check["holdout_collections"] == ["repo0"] and check["kept_out_files"] > 0
    by_name = {v["variant"]: v for v in check["variants"]}
    assert by_name["all"]["holdout"] > by_name["no signal"]["holdout"]
    assert by_name["all"]["protocol"] > by_name["no signal"]["protocol"]
    agreement = check["agreement"]["out-of-collection protocol (per-fold AUC)"]
    assert -1 <= agreement["spearman"] <= 1


def test_ablation_reports_each_group_against_all_features(table_factory):
    table = table_factory(n=240, seed=4, n_sources=6)
    out = ablation(table, FAST, log=lambda _m: None, only=("size", "vba"))
    rows = {r["group"]: r for r in out["rows"]}
    assert set(rows) == {"(none: all features)", "size", "vba"}
    # the synthetic signal sits in the first two columns (file.size_log2, file.entropy): the size group
    assert rows["size"]["d_roc_auc"] < -0.05
    assert abs(rows["vba"]["d_roc_auc"]) < 0.05
