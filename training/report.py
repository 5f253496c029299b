"""The evaluation report: metrics.json, report.md, report.html and PNG plots in one folder.

    write_report(result, out_dir, *, title="maldoc evaluation") -> dict[str, Path]
    plot_all(result, out_dir) -> dict[str, Path]

`result` is what `train_bundle` (its report) or `evaluate_bundle` returns: `models` (metrics per
model), `by_format`, `by_source`, optional `folds`, `leave_one_source_out`, `calibration`,
`misclassified`, `importance`, and the per-file scores (`oof` or `scores`, a DataFrame with `y`
and one `score_<model>` or `<model>` column per model). The report is built as a list of blocks
rendered twice (Markdown, HTML), so both always say the same thing.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from maldoc.training.train import json_safe

Block = tuple[str, object]  # ("h1"|"h2"|"p"|"table"|"img", payload)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _pct(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f} %"


def _score_columns(result: dict) -> tuple[pd.DataFrame | None, dict[str, str]]:
    frame = result.get("oof") if result.get("oof") is not None else result.get("scores")
    if frame is None:
        return None, {}
    cols = {c[6:]: c for c in frame.columns if c.startswith("score_")}
    if not cols:
        cols = {m: m for m in result.get("models", {}) if m in frame.columns}
    return frame, cols


def _tpr_at(m: dict, f: str) -> str:
    text = _pct(m.get(f"tpr_at_fpr_{f}"))
    return text + " (not measurable)" if f in m.get("not_measurable", []) else text


def _metrics_rows(models: dict) -> list[list[str]]:
    rows = []
    for name, m in models.items():
        c = m["confusion"]
        rows.append([name, _fmt(m["roc_auc"]), _fmt(m["pr_auc"]), _tpr_at(m, "0.01"),
                     _tpr_at(m, "0.005"), _tpr_at(m, "0.001"), _fmt(m["threshold"]),
                     _pct(m["tpr"]), _pct(m["fpr"]), f"{c['tp']}/{c['fp']}/{c['fn']}/{c['tn']}"])
    return rows


_METRIC_HEAD = ["model", "ROC AUC", "PR AUC", "TPR@FPR 1 %", "TPR@FPR 0.5 %", "TPR@FPR 0.1 %", "threshold",
                "TPR", "FPR", "TP/FP/FN/TN"]


def _breakdown_rows(part: dict) -> list[list[str]]:
    rows = []
    for key, m in part.items():
        c = m["confusion"]
        rows.append([key or "(none)", str(m["n"]), str(m["positives"]), _fmt(m["roc_auc"]), _pct(m["tpr"]),
                     _pct(m["fpr"]), _pct(m["tpr_at_fpr_0.005"]), f"{c['tp']}/{c['fp']}/{c['fn']}/{c['tn']}"])
    return rows


_BREAK_HEAD = ["", "files", "malicious", "ROC AUC", "TPR", "FPR", "TPR@FPR 0.5 %", "TP/FP/FN/TN"]


_FPRS = ("0.001", "0.005", "0.01")


def _at(point: dict) -> str:
    """`TPR (FPR)` of one operating point, marked when the evaluation set cannot measure that FPR."""
    if point is None:
        return "–"
    text = f"{_pct(point.get('tpr'))} ({_pct(point.get('fpr'))})"
    if point.get("measurable") is False:
        text += " not measurable"
    return text


def ooc_blocks(ooc: dict, peers: dict | None = None) -> list[Block]:
    """The headline: out-of-collection figures, thresholds per fold, pooled and per format."""
    m = ooc["metrics"]
    head = ["model", "ROC AUC (per fold)", "ROC AUC (pooled scores)", "TPR (FPR) at FPR 0.1 %", "at 0.5 %",
            "at 1 %"]
    rows = [["lightgbm", _fmt(m["roc_auc"]), _fmt(m["roc_auc_pooled"]), *[_at(m["at"].get(f)) for f in _FPRS]]]
    if ooc.get("rules"):
        r = ooc["rules"]
        rows.append(["rule scorer", _fmt(r["roc_auc"]), _fmt(r["roc_auc_pooled"]),
                     *[_at(r["at"].get(f)) for f in _FPRS]])
    out: list[Block] = [
        ("h2", "Out of collection (headline)"),
        ("p", f"Every file below was scored by a model that never saw its collection (`source_repo`): "
              f"{ooc.get('n_folds', len(ooc.get('folds', [])))} folds of whole collections, synthetic files training "
              "every fold and never scored. Thresholds are set per fold on that fold's own held-out benign "
              "scores and the counts added up; a file on which a certain indicator fired (a catalogue rule of "
              "`verdict = \"malicious\"`) counts as flagged, benign ones included, as the product labels it. "
              "ROC AUC (per fold) sets each malicious file against its own "
              "fold's benign files, the pooled AUC mixes the folds' score scales. "
              f"{m['positives']} malicious and {m['negatives']} benign files."),
        ("table", (head, rows)),
    ]
    out += [("p", f"Warning: {w}") for w in m.get("warnings", [])]
    fmt_rows = []
    for fmt, rec in m.get("by_format", {}).items():
        fmt_rows.append([fmt or "(none)", str(rec["n"]), str(rec["positives"]), _fmt(rec["roc_auc"]),
                         *[_at(rec["at"].get(f)) for f in _FPRS]])
    out += [("h2", "Out of collection, per format (at the pooled operating points)"),
            ("table", (["format", "files", "malicious", "ROC AUC (per fold)", "TPR (FPR) at 0.1 %", "at 0.5 %",
                        "at 1 %"], fmt_rows))]
    src_rows = []
    for name, rec in m.get("by_source_repo", {}).items():
        src_rows.append([name, str(rec["n"]), str(rec["positives"]),
                         *[_at(rec["at"].get(f)) for f in _FPRS]])
    if src_rows:
        out += [("h2", "Out of collection, per collection"),
                ("table", (["collection", "files", "malicious", "TPR (FPR) at 0.1 %", "at 0.5 %", "at 1 %"],
                           src_rows))]
    fold_rows = [[str(k + 1), str(f["files"]), str(f["malicious"]), ", ".join(f["collections"]),
                  "; ".join(f["coverage"]) or "every format of both labels"]
                 for k, f in enumerate(ooc.get("folds", []))]
    if fold_rows:
        out += [("h2", "Out-of-collection folds"),
                ("table", (["fold", "files", "malicious", "collections held out", "training side lacks"], fold_rows))]
    if peers:
        out += peer_blocks(peers)
    return out


def peer_blocks(peers: dict) -> list[Block]:
    """The field's rules next to the model on the same files, per format."""
    rows = []
    for fmt, rec in peers["by_format"].items():
        for name, p in rec.items():
            rows.append([fmt, name, str(p["positives"]), str(p["negatives"]), _pct(p["tpr"]), _pct(p["fpr"]),
                         _fmt(p.get("ms_per_file"))])
    return [("h2", "The field's rules on the same files"),
            ("p", peers.get("note", "")),
            ("table", (["format", "detector", "malicious", "benign", "TPR", "FPR", "ms per file"], rows))]


def protocol_blocks(check: dict) -> list[Block]:
    rows = [[v["variant"], _fmt(v["protocol"]), _fmt(v["campaign_pooled_auc"]), _fmt(v["holdout"])]
            for v in check["variants"]]
    corr = check["agreement"]
    return [("h2", "Does the protocol predict unseen collections? (pseudo-holdout)"),
            ("p", f"Collections kept out of everything: {', '.join(check['holdout_collections'])}. Each variant is "
                  f"scored by the out-of-collection protocol on the rest ({check['metric']}) and by a model trained "
                  "on the rest and scored on the kept-out collections."),
            ("table", (["variant", "protocol", "campaign CV, pooled AUC", "kept-out collections"], rows)),
            ("p", "Agreement with the kept-out ranking over variants: " + "; ".join(
                f"{k}: Spearman {_fmt(v['spearman'])}, Kendall {_fmt(v['kendall'])}" for k, v in corr.items()))]


def blocks(result: dict, plots: dict[str, Path], title: str) -> list[Block]:
    out: list[Block] = [("h1", title)]
    data = result.get("training_data") or result.get("data") or {}
    if data:
        out.append(("p", f"{data.get('files', '?')} labelled files {data.get('by_label', {})}; data sha256 "
                         f"{str(data.get('data_sha256', ''))[:16]}; schema {data.get('schema_id', '')}."
                    + (f" Of these, {data['synthetic_files']} are synthetic (training only, never scored)."
                       if data.get("synthetic_files") else "")))
    t = result.get("thresholds") or (result.get("bundle") or {}).get("thresholds")
    if t:
        how = (" (each the median of the out-of-collection folds' thresholds for the target FPRs)"
               if result.get("operating_point") else "")
        out.append(("p", f"Operating point: malicious >= {t['malicious']:.4f}, suspicious >= "
                         f"{t['suspicious']:.4f}{how}."))
    if result.get("headline"):
        ov = result.get("overlap", {})
        out.append(("p", f"Figures: {result['headline']}; {ov.get('scored', '?')} files scored, "
                         f"{ov.get('files', 0)} left out as training files of the model, "
                         f"{ov.get('collection_files', 0)} from its training collections."))
    out += [("p", f"Warning: {w}") for w in result.get("warnings", [])]
    if result.get("ooc"):
        out += ooc_blocks(result["ooc"], result.get("peers"))
    elif result.get("peers"):
        out += peer_blocks(result["peers"])
    if result.get("protocol_check"):
        out += protocol_blocks(result["protocol_check"])
    if result.get("ablation"):
        out += ablation_blocks(result["ablation"])
    if not result.get("models"):
        return out + _tail(result, plots)
    second = " (second view: grouped CV by campaign, one pooled threshold)" if result.get("ooc") else ""
    out += [("h2", "Models on the same files" + second)]
    if result.get("group_by"):
        out.append(("p", f"Grouped {len(result.get('folds', {}))}-fold cross-validation, groups "
                         f"`{result['group_by']}` ({result.get('n_groups')} groups; identical files and an e-mail "
                         "with its attachments always share a group; single-class fixture collections larger than "
                         "1/(2k) of the corpus are split along their folders). Figures are over the pooled "
                         "out-of-fold scores; synthetic files train every fold and are never scored. A model here "
                         "may have seen other campaigns of a file's collection: this view is optimistic."))
    out.append(("table", (_METRIC_HEAD, _metrics_rows(result["models"]))))
    per_fold = result.get("per_fold_thresholds")
    if per_fold:
        rows = [[name, _fmt(m["roc_auc"]), *[_at(m["at"].get(f)) for f in _FPRS]] for name, m in per_fold.items()]
        out += [("p", "The same campaign folds with thresholds set per fold (TPR, realised FPR):"),
                ("table", (["model", "ROC AUC (per fold)", "at 0.1 %", "at 0.5 %", "at 1 %"], rows))]
    out.append(("p", "Baselines at their own thresholds: rules 0.7 (the product's rule scorer), others 0.5; "
                     "the TPR@FPR columns compare them at equal false-positive rates."))
    if result.get("folds"):
        rows = [[k, str(m["n"]), str(m["positives"]), _fmt(m["roc_auc"]), _pct(m["tpr"]), _pct(m["fpr"]),
                 _pct(m["tpr_at_fpr_0.005"]), ", ".join(m.get("formats", []))] for k, m in result["folds"].items()]
        out += [("h2", "LightGBM per fold"),
                ("table", (["fold", "files", "malicious", "ROC AUC", "TPR", "FPR", "TPR@FPR 0.5 %", "formats"],
                           rows))]
    out += [("h2", "LightGBM per format"), ("table", (_BREAK_HEAD, _breakdown_rows(result["by_format"])))]
    if result.get("by_source"):
        out += [("h2", "LightGBM per source collection"),
                ("table", (_BREAK_HEAD, _breakdown_rows(result["by_source"])))]
    if result.get("leave_one_source_out"):
        rows = [[k, str(v["files"]), str(v["malicious"]), _pct(v["tpr"]), _pct(v["fpr"])]
                for k, v in result["leave_one_source_out"].items()]
        out += [("h2", "Leave one collection out (strictest: the model never saw the collection)"),
                ("table", (["collection", "files", "malicious", "TPR", "FPR"], rows))]
    return out + _tail(result, plots)


def ablation_blocks(ablation: dict) -> list[Block]:
    rows = [[r["group"], str(r["features"]), _fmt(r["roc_auc"]), _fmt(r["d_roc_auc"]),
             *[f"{_pct(r['tpr'][f])} ({'+' if r['d_tpr'][f] >= 0 else ''}{100 * r['d_tpr'][f]:.2f})" for f in _FPRS]]
            for r in ablation["rows"]]
    return [("h2", "Feature groups: out-of-collection effect of dropping each"),
            ("p", ablation.get("note", "")),
            ("table", (["dropped group", "features", "ROC AUC", "change", "TPR at 0.1 % (change, points)", "at 0.5 %",
                        "at 1 %"], rows))]


def _tail(result: dict, plots: dict[str, Path]) -> list[Block]:
    out: list[Block] = []
    if result.get("failed_files"):
        out += [("h2", "Files with failure flags (all labels, malformed included)"),
                ("table", (["flag", "files"], [[k, str(v)] for k, v in result["failed_files"].items()]))]
    cal = result.get("calibration")
    if cal:
        out.append(("p", f"Calibration: expected calibration error {cal['ece']:.4f} over {len(cal['bins'])} bins."))
    for name in ("roc", "pr", "calibration", "importance"):
        if name in plots:
            out.append(("img", plots[name].name))
    if result.get("misclassified"):
        rows = [[r["error"], r.get("format", ""), r.get("source_repo", ""), r["sha256"][:12], _fmt(r["score"]),
                 r.get("reasons", "") or r.get("findings", "")] for r in result["misclassified"]]
        out += [("h2", "Misclassified files (largest margin first)"),
                ("table", (["error", "format", "source", "sha256", "score", "top reasons"], rows))]
    return out


def _md(blocks_: list[Block]) -> str:
    lines = []
    for kind, payload in blocks_:
        if kind == "h1":
            lines += [f"# {payload}", ""]
        elif kind == "h2":
            lines += [f"## {payload}", ""]
        elif kind == "p":
            lines += [str(payload), ""]
        elif kind == "img":
            lines += [f"![{payload}]({payload})", ""]
        elif kind == "table":
            head, rows = payload
            cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
            lines.append("| " + " | ".join(map(cell, head)) + " |")
            lines.append("|" + "---|" * len(head))
            lines += ["| " + " | ".join(map(cell, r)) + " |" for r in rows]
            lines.append("")
    return "\n".join(lines)


def _html(blocks_: list[Block], title: str) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}img{max-width:48%}</style></head><body>"]
    for kind, payload in blocks_:
        if kind in ("h1", "h2"):
            parts.append(f"<{kind}>{html.escape(str(payload))}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{html.escape(str(payload))}</p>")
        elif kind == "img":
            parts.append(f"<img src='{html.escape(str(payload))}' alt='{html.escape(str(payload))}'>")
        elif kind == "table":
            head, rows = payload
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in head) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows]
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def plot_all(result: dict, out_dir: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    frame, cols = _score_columns(result)
    paths: dict[str, Path] = {}
    if frame is not None and frame["y"].nunique() == 2:
        y = frame["y"].to_numpy()
        for name, (xlabel, ylabel) in {"roc": ("false-positive rate", "true-positive rate"),
                                       "pr": ("recall", "precision")}.items():
            fig, ax = plt.subplots(figsize=(5.5, 4.5))
            for model, col in cols.items():
                s = frame[col].to_numpy(float)
                if name == "roc":
                    fpr, tpr, _ = roc_curve(y, s)
                    ax.plot(np.maximum(fpr, 1e-4), tpr, label=model)
                else:
                    prec, rec, _ = precision_recall_curve(y, s)
                    ax.plot(rec, prec, label=model)
            if name == "roc":
                ax.set_xscale("log")
                ax.set_xlim(1e-4, 1)
            ax.set(xlabel=xlabel, ylabel=ylabel, title=name.upper())
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
            paths[name] = out_dir / f"{name}.png"
            fig.savefig(paths[name], dpi=100, bbox_inches="tight")
            plt.close(fig)
    cal = result.get("calibration")
    if cal and cal["bins"]:
        fig, ax = plt.subplots(figsize=(5, 4.5))
        ax.plot([0, 1], [0, 1], "k:", label="perfect")
        ax.plot([b["mean_score"] for b in cal["bins"]], [b["observed"] for b in cal["bins"]], "o-", label="lightgbm")
        ax.set(xlabel="mean score in bin", ylabel="malicious share", title=f"Reliability (ECE {cal['ece']:.3f})")
        ax.legend(fontsize=8)
        paths["calibration"] = out_dir / "calibration.png"
        fig.savefig(paths["calibration"], dpi=100, bbox_inches="tight")
        plt.close(fig)
    imp = result.get("importance")
    if imp:
        top = imp[:20][::-1]
        fig, ax = plt.subplots(figsize=(6.5, 5.5))
        ax.barh([d["feature"] for d in top], [d["gain"] for d in top])
        ax.set(xlabel="total gain", title="Feature importance (LightGBM)")
        ax.tick_params(axis="y", labelsize=7)
        paths["importance"] = out_dir / "importance.png"
        fig.savefig(paths["importance"], dpi=100, bbox_inches="tight")
        plt.close(fig)
    return paths


def write_report(result: dict, out_dir: str | Path, *, title: str = "maldoc evaluation") -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = plot_all(result, out)
    frame, _ = _score_columns(result)
    if frame is not None:
        paths["scores"] = out / "scores.csv"
        frame.to_csv(paths["scores"], index=False)
    plain = {k: v for k, v in result.items() if not isinstance(v, pd.DataFrame)}
    paths["metrics"] = out / "metrics.json"
    paths["metrics"].write_text(json.dumps(json_safe(plain), indent=2, sort_keys=True, default=str) + "\n")
    bl = blocks(result, paths, title)
    paths["markdown"] = out / "report.md"
    paths["markdown"].write_text(_md(bl))
    paths["html"] = out / "report.html"
    paths["html"].write_text(_html(bl, title))
    return paths
