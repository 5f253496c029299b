"""Run the pipeline end to end on this machine with kfp.local (the embedded default).

    run_local(arguments, work_dir, *, image, parallelism, enable_caching=True) -> LocalRun

Each component runs as a subprocess of this Python (`SubprocessRunner(use_venv=False)`): no
container, no virtualenv, no package installed per step, so no network. kfp.local caches step
outputs under `<work_dir>/kfp-cache` when `enable_caching` is on, as KFP does on a cluster
(listing, gate and publish opt out: they read folders that change between runs).
"""

from __future__ import annotations

import builtins
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from maldoc.pipeline.pipeline import DEFAULT_IMAGE, DEFAULT_PARALLELISM


@dataclass
class LocalRun:
    outputs: Path  # kfp.local's pipeline root: every step's artifacts
    decision: dict = field(default_factory=dict)  # the gate's decision (promote, reason, metric values)
    metrics: dict = field(default_factory=dict)  # the evaluation metrics of the candidate
    candidate: str = ""  # the candidate bundle folder
    published: str | None = None  # the current bundle folder when the candidate was promoted


def run_local(arguments: dict, work_dir: str | Path, *, image: str = DEFAULT_IMAGE,
              parallelism: int = DEFAULT_PARALLELISM, enable_caching: bool = True) -> LocalRun:
    from kfp import local

    from maldoc.pipeline.gate import current_bundle
    from maldoc.pipeline.pipeline import make_pipeline

    work = Path(work_dir).resolve()
    outputs = work / "outputs"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(outputs),
               workspace_root=str(work / "workspace"), raise_on_error=True, enable_caching=enable_caching,
               cache_root=str(work / "kfp-cache"))
    pipeline = make_pipeline(image, parallelism)
    with warnings.catch_warnings():
        # kfp warns that an image without "python" in its name may not suit a subprocess run: the
        # subprocess uses this interpreter, which has maldoc installed, whatever the image is called
        warnings.filterwarnings("ignore", message=".*non-Python base image.*", category=RuntimeWarning)
        # ...and that CPU/memory requests and limits mean nothing to a local subprocess: true, and expected
        warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*",
                                category=UserWarning)
        original_print = builtins.print
        try:
            task = pipeline(**arguments)
        finally:
            # kfp.local indents step logs by swapping builtins.print; its ParallelFor threads swap
            # and restore it concurrently and can leave the indenting one behind
            builtins.print = original_print
    out = task.outputs
    decision = Path(out["decision"].path)
    run = LocalRun(outputs=outputs, decision=json.loads(decision.read_text()) if decision.is_file() else {},
                   metrics=dict(out["metrics"].metadata), candidate=out["candidate"].path)
    if run.decision.get("promote"):
        run.published = str(current_bundle(arguments["models_dir"]))
    return run
