"""The retraining pipeline: wiring only (what each step does is in `components` and `steps`).

    list corpora (+ analyst feedback) + shard -> ParallelFor(size, extract features per shard)
      -> merge (shared feature cache) -> train (out-of-collection folds, then the final fit)
      -> evaluate (the out-of-collection figures) -> gate -> publish (only if promoted)

No file is set aside: training scores every real file out of collection (a fold model that never
saw its collection), and those scores are what the evaluation shows and the gate decides on.

Compile-time options (kfp fixes them in the YAML): the base image, and `parallelism`, the most
shards extracted at once (0: all). Everything else is a run parameter, the number of shards and
each component's CPU/memory requests and limits included: kfp 2.17 accepts pipeline parameters in
`set_cpu_request/limit` and `set_memory_request/limit` (it writes them as
`resourceCpuLimit: '{{$.inputs.parameters[...]}}'` and the backend substitutes them per run).
The extraction step's memory is sized per shard at run time: a small step before it reads the
shard's byte count and answers `extract_memory_request + extract_memory_per_gib x GiB` (capped
by `extract_memory_max`), which kfp passes to `set_memory_request/limit` as a task output. Its
CPU stays a run parameter (a shard scans with `extract_jobs` workers, whatever its size).
Size a run so `shards x extract_cpu_request` (and memory) fit the cluster at once: shards that
cannot be scheduled wait, and more of them stop helping.

On a cluster, the corpus, the feature cache and the models live on PersistentVolumeClaims
(kfp-kubernetes `mount_pvc`), whose names are run parameters (`corpus_pvc`, `cache_pvc`,
`models_pvc`), mounted at `/data/corpus`, `/data/cache` and `/data/models`: the folders of `corpus_dirs_json`,
`cache_dir` and `models_dir` are paths under those mounts. The cache volume must outlive runs and
be ReadWriteMany (the shards of a run read it at once). Each run's own artifacts (shard rows,
feature tables, candidate bundle, metrics, reports) go to KFP's artifact store. `kfp.local`
ignores the volumes: locally the three paths are plain folders.
"""

import maldoc  # no `from __future__ import annotations`: kfp reads the pipeline's annotations as types

PIPELINE_NAME = "maldoc-retrain"
DEFAULT_IMAGE = f"maldoc-pipeline:{maldoc.__version__}"  # the Dockerfile's `pipeline` target
DEFAULT_PARALLELISM = 0  # all shards at once; the shard count (a run parameter) bounds it
# where each volume is mounted in the steps that use it (the claims' names are run parameters)
MOUNTS = {"corpus": "/data/corpus", "cache": "/data/cache", "models": "/data/models"}


def _sized(task, component: str, params: dict):
    """Requests and limits from the run parameters `<component>_cpu_request` and so on."""
    names = [f"{component}_{what}" for what in ("cpu_request", "cpu_limit", "memory_request", "memory_limit")]
    task.set_cpu_request(params[names[0]]).set_cpu_limit(params[names[1]])
    task.set_memory_request(params[names[2]]).set_memory_limit(params[names[3]])
    return _plumb(task, *(params[n] for n in names))


def _plumb(task, *channels):
    """kfp 2.17 leaves parameters used only by the resource setters out of the inputs of a
    ParallelFor or If group: the YAML then names inputs the group does not declare (kfp.local
    fails on it, seen); listing them as the task's channel inputs plumbs them in."""
    known = {id(ch) for ch in task.channel_inputs}  # by identity: a channel's == builds a kfp condition
    task.channel_inputs.extend(ch for ch in channels if id(ch) not in known)
    return task


def _mounted(task, params: dict, *volumes: str):
    """Mount the named volumes' claims (`<volume>_pvc` run parameters) at their `MOUNTS` paths."""
    from kfp import kubernetes

    for volume in volumes:
        kubernetes.mount_pvc(task, pvc_name=params[f"{volume}_pvc"], mount_path=MOUNTS[volume])
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
                  "shared cache, LightGBM evaluated out of collection, promotion gated on those figures.")
    def maldoc_retrain(
        corpus_dirs_json: str = '["/data/corpus"]', cache_dir: str = "/data/cache", models_dir: str = "/data/models",
        corpus_pvc: str = "maldoc-corpus", cache_pvc: str = "maldoc-cache", models_pvc: str = "maldoc-models",
        # analyst feedback (`maldoc feedback`, POST /v1/feedback) and the folder its files are found in
        feedback_db: str = "", quarantine_dir: str = "",
        shards: int = 4, extract_jobs: int = 1, limits_json: str = "{}", passwords_json: str = "[]",
        synthetic: int = 0, seed: int = 0, train_params_json: str = "{}",
        gate_metric: str = "tpr_at_fpr_0.001", gate_max_fpr: float = 0.01, gate_min_delta: float = 0.0,
        force: bool = False,
        # one scan worker (Limits.max_memory_mb = 2 GiB of address space) and its parent per shard;
        # memory grows with the shard's bytes (see the module docstring)
        extract_cpu_request: str = "1", extract_cpu_limit: str = "1",
        extract_memory_request: str = "1Gi", extract_memory_limit: str = "3Gi",
        extract_memory_per_gib: str = "1Gi", extract_memory_max: str = "16Gi",
        # the merge holds the whole feature cache and table
        merge_cpu_request: str = "1", merge_cpu_limit: str = "1",
        merge_memory_request: str = "2Gi", merge_memory_limit: str = "8Gi",
        # TrainParams.threads = 2
        train_cpu_request: str = "2", train_cpu_limit: str = "2",
        train_memory_request: str = "2Gi", train_memory_limit: str = "8Gi",
        evaluate_cpu_request: str = "1", evaluate_cpu_limit: str = "1",
        evaluate_memory_request: str = "1Gi", evaluate_memory_limit: str = "4Gi",
        # list, shard, size, gate and publish
        small_cpu_request: str = "250m", small_cpu_limit: str = "1",
        small_memory_request: str = "512Mi", small_memory_limit: str = "2Gi",
    ) -> Outputs:
        res = dict(locals())
        listed = _sized(c.list_corpus(corpus_dirs_json=corpus_dirs_json, cache_dir=cache_dir, feedback_db=feedback_db,
                                      quarantine_dir=quarantine_dir), "small", res)
        _mounted(listed, res, "corpus", "cache", "models")  # the feedback store may live on any of them
        listed.set_caching_options(False)  # reads a folder that changes between runs
        sharded = _mounted(_sized(c.shard_corpus(listing=listed.outputs["listing"], cache_dir=cache_dir,
                                                 shards=shards), "small", res), res, "cache")
        with dsl.ParallelFor(items=sharded.output, parallelism=parallelism) as shard:
            size = _mounted(_sized(c.size_shard(shard_listing=shard, memory_request=extract_memory_request,
                                                memory_limit=extract_memory_limit,
                                                memory_per_gib=extract_memory_per_gib,
                                                memory_max=extract_memory_max), "small", res), res, "cache")
            extract = c.extract_features(shard_listing=shard, cache_dir=cache_dir, limits_json=limits_json,
                                         passwords_json=passwords_json, jobs=extract_jobs)
            extract.set_cpu_request(extract_cpu_request).set_cpu_limit(extract_cpu_limit)
            extract.set_memory_request(size.outputs["memory_request"]).set_memory_limit(size.outputs["memory_limit"])
            _plumb(extract, extract_cpu_request, extract_cpu_limit)
            # kfp records no dependency for outputs used only in resource fields: without it, kfp.local
            # (seen) and the backend may start the extraction before its size is known
            extract.after(size)
            _mounted(extract, res, "corpus", "cache")
        merged = _sized(c.merge_features(listing=listed.outputs["listing"], cache_dir=cache_dir,
                                         shard_rows=dsl.Collected(extract.outputs["rows"]), limits_json=limits_json,
                                         passwords_json=passwords_json, jobs=extract_jobs, synthetic=synthetic,
                                         seed=seed), "merge", res)
        _mounted(merged, res, "corpus", "cache")
        trained = _sized(c.train_model(table=merged.outputs["table"], params_json=train_params_json), "train", res)
        evaluated = _sized(c.evaluate_model(candidate=trained.outputs["candidate"],
                                            ooc_scores=trained.outputs["ooc_scores"]), "evaluate", res)
        gated = _sized(c.gate(candidate=trained.outputs["candidate"], table=merged.outputs["table"],
                              ooc_scores=trained.outputs["ooc_scores"], models_dir=models_dir, metric=gate_metric,
                              max_fpr=gate_max_fpr, min_delta=gate_min_delta, force=force), "small", res)
        _mounted(gated, res, "models")
        gated.set_caching_options(False)  # the current bundle changes between runs
        with dsl.If(gated.outputs["Output"] == True, name="promoted"):  # noqa: E712  (a kfp condition, not a bool)
            published = _sized(c.publish(candidate=trained.outputs["candidate"], models_dir=models_dir,
                                         decision=gated.outputs["decision"]), "small", res)
            _mounted(published, res, "models")
            published.set_caching_options(False)
        # the pipeline's outputs: what `run --local` reports (kfp.local returns them, cached steps included)
        return Outputs(trained.outputs["candidate"], evaluated.outputs["metrics"], gated.outputs["decision"])

    return maldoc_retrain
