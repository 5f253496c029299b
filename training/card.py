"""The model card: what a bundle was trained on, how it was measured, and what limits it.

    model_card(meta, report=None) -> str     Markdown, saved as MODEL_CARD.md in the bundle
"""

from __future__ import annotations

import math

REGENERATE = ("maldoc train --corpus ../shared/corpus --synthetic 600 --out core/models/default "
              "--report /tmp/maldoc-report")


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
        f"malicious >= {_f(t.get('malicious'))} (chosen for a false-positive rate of "
        f"{_p(meta.get('target_fpr'))} on pooled out-of-fold scores); suspicious >= {_f(t.get('suspicious'))}.", "",
        "## Evaluation (grouped cross-validation)",
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
        "leave-one-collection-out table shows how far that goes.",
        "- Files over 1 MB were absent from the training corpus.",
        "- Encrypted content that no known password opens is scored on what is visible.",
        "- The rule catalogue's weights enter the model as `tree.rule_score`, a feature whose rise may only raise "
        "the score (a monotone constraint), so campaigns unlike any training collection are still scored by what "
        "the rules know. Those weights were set by people who had seen the training corpus: figures that lean on "
        "the rules are optimistic for other collections.",
        "", "## Reproduce", f"`{REGENERATE}`", "",
        f"Libraries: {meta.get('libraries', {})}", "",
    ]
    return "\n".join(lines)
