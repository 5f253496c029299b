"""The feature schema: every number the model sees, named, in one fixed order, with a hash.

Groups, in order (EMBER-style: named, each a fixed width):
  file.*   the root file itself: size, entropy, detected type (one-hot)
  tree.*   the scan tree: nodes, depth, types found anywhere inside, executables carried
  flag.*   analysis flags raised anywhere in the tree
  rule.*   how often each catalogue rule fired anywhere in the tree
  <extractor>.*  each extractor's declared features, extractors sorted by name, max over the tree

Training and serving both call `vectorize()`; a model bundle records `SCHEMA.hash` and refuses
to load against another. Missing values are NaN ("this extractor never ran"), which LightGBM
treats as missing rather than zero.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from maldoc import catalogue
from maldoc.extractor import registry
from maldoc.types import Flag, Node

SCHEMA_VERSION = 1  # bump on any change to how a group is computed, not just its names
_ZERO_DEFAULT = ("file.type.", "tree.", "flag.", "rule.")


def _core_names() -> list[str]:
    types = registry().types  # every declared type, then unknown
    names = ["file.size_log2", "file.entropy"]
    names += [f"file.type.{t.value}" for t in types]
    names += ["tree.nodes", "tree.max_depth", "tree.executables", "tree.rule_score", "tree.qr_urls",
              "tree.qr_only_link"]
    names += [f"tree.type.{t.value}" for t in types]
    names += [f"flag.{f.value}" for f in Flag]
    names += [f"rule.{r}" for r in sorted(catalogue.RULES)]
    return names


@dataclass(frozen=True)
class Schema:
    version: int
    names: tuple[str, ...]

    @cached_property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    @cached_property
    def hash(self) -> str:
        text = f"{self.version}\n" + "\n".join(self.names)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def id(self) -> str:
        return f"v{self.version}-{self.hash}"

    def __len__(self) -> int:
        return len(self.names)

    @cached_property
    def base_row(self) -> np.ndarray:
        """NaN everywhere but the always-computed groups (one-hots, flags, rule counts): zero."""
        row = np.full(len(self.names), np.nan, dtype=np.float32)
        for i, name in enumerate(self.names):
            if name.startswith(_ZERO_DEFAULT):
                row[i] = 0.0
        return row


def build_schema() -> Schema:
    reg = registry()
    names = _core_names()
    for name in sorted(reg.declared):
        ext = next(e for e in reg.extractors if e.name == name)
        names.extend(ext.feature_names())
    return Schema(SCHEMA_VERSION, tuple(names))


SCHEMA = build_schema()


# Features whose rise may only raise the model's score (LightGBM monotone constraints): the
# catalogue's expert prior, so that a campaign of a kind no training collection holds is still
# scored by what the rules know about it.
MONOTONE_INCREASING = ("tree.rule_score",)


# Extractor features that are evidence in themselves (0/1 or counts of one behaviour), monotone
# like the rule counts: auto-exec combinations, heap-spray shapes, phishing anchors.
INDICATOR_FEATURES = frozenset((
    "vba.autoexec_and_exec", "vba.autoexec_download_exec", "vba.autoexec_and_wmi", "vba.autoexec_and_shell_object",
    "vba.wmi_exec", "vba.hidden_keywords", "xlm.auto_open_exec", "xlm.auto_open_download", "xlm.url_download",
    "pdf.js_spray_shape", "mail.anchor_mismatches", "mail.lure_attachments", "mail.script_hrefs",
    "html.alarm_audio", "html.navigation_traps", "html.fullscreen",
))


def is_indicator(name: str) -> bool:
    """Evidence columns, monotone when training asks for it (more evidence never lowers a score):
    the rule score, executables carried, INDICATOR_FEATURES, and the count of every catalogue rule with a weight (a
    rule of weight 0 is context, not evidence). A model may otherwise learn that a collection's
    benign fixtures trip a rule and read the rule as a sign of innocence."""
    if name in MONOTONE_INCREASING or name in INDICATOR_FEATURES or name == "tree.executables":
        return True
    if name.startswith("rule."):
        rule = catalogue.RULES.get(name[5:])
        return rule is not None and rule.weight > 0
    return False


def rule_score(fired) -> float:
    """Noisy-OR of the catalogue weights of the distinct rules fired: 1 - prod(1 - w)."""
    keep = 1.0
    for rule_id in fired:
        keep *= 1.0 - catalogue.get(rule_id).weight
    return 1.0 - keep


def tree_features(root: Node) -> list[tuple[Node, dict[str, float]]]:
    """Every node of the tree with the aggregated feature dict of its subtree, in `walk()` order.

    Computed bottom-up in one pass (each node's aggregate is its own analysis merged with its
    children's aggregates), so a tree of n nodes costs O(n) merges rather than one walk of every
    subtree per node. Extractor features merge as a NaN-ignoring maximum; counts add up.
    """
    order = list(root.walk())
    agg: dict[int, tuple] = {}
    for node in reversed(order):  # every child comes before its parent
        feats = {k: v for k, v in node.result.features.items() if not k.startswith("_")}
        rules: Counter[str] = Counter(f.rule_id for f in node.result.findings)
        types: Counter[str] = Counter({node.file_type.value: 1})
        flags = {f.value for f in node.result.flags}
        nodes, depth = 1, 0
        executables = int(node.result.features.get("_executable", 0.0))
        qr = float(node.result.features.get("qr.urls", 0.0) or 0.0)
        links = 0 if node.file_type.value.startswith("image_") else len(node.result.urls)
        for child in node.children:
            c_feats, c_rules, c_types, c_flags, c_nodes, c_depth, c_exe, c_qr, c_links = agg[id(child)]
            for key, value in c_feats.items():
                old = feats.get(key)
                if old is None or value > old or math.isnan(old):
                    feats[key] = value
            rules.update(c_rules)
            types.update(c_types)
            flags |= c_flags
            nodes += c_nodes
            depth = max(depth, c_depth + 1)
            executables += c_exe
            qr += c_qr
            links += c_links
        agg[id(node)] = (feats, rules, types, flags, nodes, depth, executables, qr, links)
    out = []
    for node in order:
        feats, rules, types, flags, nodes, depth, executables, qr, links = agg[id(node)]
        values: dict[str, float] = {
            "file.size_log2": math.log2(node.size + 1),
            f"file.type.{node.file_type.value}": 1.0,
            "file.entropy": node.result.features.get("_entropy", math.nan),
        }
        values.update(feats)
        values["tree.nodes"] = float(nodes)
        values["tree.max_depth"] = float(depth)
        values["tree.executables"] = float(executables)
        values["tree.rule_score"] = rule_score(rules)
        values["tree.qr_urls"] = qr  # links only a QR code carries: the quishing lure shape
        values["tree.qr_only_link"] = float(qr > 0 and links == 0)
        for t, n in types.items():
            values[f"tree.type.{t}"] = float(n)
        for f in flags:
            values[f"flag.{f}"] = 1.0
        for r, n in rules.items():
            values[f"rule.{r}"] = float(n)
        out.append((node, values))
    return out


def node_features(node: Node) -> dict[str, float]:
    """The aggregated feature dict of `node` and everything below it."""
    return tree_features(node)[0][1]


def vectorize_values(values: dict[str, float], schema: Schema | None = None) -> np.ndarray:
    """One feature dict as a row in schema order (missing: the schema's default)."""
    schema = schema or SCHEMA
    row = schema.base_row.copy()
    index = schema.index
    for key, value in values.items():
        i = index.get(key)
        if i is not None:
            row[i] = value
    return row


def vectorize(node: Node, schema: Schema | None = None) -> np.ndarray:
    """The model's input row for `node` (and its subtree), in schema order."""
    return vectorize_values(node_features(node), schema)


def named(row: np.ndarray, schema: Schema = SCHEMA, *, skip_missing: bool = True) -> dict[str, float]:
    """Feature name -> value for one row (the `maldoc features` view)."""
    return {
        n: float(v) for n, v in zip(schema.names, row, strict=True)
        if not (skip_missing and (math.isnan(v) or (v == 0 and n.startswith(_ZERO_DEFAULT))))
    }
