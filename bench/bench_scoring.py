"""Scoring cost per file: one batched prediction per file against one prediction per node, same run.

    .venv/bin/python bench/bench_scoring.py [--corpus DIR ...] [--limit N]

Every file is analysed once (in-process); then the same trees are scored two ways with the
shipped model:
  per-node   what maldoc did before: each node vectorised from a walk of its own subtree and
             scored with its own LightGBM call (n predictions for n nodes)
  batched    what `maldoc.scoring.build_verdict` does: the tree's features aggregated bottom-up in
             one pass, one prediction for all its nodes, and one pred_contrib call (reasons) for
             the nodes scoring in the suspicious band or above
Both are timed without building the Verdict objects, which costs the same either way.
Prints files/s and ms per file for each, over all files and over files with more than one node.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from maldoc.model import ModelBundle
from maldoc.schema import tree_features, vectorize
from maldoc.training.corpus import Corpus
from maldoc.walk import analyze


def per_node(bundle: ModelBundle, root) -> int:
    """The old path: one vectorize (a walk of the subtree) and one prediction per node."""
    calls = 0
    for node in root.walk():
        row = vectorize(node)[None, :]
        contrib = bundle.contributions(row)[0]
        _prob = 1.0 / (1.0 + math.exp(-float(contrib.sum())))
        bundle.reasons(bundle.model_rows(row)[0], contrib[:-1])
        calls += 1
    return calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = Path(__file__).resolve().parents[2] / "shared"
    parser.add_argument("--corpus", action="append", default=None)
    parser.add_argument("--limit", type=int, default=600)
    args = parser.parse_args()
    roots = args.corpus or [str(here / "corpus"), str(here / "corpus2")]
    bundle = ModelBundle.load()
    trees = []
    for root in roots:
        if not Path(root, "manifest.csv").is_file():
            continue
        with Corpus(root) as corpus:
            items = sorted(corpus.items(labels=("malicious", "benign")), key=lambda i: i.sha256)
            step = max(1, len(items) // max(1, args.limit // len(roots)))
            for item in items[::step]:
                trees.append(analyze(item.read(), item.sha256))
    if not trees:
        print("no corpus found: pass --corpus DIR")
        return 2
    nodes = [sum(1 for _ in t.walk()) for t in trees]
    print(f"{len(trees)} files, {sum(nodes)} nodes (max {max(nodes)} in one file)")
    print(f"{'scoring':10} {'files':>6} {'predict calls':>14} {'files/s':>9} {'ms/file':>8} {'ms/file (>1 node)':>18}")
    for label in ("per-node", "batched"):
        times, calls = [], 0
        for tree in trees:
            started = time.perf_counter()
            if label == "per-node":
                calls += per_node(bundle, tree)
            else:
                bundle.score_tree([values for _, values in tree_features(tree)],
                                  reasons_from=bundle.suspicious_threshold)
                calls += 1
            times.append(time.perf_counter() - started)
        t = np.array(times)
        multi = t[np.array(nodes) > 1]
        print(f"{label:10} {len(t):6d} {calls:14d} {len(t) / t.sum():9.1f} {1000 * t.mean():8.2f} "
              f"{1000 * multi.mean() if len(multi) else float('nan'):18.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
