"""`maldoc train` and `maldoc evaluate`, registered into the lead's CLI (`maldoc.cli`).

    register(subparsers) -> None
    train_command(args) -> int, evaluate_command(args) -> int

Regenerate the shipped model (after any schema change):
    maldoc train --corpus ../shared/corpus --synthetic 600 --out core/models/default
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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
    train.add_argument("--group-by", metavar="EXPR", default=None,
                       help="grouping for CV: columns joined by +, e.g. 'source_repo+campaign(family_or_note)' "
                            "(the default when the manifest has those columns); also root(), dir(), top()")
    train.add_argument("--target-fpr", type=float, default=0.001, help="false-positive rate of the threshold")
    train.add_argument("--suspicious-fpr", type=float, default=0.01, help="FPR of the suspicious band's floor")
    train.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--no-loco", action="store_true", help="skip the leave-one-collection-out evaluation")
    train.add_argument("--out", metavar="DIR", default="maldoc-model", help="bundle folder to write")
    train.add_argument("--report", metavar="DIR", help="report folder (default: <out>/report)")
    _common(train)
    add_limit_arguments(train)
    train.set_defaults(func=train_command)

    ev = subparsers.add_parser("evaluate", help="score a labelled corpus with a bundle and write a report")
    ev.add_argument("bundle", metavar="BUNDLE")
    ev.add_argument("corpus", metavar="CORPUS")
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


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _table(corpora: list[str], synthetic: int, seed: int, args: argparse.Namespace):
    from maldoc.cli import limits_from_args
    from maldoc.training.corpus import Corpus
    from maldoc.training.features import build_feature_table
    from maldoc.training.synthetic import synthetic_items

    items: list = []
    opened = [Corpus(c) for c in corpora]
    try:
        for corpus in opened:
            items += list(corpus.items())
        if synthetic:
            items += synthetic_items(synthetic, seed)
        cache = None if args.no_cache else (args.cache or default_cache_dir())
        _log(f"{len(items)} files ({synthetic} synthetic); feature cache: {cache or 'off'}")
        return build_feature_table(items, cache, args.jobs, limits=limits_from_args(args),
                                   progress=not args.no_progress)
    finally:
        for corpus in opened:
            corpus.close()


def train_command(args: argparse.Namespace) -> int:
    from maldoc.training.card import model_card
    from maldoc.training.report import write_report
    from maldoc.training.train import TrainParams, train_bundle

    synthetic = args.synthetic if args.synthetic is not None else (0 if args.corpus else DEFAULT_SYNTHETIC)
    try:
        table = _table(args.corpus, synthetic, args.seed, args)
    except (RuntimeError, ValueError) as exc:  # no generator, unreadable corpus: one line, not a traceback
        _log(f"maldoc train: {exc}")
        return 2
    params = TrainParams(target_fpr=args.target_fpr, suspicious_fpr=args.suspicious_fpr, n_splits=args.folds,
                         group_by=args.group_by, seed=args.seed, loco=not args.no_loco)
    bundle, report = train_bundle(table, params, log=_log)
    out = bundle.save(args.out, card=model_card(bundle.meta, report))
    from maldoc.training.drift import write_drift_bins

    write_drift_bins(out, table)  # the service's drift reference (drift_bins.json)
    paths = write_report(report, args.report or out / "report", title=f"maldoc model {bundle.version}")
    m = report["models"]["lightgbm"]
    _log(f"bundle {out} (version {bundle.version}); report {paths['markdown']}")
    print(f"pooled out-of-fold: ROC AUC {m['roc_auc']:.4f}  TPR@FPR0.5% {m['tpr_at_fpr_0.005']:.3f}  "
          f"TPR@FPR0.1% {m['tpr_at_fpr_0.001']:.3f}  threshold {bundle.threshold:.4f}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    from maldoc.model import BundleError, ModelBundle
    from maldoc.training.evaluate import evaluate_bundle
    from maldoc.training.report import write_report

    try:
        bundle = ModelBundle.load(args.bundle)
    except BundleError as exc:
        _log(f"maldoc evaluate: {exc}")
        return 2
    table = _table([args.corpus], 0, 0, args)
    result = evaluate_bundle(bundle, table)
    paths = write_report(result, args.out, title=f"maldoc evaluation of {bundle.version} on {args.corpus}")
    m = result["models"]["lightgbm"]
    _log(f"report {paths['markdown']}")
    print(f"ROC AUC {m['roc_auc']:.4f}  TPR {m['tpr']:.3f}  FPR {m['fpr']:.4f}  at threshold {m['threshold']:.4f}")
    return 0
