"""The retraining pipeline: wiring only (what each step does is in `components` and `steps`).

    list corpus + shard -> ParallelFor(extract features per shard) -> merge (shared feature cache)
      -> split off evaluation files -> train -> evaluate -> gate -> publish (only if promoted)

Compile-time options (kfp fixes them in the YAML): the base image, and `parallelism`, the most
shards extracted at once (0: all). Everything else is a run parameter, the number of shards and
each component's CPU/memory requests and limits included: kfp 2.17 accepts pipeline parameters in
`set_cpu_request/limit` and `set_memory_request/limit` (it writes them as
`resourceCpuLimit: '{{$.inputs.parameters[...]}}'` and the backend substitutes them per run).
Size a run so `shards x extract_cpu_request` (and memory) fit the cluster at once: shards that
cannot be scheduled wait, and more of them stop helping.

On a cluster, `corpus_dir`, `cache_dir` and `models_dir` are paths the pods see: a ReadWriteMany
volume or an S3-compatible bucket mounted there (the feature cache must outlive runs, and the
shards of a run share it). Each run's own artifacts (shard rows, feature tables, candidate bundle,
metrics, reports) go to KFP's artifact store. Locally they are all folders.
"""

import maldoc  # no `from __future__ import annotations`: kfp reads the pipeline's annotations as types

PIPELINE_NAME = "maldoc-retrain"
DEFAULT_IMAGE = f"maldoc:{maldoc.__version__}"
DEFAULT_PARALLELISM = 0  # all shards at once; the shard count (a run parameter) bounds it


def _sized(task, component: str, params: dict):
    """Requests and limits from the run parameters `<component>_cpu_request` and so on."""
    names = [f"{component}_{what}" for what in ("cpu_request", "cpu_limit", "memory_request", "memory_limit")]
    task.set_cpu_request(params[names[0]]).set_cpu_limit(params[names[1]])
    task.set_memory_request(params[names[2]]).set_memory_limit(params[names[3]])
    # kfp 2.17 leaves parameters used only by these setters out of the inputs of a ParallelFor or If
    # group: the YAML then names inputs the group does not declare (kfp.local fails on it, seen);
    # listing them as the task's channel inputs plumbs them in
    known = {id(ch) for ch in task.channel_inputs}  # by identity: a channel's == builds a kfp condition
    task.channel_inputs.extend(params[n] for n in names if id(params[n]) not in known)
    return task


def make_pipeline(image: str = DEFAULT_IMAGE, parallelism: int = DEFAULT_PARALLELISM):
    """The pipeline function (a `dsl.pipeline`) for one base image and extraction parallelism."""
    from typing import NamedTuple

    from kfp import dsl
    from kfp.dsl import Artifact, Metrics, Model

    from maldoc.pipeline.components import build

    c = build(image)
    Outputs = NamedTuple("Outputs", [("candidate", Model), ("metrics", Metrics), ("decision", Artifact)])  # noqa: UP014

    @dsl.pipeline(name=PIPELINE_NAME, description="Retrain maldoc's model: sharded feature extraction with a "
                  "shared cache, LightGBM and baselines, evaluation, gated promotion.")
    def maldoc_retrain(
        corpus_dir: str = "/data/corpus", cache_dir: str = "/data/cache", models_dir: str = "/data/models",
        shards: int = 4, extract_jobs: int = 1, limits_json: str = "{}", passwords_json: str = "[]",
        synthetic: int = 0, seed: int = 0, eval_fraction: float = 0.2, train_params_json: str = "{}",
        gate_metric: str = "tpr_at_fpr_0.001", gate_min_delta: float = 0.0, force: bool = False,
        # one scan worker (Limits.max_memory_mb = 2 GiB of address space) and its parent per shard
        extract_cpu_request: str = "1", extract_cpu_limit: str = "1",
        extract_memory_request: str = "1Gi", extract_memory_limit: str = "3Gi",
        # the merge holds the whole feature cache and table
        merge_cpu_request: str = "1", merge_cpu_limit: str = "1",
        merge_memory_request: str = "2Gi", merge_memory_limit: str = "8Gi",
        # TrainParams.threads = 2
        train_cpu_request: str = "2", train_cpu_limit: str = "2",
        train_memory_request: str = "2Gi", train_memory_limit: str = "8Gi",
        evaluate_cpu_request: str = "1", evaluate_cpu_limit: str = "1",
        evaluate_memory_request: str = "1Gi", evaluate_memory_limit: str = "4Gi",
        # list, shard, split, gate and publish
        small_cpu_request: str = "250m", small_cpu_limit: str = "1",
        small_memory_request: str = "512Mi", small_memory_limit: str = "2Gi",
    ) -> Outputs:
        res = dict(locals())
        listed = _sized(c.list_corpus(corpus_dir=corpus_dir, cache_dir=cache_dir), "small", res)
        listed.set_caching_options(False)  # reads a folder that changes between runs
        sharded = _sized(c.shard_corpus(listing=listed.outputs["listing"], cache_dir=cache_dir, shards=shards),
                         "small", res)
        with dsl.ParallelFor(items=sharded.output, parallelism=parallelism) as shard:
            extract = _sized(c.extract_features(shard_listing=shard, cache_dir=cache_dir, limits_json=limits_json,
                                                passwords_json=passwords_json, jobs=extract_jobs), "extract", res)
        merged = _sized(c.merge_features(listing=listed.outputs["listing"], cache_dir=cache_dir,
                                         shard_rows=dsl.Collected(extract.outputs["rows"]), limits_json=limits_json,
                                         passwords_json=passwords_json, jobs=extract_jobs, synthetic=synthetic,
                                         seed=seed), "merge", res)
        split = _sized(c.split_features(table=merged.outputs["table"], eval_fraction=eval_fraction, seed=seed),
                       "small", res)
        trained = _sized(c.train_model(train_table=split.outputs["train_table"], params_json=train_params_json),
                         "train", res)
        evaluated = _sized(c.evaluate_model(candidate=trained.outputs["candidate"],
                                            eval_table=split.outputs["eval_table"]), "evaluate", res)
        gated = _sized(c.gate(candidate=trained.outputs["candidate"], eval_table=split.outputs["eval_table"],
                              models_dir=models_dir, metric=gate_metric, min_delta=gate_min_delta, force=force),
                       "small", res)
        gated.set_caching_options(False)  # the current bundle changes between runs
        with dsl.If(gated.outputs["Output"] == True, name="promoted"):  # noqa: E712  (a kfp condition, not a bool)
            published = _sized(c.publish(candidate=trained.outputs["candidate"], models_dir=models_dir,
                                         decision=gated.outputs["decision"]), "small", res)
            published.set_caching_options(False)
        # the pipeline's outputs: what `run --local` reports (kfp.local returns them, cached steps included)
        return Outputs(trained.outputs["candidate"], evaluated.outputs["metrics"], gated.outputs["decision"])

    return maldoc_retrain
