"""Feature groups for the audit: which schema columns describe a collection, which carry maliciousness.

    groups(names) -> dict[group, list[name]]     every feature in exactly one group
    FEATURE_SETS: name -> features to drop        the variants the protocol check ranks
    masked(table, drop) -> FeatureTable           the same table with those columns unseen (NaN)

`size` holds raw sizes, lengths and entropies; `count` the structural counts that mostly encode
how a fixture was built (objects, streams, parts, lines...); `type` the detected-type one-hots;
`flag` the analysis flags; `rule` the catalogue's rule counts and the rule score. Every other
feature falls in its extractor's group (`vba`, `pdf`, ...): the semantic indicators.
"""

from __future__ import annotations

import re

import numpy as np

from maldoc.training.features import FeatureTable

_SIZE = re.compile(r"(^file\.(size_log2|entropy)$|size_log2|bytes_log2|_chars_log2|text_log2|entropy|_length$|"
                   r"longest|stream_bytes_ratio|orphan_size_ratio|max_hex_run|encoded_literal_max)")
COUNT = frozenset((
    "tree.nodes", "tree.max_depth",
    "ole.streams", "ole.storages",
    "pdf.objects", "pdf.streams", "pdf.pages", "pdf.eof_count", "pdf.xref_tables", "pdf.trailers", "pdf.startxref",
    "pdf.startxref_valid", "pdf.objects_walked", "pdf.objstm_objects", "pdf.endobj_diff", "pdf.endstream_diff",
    "pdf.version", "pdf.kw_objstm", "pdf.walk_complete", "pdf.link_annots",
    "ooxml.parts", "ooxml.rels", "ooxml.non_xml_parts", "ooxml.hyperlinks",
    "vba.lines", "vba.identifiers", "vba.strings", "vba.modules", "vba.projects", "vba.empty_modules",
    "vba.max_line_len", "vba.identifier_mean_len", "vba.comment_ratio",
    "mail.parts", "mail.recipients", "mail.received_hops", "mail.text_bodies", "mail.html_bodies", "mail.defects",
    "rtf.control_words_per_kb", "rtf.object_controls", "rtf.max_depth", "rtf.bin_controls",
    "html.scripts", "html.forms", "html.iframes", "html.objects", "html.event_handlers",
    "onenote.images", "onenote.names",
    "xlm.sheets", "xlm.formulas", "xlm.functions",
    "zip.members", "url.count", "url.distinct_hosts",
))


def group_of(name: str) -> str:
    if name.startswith(("file.type.", "tree.type.")):
        return "type"
    if name.startswith("flag."):
        return "flag"
    if name.startswith("rule.") or name == "tree.rule_score":
        return "rule"
    if name in COUNT:
        return "count"
    if _SIZE.search(name):
        return "size"
    return name.split(".", 1)[0]


def groups(names) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in names:
        out.setdefault(group_of(name), []).append(name)
    return out


def _semantic_drop(names) -> list[str]:
    return [n for n in names if group_of(n) in ("size", "count", "type", "flag")]


FEATURE_SETS = {
    "all": lambda names: [],
    "no size/entropy/count": lambda names: [n for n in names if group_of(n) in ("size", "count")],
    "semantic only": _semantic_drop,
}


def masked(table: FeatureTable, drop) -> FeatureTable:
    """`table` with the `drop` columns set to NaN everywhere (LightGBM never splits on them)."""
    drop = [table.names.index(n) for n in drop if n in table.names]
    if not drop:
        return table
    X = table.X.copy()
    X[:, drop] = np.nan
    sub = table.sub_X.copy()
    if len(sub):
        sub[:, drop] = np.nan
    return FeatureTable(table.meta, X, table.names, sub, table.sub_owner, table.schema_id)
