"""The field's rules beside the model, per format, on the same files, with the time per file of each.

    python bench/bench_peers.py [--corpus DIR ...] [--synthetic 600] [--cache DIR] [--limit N]

maldoc's column is out of collection (`maldoc.training.ooc`): every file scored by a model trained
without its collection, flagged at its fold's threshold for FPR 0.1 % and 0.5 % (set on the fold's
own held-out benign files). The peers (mraptor, the olefy rule, rtfobj, a pdfid rule; see
`maldoc.training.peers`) need no training and run at their fixed operating points. Without
--corpus it uses ../shared/corpus and ../shared/corpus2; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maldoc.training.corpus import LABELS, load_corpora, shared_corpora, stratified_limit
from maldoc.training.features import build_feature_table
from maldoc.training.ooc import flag_per_fold, fold_thresholds, out_of_collection
from maldoc.training.peers import FIELD, PEERS, figures, per_format, run_peers
from maldoc.training.synthetic import pair_items, synthetic_items
from maldoc.training.train import TrainParams

FPRS = (0.001, 0.005)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _pct(v: float, digits: int) -> str:
    return "–" if v != v else f"{100 * v:.{digits}f} %"  # NaN: no file of that label


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", default=[])
    ap.add_argument("--synthetic", type=int, default=600)
    ap.add_argument("--pairs", type=int, default=0, help="synthetic pairs added to training (maldoc.samples.pairs)")
    ap.add_argument("--cache", default="/tmp/maldoc-bench-cache")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    corpora = args.corpus or shared_corpora()
    if not corpora:
        print("bench_peers: no corpus (../shared/corpus absent); nothing to measure", file=sys.stderr)
        return 0
    items = [i for i in load_corpora(corpora, LABELS, log=_log) if i.label in ("malicious", "benign")]
    if args.limit:
        items = stratified_limit(items, args.limit)
    table = build_feature_table(items + synthetic_items(args.synthetic, 0) + pair_items(args.pairs, 0), args.cache,
                                args.jobs)
    ooc = out_of_collection(table, TrainParams(), n_folds=args.folds, with_reasons=False, log=_log)
    frame = ooc["frame"]
    peers = run_peers(items, jobs=args.jobs, log=_log)
    alerts = peers["frame"]
    seconds = dict(zip(frame["sha256"], frame["elapsed_ms"].astype(float) / 1000, strict=True))
    for f in FPRS:
        name = f"maldoc (OOC, FPR {100 * f:g} %)"
        flags = dict(zip(frame["sha256"], flag_per_fold(frame, fold_thresholds(frame, f)), strict=True))
        alerts[name] = alerts["sha256"].map(flags).fillna(False).astype(bool)
        alerts[f"{name}_s"] = alerts["sha256"].map(seconds)
    detectors = [*PEERS, FIELD, *[f"maldoc (OOC, FPR {100 * f:g} %)" for f in FPRS]]
    by_format = per_format(alerts, detectors)
    by_format["(all)"] = figures(alerts, detectors)
    print(f"# The field's rules beside maldoc ({len(items)} files from {', '.join(map(str, corpora))})\n")
    print("| format | detector | malicious | benign | TPR | FPR | ms per file |")
    print("|---|---|---|---|---|---|---|")
    for fmt, rec in by_format.items():
        for name, p in rec.items():
            print(f"| {fmt} | {name} | {p['positives']} | {p['negatives']} | {_pct(p['tpr'], 1)} | "
                  f"{_pct(p['fpr'], 2)} | {p['ms_per_file']:.1f} |")
    out = Path(args.cache) / "peers.csv"
    alerts.to_csv(out, index=False)
    _log(f"per-file alerts: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
