"""`maldoc train` and `maldoc evaluate`, registered into the lead's CLI (`maldoc.cli`).

    register(subparsers) -> None
    train_command(args) -> int, evaluate_command(args) -> int

Regenerate the shipped model (after any schema change):
    maldoc train --corpus ../shared/corpus --corpus ../shared/corpus2 --synthetic 600 --pairs 300 --drop-group size \
        --drop-group count --peers --out core/models/default

Both commands take several corpora (`--corpus A --corpus B`), each file used once (by sha256).
The training report leads with the out-of-collection figures (`maldoc.training.ooc`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

DEFAULT_SYNTHETIC = 600  # used when no corpus is given


def default_cache_dir() -> Path:
    return Path(os.environ.get("MALDOC_CACHE") or Path.home() / ".cache" / "maldoc" / "features")


def register(subparsers) -> None:
    from maldoc.cli import add_limit_arguments

    train = subparsers.add_parser("train", help="build the feature table, cross-validate, train a model bundle",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--corpus", action="append", metavar="DIR", default=[],
                       help="labelled corpus folder (repeatable); none: synthetic samples only")
    train.add_argument("--synthetic", type=int, default=None, metavar="N",
                       help="synthetic samples added to training "
                            f"(default 0 with a corpus, {DEFAULT_SYNTHETIC} without)")
    train.add_argument("--pairs", type=int, default=0, metavar="N",
                       help="synthetic pairs added to training: N documents with and without their malicious part")
    train.add_argument("--group-by", metavar="EXPR", default=None,
                       help="grouping for CV: columns joined by +, e.g. 'source_repo+campaign(family_or_note)' "
                            "(the default when the manifest has those columns); also root(), dir(), top()")
    train.add_argument("--target-fpr", type=float, default=0.001, help="false-positive rate of the threshold")
    train.add_argument("--suspicious-fpr", type=float, default=0.01, help="FPR of the suspicious band's floor")
    train.add_argument("--folds", type=int, default=5, help="campaign-grouped cross-validation folds")
    train.add_argument("--ooc-folds", type=int, default=4,
                       help="out-of-collection folds (whole collections each; the headline figures)")
    train.add_argument("--drop-group", action="append", default=[], metavar="GROUP",
                       help="train without a feature group (repeatable; see maldoc.training.feature_groups): "
                            "e.g. size, whose raw sizes and entropies mostly describe collections")
    train.add_argument("--peers", action="store_true",
                       help="run the field's rules (mraptor, olefy, rtfobj, pdfid) on the corpus files and put "
                            "them beside the out-of-collection figures in the report and the model card "
                            "(cached by sha256 in the feature cache folder)")
    train.add_argument("--no-monotone-indicators", action="store_true",
                       help="constrain only the rule score, not every rule count, to raise the score (a comparison)")
    train.add_argument("--no-campaign-cv", action="store_true",
                       help="skip the second view (campaign-grouped CV with the baselines)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--protocol-check", nargs="+", metavar="REPO", default=None,
                       help="keep these collections out entirely and add the pseudo-holdout ranking check "
                            "(six model variants) to the report")
    train.add_argument("--ablation", action="store_true",
                       help="add the drop-one-feature-group table (out of collection) to the report")
    loco = train.add_mutually_exclusive_group()
    loco.add_argument("--loco", action="store_true", help="also leave each collection out in turn (one fit each)")
    loco.add_argument("--no-loco", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for scripts
    train.add_argument("--out", metavar="DIR", default="maldoc-model", help="bundle folder to write")
    train.add_argument("--report", metavar="DIR", help="report folder (default: <out>/report)")
    _common(train)
    add_limit_arguments(train)
    train.set_defaults(func=train_command)

    ev = subparsers.add_parser("evaluate", help="score labelled corpora with a bundle and write a report")
    ev.add_argument("bundle", metavar="BUNDLE")
    ev.add_argument("corpora", metavar="CORPUS", nargs="*", help="labelled corpus folder(s)")
    ev.add_argument("--corpus", action="append", metavar="DIR", default=[], dest="more_corpora",
                    help="another labelled corpus folder (repeatable)")
    ev.add_argument("--peers", action="store_true",
                    help="also run the field's rules (mraptor, olefy, rtfobj, pdfid) on the same files")
    ev.add_argument("--out", metavar="DIR", default="maldoc-evaluation", help="report folder")
    _common(ev)
    add_limit_arguments(ev)
    ev.set_defaults(func=evaluate_command)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="extraction worker processes (default: all cores; 0: in-process)")
    parser.add_argument("--cache", metavar="DIR", default=None,
                        help=f"feature cache folder (default $MALDOC_CACHE or {default_cache_dir()})")
    parser.add_argument("--no-cache", action="store_true", help="extract everything again, store nothing")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="use at most N corpus files, in proportion per label and format (a quick run)")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _items(corpora: list[str], args: argparse.Namespace) -> list:
    """The corpora's labelled files, each once; `--limit` keeps a stratified share."""
    from maldoc.training.corpus import LABELS, load_corpora, stratified_limit

    items = load_corpora(corpora, LABELS, log=_log)
    if args.limit is not None:
        before = len(items)
        items = stratified_limit(items, args.limit, getattr(args, "seed", 0))
        _log(f"--limit {args.limit}: {len(items)} of {before} files, in proportion per label and format")
    return items


def _table(corpora: list[str], synthetic: int, seed: int, args: argparse.Namespace, items: list | None = None):
    from maldoc.cli import limits_from_args
    from maldoc.training.features import build_feature_table
    from maldoc.training.synthetic import pair_items, synthetic_items

    items = list(items) if items is not None else (_items(corpora, args) if corpora else [])
    if synthetic:
        items += synthetic_items(synthetic, seed)
    pairs = getattr(args, "pairs", 0) or 0
    if pairs:
        items += pair_items(pairs, seed)
    cache = None if args.no_cache else (args.cache or default_cache_dir())
    _log(f"{len(items)} files ({synthetic} synthetic, {2 * pairs} in synthetic pairs); feature cache: {cache or 'off'}")
    table = build_feature_table(items, cache, args.jobs, limits=limits_from_args(args),
                                progress=not args.no_progress)
    _log(f"feature table: {len(table)} files")
    return table


def train_command(args: argparse.Namespace) -> int:
    from maldoc.training.card import model_card
    from maldoc.training.report import write_report
    from maldoc.training.train import TrainParams, train_bundle

    synthetic = args.synthetic if args.synthetic is not None else (0 if args.corpus else DEFAULT_SYNTHETIC)
    try:
        items = _items(args.corpus, args) if args.corpus else []
        table = _table(args.corpus, synthetic, args.seed, args, items=items)
        full = table  # the method checks compare feature sets, so they see every column
        if args.drop_group:
            from maldoc.training.feature_groups import groups, masked

            known = groups(table.names)
            unknown = sorted(set(args.drop_group) - set(known))
            if unknown:
                raise ValueError(f"unknown feature group(s) {unknown}; groups: {', '.join(sorted(known))}")
            table = masked(table, [c for g in args.drop_group for c in known[g]])  # the model never splits on them
        if len(np.unique(table.y[table.labelled()])) < 2:
            raise ValueError("training needs malicious and benign files; the corpus holds "
                             + (", ".join(sorted(set(table.meta["label"]))) or "none"))
        params = TrainParams(target_fpr=args.target_fpr, suspicious_fpr=args.suspicious_fpr, n_splits=args.folds,
                             group_by=args.group_by, seed=args.seed, loco=args.loco, ooc_folds=args.ooc_folds,
                             campaign_cv=not args.no_campaign_cv,
                             monotone_indicators=not args.no_monotone_indicators)
        bundle, report = train_bundle(table, params, log=_log, keep_frame=args.peers)
        frame = report.pop("ooc_frame", None)
        if args.peers:
            report["peers"] = _peers_beside(frame, items, args, _log)
        if args.drop_group:
            bundle.meta["dropped_feature_groups"] = sorted(args.drop_group)
        if args.protocol_check:
            from maldoc.training.protocol import protocol_check, variants

            report["protocol_check"] = protocol_check(full, variants(full.names), params,
                                                      holdout=tuple(args.protocol_check), log=_log)
        if args.ablation:
            from maldoc.training.protocol import ablation

            report["ablation"] = ablation(full, params, log=_log)
    except (RuntimeError, ValueError) as exc:  # no generator, unreadable corpus, too few collections: one line
        _log(f"maldoc train: {exc}")
        return 2
    out = bundle.save(args.out, card=model_card(bundle.meta, report))
    from maldoc.training.drift import write_drift_bins

    write_drift_bins(out, table)  # the service's drift reference (drift_bins.json)
    paths = write_report(report, args.report or out / "report", title=f"maldoc model {bundle.version}")
    m = report["ooc"]["metrics"]
    _log(f"bundle {out} (version {bundle.version}); report {paths['markdown']}")
    print(f"out of collection: ROC AUC {m['roc_auc']:.4f} (per fold)  "
          + "  ".join(f"TPR@FPR{100 * float(f):g}% {p['tpr']:.3f}" + ("" if p["measurable"] else " (not measurable)")
                      for f, p in m["at"].items())
          + f"  threshold {bundle.threshold:.4f}")
    return 0


def _peers_beside(frame, items: list, args: argparse.Namespace, log) -> dict:
    """The field's rules on the corpus files the out-of-collection evaluation scored, with maldoc's
    decisions there (each fold's threshold for FPR 0.5 %) in the same table."""
    import pandas as pd

    from maldoc.training.ooc import flag_per_fold, fold_thresholds
    from maldoc.training.peers import run_peers

    items = [i for i in items if i.label in ("malicious", "benign")]
    scored = set(frame["sha256"])
    model = pd.DataFrame({"sha256": frame["sha256"], "elapsed_ms": frame.get("elapsed_ms", float("nan")),
                          "flagged": flag_per_fold(frame, fold_thresholds(frame, 0.005))})
    cache = None if args.no_cache else (args.cache or default_cache_dir())
    peers = run_peers([i for i in items if i.sha256 in scored], model=model, jobs=args.jobs, log=log,
                      cache_dir=cache)
    peers.pop("frame")
    peers["maldoc_point"] = "out of collection, each fold's threshold for FPR 0.5 %"
    return peers


def evaluate_command(args: argparse.Namespace) -> int:
    from maldoc.model import BundleError, ModelBundle
    from maldoc.training.evaluate import evaluate_bundle
    from maldoc.training.report import write_report

    corpora = [*args.corpora, *args.more_corpora]
    try:
        bundle = ModelBundle.load(args.bundle)
        if not corpora:
            raise ValueError("name at least one labelled corpus")
        items = _items(corpora, args)
        table = _table(corpora, 0, 0, args, items=items)
        result = evaluate_bundle(bundle, table)
    except (BundleError, RuntimeError, ValueError) as exc:
        _log(f"maldoc evaluate: {exc}")
        return 2
    for warning in result["warnings"]:
        _log(f"warning: {warning}")
    if args.peers:
        from maldoc.training.peers import run_peers

        scored = result["scores"].assign(flagged=result["scores"]["lightgbm"] >= bundle.threshold)
        result["peers"] = run_peers([i for i in items if i.sha256 in set(scored["sha256"])],
                                    model=scored, jobs=args.jobs, log=_log)
        result["peers"].pop("frame")
    paths = write_report(result, args.out, title=f"maldoc evaluation of {bundle.version} on {', '.join(corpora)}")
    m = result["models"]["lightgbm"]
    _log(f"report {paths['markdown']}")
    print(f"{result['headline']}: ROC AUC {m['roc_auc']:.4f}  TPR {m['tpr']:.3f}  FPR {m['fpr']:.4f}  "
          f"at threshold {m['threshold']:.4f}")
    return 0
