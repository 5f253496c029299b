"""Pipeline speed: extraction at parallelism 1, 2 and 4, and a cold vs warm-cache retrain.

    .venv/bin/python bench/bench_pipeline.py [--files 120] [--shards 4] [--corpus DIR]

Runs the real pipeline with kfp.local (each step a subprocess, as `maldoc pipeline run --local`)
on one corpus: a stratified sample of `--files` files from ../shared/corpus (or MALDOC_CORPUS, or
--corpus), copied into a temporary label-folder corpus that is removed afterwards.

1. Extraction: the same corpus, a fresh feature cache each time, `--shards` shards, ParallelFor
   parallelism 1, 2 and 4. "extract" is the span of the ParallelFor (sharding done -> last shard
   done), "run" the whole pipeline. Parallelism 1 is the baseline the others are compared with.
2. Retrain after 10 % new samples: cold = empty feature cache and step cache, all files extracted;
   warm = caches left by a run on the other 90 %, so only the new files are extracted.
Shards in parallel help only up to the cores there are (printed): on a cluster that is what the
per-shard CPU requests buy.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from maldoc.pipeline.local import run_local
from maldoc.training.corpus import Corpus, shared_corpus

TRAIN = json.dumps({"n_splits": 3, "loco": False, "threads": 1, "baselines": ["rules"]})


def sample_corpus(source: Path, dest: Path, files: int, seed: int = 0) -> list[Path]:
    """A stratified (label x format) sample of `source`, copied into label folders; returns the copies."""
    rng = random.Random(seed)
    with Corpus(source) as corpus:
        items = [i for i in corpus.items() if i.label in ("benign", "malicious")]
        rng.shuffle(items)
        items.sort(key=lambda i: (i.label, i.get("format")))
        step = max(1, len(items) // files)
        chosen = items[::step][:files]
        copies = []
        for item in chosen:
            target = dest / item.label / f"{item.sha256 or item.path.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item.path, target)
            copies.append(target)
    return copies


def _span(outputs: Path) -> tuple[float, int]:
    """Seconds from the end of sharding to the end of the last extraction step in the newest run,
    and the files those steps extracted (shards taken from the step cache do not run)."""
    run = max(outputs.glob("maldoc-retrain-*"), key=lambda p: p.stat().st_mtime)
    start = (run / "shard-corpus").stat().st_mtime
    done = list(run.glob("for-loop-1-iteration-*/extract-features/executor_output.json"))
    files = sum(int(json.loads(p.read_text())["parameterValues"]["Output"]) for p in done)
    return (max(p.stat().st_mtime for p in done) - start if done else 0.0), files


def timed_run(corpus: Path, work: Path, *, parallelism: int, shards: int) -> tuple[float, tuple[float, int]]:
    args = {"corpus_dirs_json": json.dumps([str(corpus)]), "cache_dir": str(work / "cache"),
            "models_dir": str(work / "models"), "shards": shards, "train_params_json": TRAIN}
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        run_local(args, work / "kfp", parallelism=parallelism)
    return time.perf_counter() - start, _span(work / "kfp" / "outputs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=120)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--corpus", type=Path, default=None)
    args = ap.parse_args()
    source = args.corpus or shared_corpus()
    if source is None:
        raise SystemExit("no corpus: give --corpus DIR or set MALDOC_CORPUS")
    with tempfile.TemporaryDirectory(prefix="maldoc-bench-pipeline-") as tmp:
        root = Path(tmp)
        corpus = root / "corpus"
        copies = sample_corpus(source, corpus, args.files)
        print(f"{len(copies)} files from {source}; {args.shards} shards; {os.cpu_count()} cores")
        print(f"\n{'parallelism':>11} {'extracted':>9} {'extract s':>10} {'speed-up':>9} {'run s':>8}")
        base = None
        for parallelism in (1, 2, 4):
            work = root / f"p{parallelism}"
            total, (span, files) = timed_run(corpus, work, parallelism=parallelism, shards=args.shards)
            base = base or span
            print(f"{parallelism:>11} {files:>9} {span:>10.1f} {base / span if span else 0:>8.2f}x {total:>8.1f}",
                  flush=True)
            shutil.rmtree(work)

        # retrain after 10 % new samples: hold a tenth back, run, put it back, run again (warm)
        held = root / "held"
        new = copies[:: 10]
        for path in new:
            dest = held / path.relative_to(corpus)
            dest.parent.mkdir(parents=True, exist_ok=True)
            path.rename(dest)
        warm = root / "warm"
        timed_run(corpus, warm, parallelism=0, shards=args.shards)
        for path in new:
            (held / path.relative_to(corpus)).rename(path)
        warm_total, (warm_span, warm_files) = timed_run(corpus, warm, parallelism=0, shards=args.shards)
        cold_total, (cold_span, cold_files) = timed_run(corpus, root / "cold", parallelism=0, shards=args.shards)
        print(f"\nretrain after {len(new)} new files ({len(copies)} in all), parallelism 0 (all shards at once)")
        print(f"{'cache':>6} {'extracted':>9} {'extract s':>10} {'run s':>8}")
        print(f"{'cold':>6} {cold_files:>9} {cold_span:>10.1f} {cold_total:>8.1f}")
        print(f"{'warm':>6} {warm_files:>9} {warm_span:>10.1f} {warm_total:>8.1f}")


if __name__ == "__main__":
    main()
