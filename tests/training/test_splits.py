import numpy as np
import pandas as pd
import pytest

from maldoc.training.splits import (
    LeakError,
    assert_no_leak,
    group_key,
    grouped_folds,
    holdout,
    leak_groups,
)


def _meta(n=120):
    rows = []
    for i in range(n):
        rows.append({"sha256": f"sha{i}", "label": "malicious" if i % 3 == 0 else "benign",
                     "format": ("pdf", "ole", "eml")[i % 3], "source_repo": f"r{(i // 2) % 4}",
                     "source_path": f"mail{i // 2}.eml" if i % 2 == 0 else f"mail{i // 2}.eml::mime-part[2]",
                     "family_or_note": f"camp{(i // 2) % 7}; static indicators: x"})
    meta = pd.DataFrame(rows)
    meta.loc[5, "sha256"] = meta.loc[100, "sha256"]  # the same file twice, in different campaigns
    return meta


def test_group_expression_terms():
    meta = pd.DataFrame({"source_repo": ["a", "b"], "family_or_note": ["2019-06-Emotet; tags", ""],
                         "source_path": ["x/y/z.eml::mime-part[1]", "top.pdf"]})
    assert group_key(meta, "source_repo+campaign(family_or_note)").tolist() == ["a|2019-06-Emotet", "b|"]
    assert group_key(meta, "root(source_path)").tolist() == ["x/y/z.eml", "top.pdf"]
    assert group_key(meta, "dir(source_path)").tolist() == ["x/y", ""]
    assert group_key(meta, "top(source_path)").tolist() == ["x", "top.pdf"]
    with pytest.raises(ValueError, match="no column"):
        group_key(meta, "nope")
    with pytest.raises(ValueError, match="cannot read"):
        group_key(meta, "eval(1)")


def test_folds_never_split_a_file_or_a_mail():
    meta = _meta()
    groups = leak_groups(meta, "campaign(family_or_note)", split_large=False)
    assert groups[5] == groups[100]  # same sha256 joined although the campaigns differ
    assert groups[0] == groups[1]  # mail0.eml and its attachment
    for train, test in grouped_folds(meta, groups, n_splits=3, seed=1):
        assert_no_leak(meta, train, test)
        assert not set(groups[train]) & set(groups[test])
        both = {5, 100}
        assert both <= set(train) or both <= set(test)


def test_leak_check_catches_a_shared_mail():
    meta = _meta()
    with pytest.raises(LeakError, match="e-mail"):
        assert_no_leak(meta, np.array([0]), np.array([1]))
    with pytest.raises(LeakError, match="sha256"):
        assert_no_leak(meta, np.array([5]), np.array([100]))


def test_large_single_source_is_split_by_folder_but_mails_stay_whole():
    n = 200
    meta = pd.DataFrame({"sha256": [f"s{i}" for i in range(n)], "label": "benign", "format": "ole",
                         "source_repo": "poi", "family_or_note": "parser test fixture",
                         "source_path": [f"test-data/{('doc', 'xls', 'ppt', 'msg')[i % 4]}/f{i}" for i in range(n)]})
    meta.loc[1, "source_path"] = "test-data/doc/f0::mime-part[1]"  # attachment of f0, another folder
    groups = leak_groups(meta, "source_repo+campaign(family_or_note)", n_splits=5)
    assert len(np.unique(groups)) > 4  # one collection no longer empties a fold's training data
    assert groups[0] == groups[1]
    unsplit = leak_groups(meta, "source_repo+campaign(family_or_note)", split_large=False)
    assert len(np.unique(unsplit)) == 1


def test_holdout_is_grouped():
    meta = _meta()
    groups = leak_groups(meta, "sha256")
    train, test = holdout(meta, groups, 0.25)
    assert len(test) and len(train)
    assert not set(groups[train]) & set(groups[test])
