"""Does the out-of-collection protocol rank model variants as collections it never saw do?

    python bench/bench_protocol.py [--corpus DIR ...] [--holdout REPO ...] [--synthetic 600] [--cache DIR]

Keeps a few collections out of everything (default: a malicious PDF collection and two benign
PDF ones, see `maldoc.training.protocol.DEFAULT_HOLDOUT`), ranks six variants (three feature
sets x two LightGBM settings) by the protocol on the rest and by the kept-out collections, and
prints both with Spearman and Kendall over variants, beside campaign-grouped CV's pooled AUC.
Also: `--ablation` prints the drop-one-feature-group table (out of collection) instead.
"""

from __future__ import annotations

import argparse
import sys

from maldoc.training.corpus import LABELS, load_corpora, shared_corpora, stratified_limit
from maldoc.training.features import build_feature_table
from maldoc.training.protocol import DEFAULT_HOLDOUT, SETTINGS, ablation, protocol_check, variants
from maldoc.training.synthetic import synthetic_items
from maldoc.training.train import TrainParams


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _f(v) -> str:
    return "–" if v != v else f"{v:.4f}"  # NaN-safe


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", default=[])
    ap.add_argument("--holdout", action="append", default=[])
    ap.add_argument("--synthetic", type=int, default=600)
    ap.add_argument("--cache", default="/tmp/maldoc-bench-cache")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--no-campaign", action="store_true", help="skip the campaign-CV column (5 fits a variant)")
    ap.add_argument("--ablation", action="store_true", help="the feature-group audit instead")
    ap.add_argument("--groups", nargs="*", default=None, help="ablation: only these feature groups")
    ap.add_argument("--settings", nargs="*", default=None,
                    help=f"LightGBM settings to vary (of: {', '.join(SETTINGS)})")
    ap.add_argument("--quick", action="store_true",
                    help="learning rate 0.1, at most 400 rounds, 3 campaign folds: about half the fitting time")
    args = ap.parse_args(argv)
    corpora = args.corpus or shared_corpora()
    if not corpora:
        print("bench_protocol: no corpus (../shared/corpus absent); nothing to measure", file=sys.stderr)
        return 0
    items = [i for i in load_corpora(corpora, LABELS, log=_log) if i.label in ("malicious", "benign")]
    if args.limit:
        items = stratified_limit(items, args.limit)
    table = build_feature_table(items + synthetic_items(args.synthetic, 0), args.cache, 2)
    params = TrainParams(ooc_folds=args.folds)
    if args.quick:
        params = TrainParams(ooc_folds=args.folds, learning_rate=0.1, max_rounds=400, early_stopping=30, n_splits=3)
    if args.ablation:
        result = ablation(table, params, log=_log, only=tuple(args.groups) if args.groups else None)
        print("| dropped group | features | ROC AUC | change | TPR at FPR 0.1 % | at 0.5 % | at 1 % |")
        print("|---|---|---|---|---|---|---|")
        for r in result["rows"]:
            tprs = " | ".join(f"{100 * r['tpr'][f]:.1f} % ({100 * r['d_tpr'][f]:+.1f})"
                              for f in ("0.001", "0.005", "0.01"))
            print(f"| {r['group']} | {r['features']} | {_f(r['roc_auc'])} | {r['d_roc_auc']:+.4f} | {tprs} |")
        return 0
    chosen = variants(table.names, settings=tuple(args.settings) if args.settings else tuple(SETTINGS))
    check = protocol_check(table, chosen, params, holdout=tuple(args.holdout) or DEFAULT_HOLDOUT,
                           campaign=not args.no_campaign, log=_log)
    print(f"Kept out: {', '.join(check['holdout_collections'])} ({check['kept_out_files']} files, "
          f"{check['kept_out_malicious']} malicious)\n")
    print("| variant | OOC AUC (per fold) | OOC AUC (pooled) | OOC TPR@0.5 % | campaign CV pooled AUC | "
          "kept-out AUC | kept-out TPR@1 % |")
    print("|---|---|---|---|---|---|---|")
    for r in check["variants"]:
        print(f"| {r['variant']} | {_f(r['protocol'])} | {_f(r['protocol_pooled_auc'])} | "
              f"{_f(r['protocol_tpr_0.005'])} | {_f(r['campaign_pooled_auc'])} | {_f(r['holdout'])} | "
              f"{_f(r['holdout_tpr_0.01'])} |")
    print("\n| protocol | Spearman | Kendall |\n|---|---|---|")
    for k, v in check["agreement"].items():
        print(f"| {k} | {_f(v['spearman'])} | {_f(v['kendall'])} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
