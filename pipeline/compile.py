"""Compile the retraining pipeline to KFP's YAML.

    compile_pipeline(out, image=DEFAULT_IMAGE, parallelism=DEFAULT_PARALLELISM) -> Path

The output is deterministic (same code, kfp version, image and parallelism: same bytes), which is
what lets `tests/pipeline/test_compile.py` compare it with the golden file `pipeline/maldoc_pipeline.yaml`.
Regenerate the golden file after changing a component or the wiring (or upgrading the pinned kfp):

    maldoc pipeline compile --out pipeline/maldoc_pipeline.yaml
"""

from __future__ import annotations

from pathlib import Path

from maldoc.pipeline.pipeline import DEFAULT_IMAGE, DEFAULT_PARALLELISM

GOLDEN = Path(__file__).with_name("maldoc_pipeline.yaml")
REGENERATE = "maldoc pipeline compile --out pipeline/maldoc_pipeline.yaml"


def compile_pipeline(out: str | Path, *, image: str = DEFAULT_IMAGE, parallelism: int = DEFAULT_PARALLELISM) -> Path:
    from kfp import compiler

    from maldoc.pipeline.pipeline import make_pipeline

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(make_pipeline(image, parallelism), str(out))
    return out
