"""The model card: what a bundle was trained on, how it was measured, and what limits it.

    model_card(meta, report=None) -> str     Markdown, saved as MODEL_CARD.md in the bundle
"""

from __future__ import annotations

import math

REGENERATE = ("maldoc train --corpus ../shared/corpus --corpus ../shared/corpus2 --synthetic 600 --pairs 300 "
              "--drop-group size --drop-group count --peers --out core/models/default --report /tmp/maldoc-report")
FPRS = ("0.001", "0.005", "0.01")


def _p(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f} %"


def _f(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def _feedback_lines(feedback: dict | None) -> list[str]:
    """Analysts' corrections among the training files (`maldoc feedback`, POST /v1/feedback)."""
    if not feedback:
        return []
    return [f"Analyst feedback: {feedback.get('relabelled', 0)} corpus files carry an analyst's label and "
            f"{feedback.get('added', 0)} labelled files came from the quarantine folder.", ""]


def _at(point: dict | None) -> str:
    if not point:
        return "–"
    mark = " (not measurable)" if point.get("measurable") is False else ""
    return f"{_p(point.get('tpr'))} at {_p(point.get('fpr'))}{mark}"


def ooc_lines(m: dict, rules: dict | None, peers: dict | None = None) -> list[str]:
    """The card's lead: out-of-collection figures, the rule scorer and the field's rules beside them."""
    lines = ["## Out of collection (files scored by a model that never saw their collection)", "",
             f"{m.get('positives', '?')} malicious and {m.get('negatives', '?')} benign files; thresholds set per fold "
             "on the fold's own held-out benign files; files on which a certain indicator fired count as flagged "
             "(benign ones too), as the product labels them. TPR at realised FPR:", "",
             "| model | ROC AUC (per fold) | at FPR 0.1 % | at 0.5 % | at 1 % |", "|---|---|---|---|---|",
             f"| lightgbm | {_f(m.get('roc_auc'))} | " + " | ".join(_at(m.get("at", {}).get(f)) for f in FPRS) + " |"]
    if rules:
        lines.append(f"| rule scorer | {_f(rules.get('roc_auc'))} | "
                     + " | ".join(_at(rules.get("at", {}).get(f)) for f in FPRS) + " |")
    if peers:
        total = peers.get("pooled", {}).get("field rule set")
        if total:
            lines.append(f"| the field's rules (mraptor, olefy, rtfobj, pdfid; one point) | – | "
                         f"{_p(total['tpr'])} at {_p(total['fpr'])} | | |")
    lines += ["", "| format | files | malicious | ROC AUC | at FPR 0.1 % | at 0.5 % | at 1 % |",
              "|---|---|---|---|---|---|---|"]
    for fmt, rec in m.get("by_format", {}).items():
        lines.append(f"| {fmt} | {rec['n']} | {rec['positives']} | {_f(rec.get('roc_auc'))} | "
                     + " | ".join(_at(rec.get("at", {}).get(f)) for f in FPRS) + " |")
    lines += [f"- {w}" for w in m.get("warnings", [])]
    if peers and peers.get("by_format"):
        lines += ["", "The field's rules on the same files, per format, each at its own fixed operating point, "
                  "beside maldoc out of collection at FPR 0.5 % (TPR at FPR):", "",
                  "| format | mraptor | olefy | rtfobj | pdfid | best peer | maldoc |", "|---|---|---|---|---|---|---|"]
        for fmt, rec in sorted(peers["by_format"].items()):
            cells = [f"{_p(rec[n]['tpr'])} at {_p(rec[n]['fpr'])}" if n in rec else "–"
                     for n in ("mraptor", "olefy", "rtfobj", "pdfid")]
            best = max((n for n in ("mraptor", "olefy", "rtfobj", "pdfid") if n in rec and rec[n]["tp"]),
                       key=lambda n: rec[n]["tpr"], default=None)
            ours = rec.get("maldoc")
            lines.append(f"| {fmt} | " + " | ".join(cells) + f" | {best or '–'} | "
                         + (f"{_p(ours['tpr'])} at {_p(ours['fpr'])}" if ours else "–") + " |")
    return [*lines, ""]


def campaign_lines(m: dict, pooled: dict) -> list[str]:
    """The second view's tables (campaign-grouped CV, one pooled threshold), when it was run."""
    lines = [
        "## Second view: grouped cross-validation by campaign (optimistic: a model may know the collection)",
        f"Groups: `{m.get('group_by', '')}` ({m.get('n_groups', '?')} groups): every file is scored by a model that "
        "never saw its campaign (or, for benign fixtures, its folder), its duplicates or its e-mail.", "",
        f"Pooled: ROC AUC {_f(pooled.get('roc_auc'))}, PR AUC {_f(pooled.get('pr_auc'))}, TPR at FPR 1 % "
        f"{_p(pooled.get('tpr_at_fpr_0.01'))}, at 0.5 % {_p(pooled.get('tpr_at_fpr_0.005'))}, at 0.1 % "
        f"{_p(pooled.get('tpr_at_fpr_0.001'))}; at the threshold TPR {_p(pooled.get('tpr'))}, "
        f"FPR {_p(pooled.get('fpr'))}.", "",
        "| fold | files | malicious | ROC AUC | TPR | FPR |", "|---|---|---|---|---|---|",
    ]
    for k, f in m.get("cv_folds", {}).items():
        lines.append(f"| {k} | {f['n']} | {f['positives']} | {_f(f['roc_auc'])} | {_p(f['tpr'])} | {_p(f['fpr'])} |")
    lines += ["", "| format | files | malicious | ROC AUC | TPR | FPR |", "|---|---|---|---|---|---|"]
    for k, f in m.get("cv_by_format", {}).items():
        lines.append(f"| {k} | {f['n']} | {f['positives']} | {_f(f['roc_auc'])} | {_p(f['tpr'])} | {_p(f['fpr'])} |")
    lines += ["", "Baselines on the same folds:", "", "| model | ROC AUC | TPR at FPR 0.5 % | TPR at FPR 0.1 % |",
              "|---|---|---|---|"]
    lines.append(f"| lightgbm | {_f(pooled.get('roc_auc'))} | {_p(pooled.get('tpr_at_fpr_0.005'))} | "
                 f"{_p(pooled.get('tpr_at_fpr_0.001'))} |")
    for name, b in m.get("baselines", {}).items():
        lines.append(f"| {name} | {_f(b.get('roc_auc'))} | {_p(b.get('tpr_at_fpr_0.005'))} | "
                     f"{_p(b.get('tpr_at_fpr_0.001'))} |")
    return lines


def model_card(meta: dict, report: dict | None = None) -> str:
    m = meta.get("metrics", {})
    pooled = m.get("cv_pooled", {})
    data = meta.get("training_data", {})
    t = meta.get("thresholds", {})
    lines = [
        f"# maldoc model {meta.get('version', '')}", "",
        "LightGBM gradient-boosted trees over maldoc's feature schema "
        f"`{data.get('schema_id', '')}`, scoring whether an e-mail attachment (Office, PDF, RTF, HTML, OneNote, "
        "e-mail) is malicious. Static analysis only: nothing is executed or fetched.", "",
        *(ooc_lines(m["ooc"], m.get("ooc_rules"), (report or {}).get("peers")) if m.get("ooc") else []),
        "## Intended use",
        "Triage of mail attachments at a gateway or by an analyst; every verdict lists its top reasons "
        "(LightGBM per-feature contributions, named as findings). Not a replacement for sandboxing.", "",
        "## Training data",
        f"{data.get('files', '?')} labelled files {data.get('by_label', {})}, of which "
        f"{data.get('synthetic_files', 0)} are synthetic, inert files from `maldoc.samples`. "
        f"Collections: {', '.join(data.get('sources', [])) or 'n/a'}. Data sha256 `{data.get('data_sha256', '')}`. "
        "Files labelled `malformed` are robustness inputs, never trained on.", "",
        *_feedback_lines(meta.get("feedback")),
        "## Operating point",
        f"malicious >= {_f(t.get('malicious'))} (the median over the out-of-collection folds of each fold's "
        f"threshold for a false-positive rate of {_p(meta.get('target_fpr'))} on its held-out benign files); "
        f"suspicious >= {_f(t.get('suspicious'))}, chosen the same way.", "",
    ]
    if pooled:
        lines += campaign_lines(m, pooled)
    loco = (report or {}).get("leave_one_source_out")
    if loco:
        lines += ["", "Leave one collection out (the model never saw the collection):", "",
                  "| collection | files | malicious | TPR | FPR |", "|---|---|---|---|---|"]
        lines += [f"| {k} | {v['files']} | {v['malicious']} | {_p(v['tpr'])} | {_p(v['fpr'])} |"
                  for k, v in loco.items()]
    lines += [
        "", "## Limits",
        "- The corpus is small and comes from public collections: all malicious OLE, RTF and OneNote files come "
        "from one collection (InQuest), several collections hold one class only, and benign files are mostly "
        "parser test fixtures. A model can partly learn *which collection* a file came from; the "
        "out-of-collection tables above show how far that goes.",
        "- What the model does not see: anything fetched (remote templates, links and their targets are never "
        "followed), what code does when it runs, files over 1 MB (absent from the training corpus), and "
        "collections unlike those listed above.",
        "- Encrypted content that no known password opens is scored on what is visible.",
        "- The rule catalogue's weights enter the model as `tree.rule_score`, and every rule count and behaviour "
        "indicator is a feature whose rise may only raise the score (monotone constraints), so campaigns unlike "
        "any training collection are still scored by what the rules know. Those weights were set by people who "
        "had seen the training corpus: figures that lean on the rules are optimistic for other collections.",
        "- The out-of-collection tables count what the product decides: a file on which a certain indicator "
        "(a rule of `verdict = \"malicious\"`) fired is flagged whatever the model scores. Those rules, and the "
        "count of benign files each fires on, were designed and measured on these same corpora, so their part "
        "of the figures is in-sample for the rule design.",
        *([f"- Trained without the feature group(s) {', '.join(meta['dropped_feature_groups'])} (raw sizes, "
            "lengths, entropies and structural counts): they mostly describe which collection a file came from."]
          if meta.get("dropped_feature_groups") else []),
        "", "## Reproduce", f"`{REGENERATE}`", "",
        f"Libraries: {meta.get('libraries', {})}", "",
    ]
    return "\n".join(lines)
