"""Analysts' YARA rules on every node (`--yara DIR`, MALDOC_YARA_DIR): each match is a finding.

The rules are compiled once per process (`maldoc.yara_rules.load`, which also gives each rule its
catalogue entry); this extractor only scans the node's bytes with them, bounded by yara-x's
per-scan timeout and the node's own time budget. Evidence names the rule, namespace, tags and
pattern identifiers, never the matched bytes.
"""

from __future__ import annotations

from maldoc.extractor import Context, Extractor
from maldoc.types import ExtractorResult, Flag, Sample
from maldoc.yara_rules import PREFIX, YaraError, entry_for, load

MAX_MATCHES = 50  # findings per node


class YaraExtractor(Extractor):
    name = "yara"
    version = 1
    features = ("matches",)
    rule_prefix = PREFIX
    order = 95  # after the format extractors: it only reads the bytes

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        folder = ctx.options.yara_dir
        if not folder:
            return
        try:
            ruleset = load(folder)
        except YaraError as exc:  # checked at start-up; a folder changed under a running scan lands here
            out.flag(Flag.PARSE_ERROR, f"yara: rules unusable ({type(exc).__name__})")
            return
        try:
            matches = ruleset.scan(sample.data)
        except Exception as exc:  # yara-x's timeout or scan error: the type only
            out.flag(Flag.TIMED_OUT if "timeout" in type(exc).__name__.lower() else Flag.PARSE_ERROR,
                     f"yara: scan stopped ({type(exc).__name__})")
            return
        out.features["yara.matches"] = float(len(matches))
        for match in matches[:MAX_MATCHES]:
            patterns = ",".join(p.identifier for p in match.patterns if p.matches)[:80]
            tags = ",".join(match.tags)
            out.add(entry_for(match), f"{match.namespace}.{match.identifier}" + (f" [{tags}]" if tags else "")
                    + (f" {patterns}" if patterns else ""), sample.display_path)
