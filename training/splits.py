"""Leak-free splits: grouped, stratified by label and format.

    group_key(meta, expr) -> pd.Series                  evaluate a --group-by expression per row
    leak_groups(meta, expr=None, *, n_splits=5) -> np.ndarray   final integer group per row
    grouped_folds(meta, groups, n_splits=5, seed=0) -> list[(train_idx, test_idx)]
    holdout(meta, groups, frac=0.2, seed=0) -> (train_idx, test_idx)
    assert_no_leak(meta, train_idx, test_idx) -> None   raises LeakError

Two things always travel together, whatever the grouping: identical files (sha256) and an e-mail
with its attachments (rows whose `source_path` agree before `::mime-part`). On top of that a
group expression names what must be unseen at test time; for ../shared/corpus the default is the
collection plus the campaign (`source_repo+campaign(family_or_note)`), so every file is scored by a
model that never saw its campaign.

A benign fixture collection is not a campaign, and apache/poi alone holds nearly all benign OLE
and OOXML: holding it out whole would leave a fold with no benign Office file to learn from. So a
group larger than 1/(2k) of the rows is split along its `source_path` directories and, if still
too large, into chunks; malicious campaigns are far smaller than that and stay whole. The report
states this, and `leave_one_source_out` gives the strict per-collection view alongside.

Expression syntax: terms joined by `+`; a term is a column name or `f(column)` with f one of
campaign (text before the first `;`), root (before the first `::`), dir (the parent folder),
top (the first path component).
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import pandas as pd

DEFAULT_GROUP_BY = "source_repo+campaign(family_or_note)"
_TERM = re.compile(r"^\s*(?:(campaign|root|dir|top)\(\s*([\w-]+)\s*\)|([\w-]+))\s*$")
_MAIL_SPLIT = "::mime-part"


class LeakError(AssertionError):
    """A split put related files on both sides."""


def _apply(func: str, values: pd.Series) -> pd.Series:
    values = values.fillna("").astype(str)
    if func == "campaign":
        return values.str.split(";").str[0].str.strip()
    if func == "root":
        return values.str.split("::").str[0]
    if func == "dir":
        return values.str.rsplit("/", n=1).str[0].where(values.str.contains("/"), "")
    if func == "top":
        return values.str.split("/").str[0]
    return values


def group_key(meta: pd.DataFrame, expr: str) -> pd.Series:
    parts = []
    for term in expr.split("+"):
        match = _TERM.match(term)
        if not match:
            raise ValueError(f"--group-by: cannot read {term!r} "
                             "(use col, campaign(col), root(col), dir(col), top(col))")
        func, arg, column = match.groups()
        column = column or arg
        if column not in meta.columns:
            raise ValueError(f"--group-by: no column {column!r} (have {', '.join(map(str, meta.columns))})")
        parts.append(_apply(func or "", meta[column]))
    key = parts[0]
    for part in parts[1:]:
        key = key + "|" + part
    return key.reset_index(drop=True)


def default_group_by(meta: pd.DataFrame) -> str:
    if {"source_repo", "family_or_note"} <= set(meta.columns):
        return DEFAULT_GROUP_BY
    if "source_repo" in meta.columns:
        return "source_repo"
    return "sha256"


def _split_large(keys: pd.Series, meta: pd.DataFrame, cap: int) -> pd.Series:
    """Split groups over `cap` rows along source_path folders, then into hashed chunks."""
    keys = keys.copy()
    paths = meta["source_path"].fillna("").astype(str).reset_index(drop=True) if "source_path" in meta \
        else pd.Series([""] * len(meta))
    folders = paths.str.split("::").str[0].str.split("/").str[:-1]
    for depth in range(1, 6):
        sizes = keys.map(keys.value_counts())
        big = sizes > cap
        if not big.any():
            return keys
        keys[big] = keys[big] + "/" + folders[big].str[:depth].str.join("/")
    sizes = keys.map(keys.value_counts())
    for key in keys[sizes > cap].unique():
        rows = np.flatnonzero((keys == key).to_numpy())
        chunks = int(np.ceil(len(rows) / cap))
        shas = meta["sha256"].iloc[rows].astype(str)
        keys.iloc[rows] = [f"{key}#{zlib.crc32(s.encode()) % chunks}" for s in shas]
    return keys


def _union(*keysets: pd.Series) -> np.ndarray:
    """Connected components: rows sharing any key of any keyset end up in one group."""
    n = len(keysets[0])
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for keys in keysets:
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k == "":
                continue
            j = first.setdefault(k, i)
            if j != i:
                a, b = find(i), find(j)
                if a != b:
                    parent[a] = b
    roots = np.array([find(i) for i in range(n)])
    return np.unique(roots, return_inverse=True)[1]


def mail_root(meta: pd.DataFrame) -> pd.Series:
    if "source_path" not in meta:
        return pd.Series([""] * len(meta))
    path = meta["source_path"].fillna("").astype(str).reset_index(drop=True)
    repo = meta["source_repo"].fillna("").astype(str).reset_index(drop=True) if "source_repo" in meta else ""
    return (repo + "|" + path.str.split(_MAIL_SPLIT).str[0]).where(path != "", "")


def leak_groups(meta: pd.DataFrame, expr: str | None = None, *, n_splits: int = 5,
                split_large: bool = True) -> np.ndarray:
    """An integer group per row: the expression's groups, merged over shared files and mails."""
    expr = expr or default_group_by(meta)
    keys = group_key(meta, expr)
    if split_large and len(meta):
        keys = _split_large(keys, meta, max(1, len(meta) // (2 * n_splits)))
    shas = meta["sha256"].astype(str).reset_index(drop=True)
    return _union(keys, shas, mail_root(meta))


def strata(meta: pd.DataFrame) -> np.ndarray:
    fmt = meta["format"].fillna("").astype(str) if "format" in meta else ""
    return pd.factorize((meta["label"].astype(str) + "/" + fmt).to_numpy())[0]


def grouped_folds(meta: pd.DataFrame, groups: np.ndarray, n_splits: int = 5,
                  seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (label x format) group k-fold; every group lies wholly in one test fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise ValueError(f"only {n_groups} groups: cannot make {n_splits} grouped folds")
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    import warnings

    with warnings.catch_warnings():  # "least populated class has only N members": expected for rare formats
        warnings.simplefilter("ignore", UserWarning)
        folds = list(cv.split(np.zeros(len(groups)), strata(meta), groups))
    for train, test in folds:
        assert_no_leak(meta, train, test)
    return folds


def holdout(meta: pd.DataFrame, groups: np.ndarray, frac: float = 0.2,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One grouped, stratified split with about `frac` of the rows on the test side."""
    # tiny data: as many folds as the groups and the largest stratum allow
    n_splits = min(max(2, round(1 / frac)), len(np.unique(groups)), int(np.bincount(strata(meta)).max()))
    if n_splits < 2:
        raise ValueError("too few groups for a grouped holdout")
    return grouped_folds(meta, groups, n_splits, seed)[0]


def assert_no_leak(meta: pd.DataFrame, train: np.ndarray, test: np.ndarray) -> None:
    for name, keys in (("sha256", meta["sha256"].astype(str).reset_index(drop=True)), ("e-mail", mail_root(meta))):
        a = set(keys.iloc[train]) - {""}
        b = set(keys.iloc[test]) - {""}
        both = a & b
        if both:
            raise LeakError(f"{len(both)} {name} keys on both sides of a split, e.g. {sorted(both)[0]}")
