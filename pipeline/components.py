"""The retraining pipeline's kfp components: one per function, each a thin wrapper over
`maldoc.pipeline.steps` / `maldoc.pipeline.gate` (which call `maldoc.training`, as the CLI does).

kfp copies each function's source into the compiled YAML and runs it in the project's image, so
every import sits inside the function, and this module must not use postponed annotations (kfp
reads the annotations to type the inputs and outputs). `build(image)` turns the functions into
components for one base image, installing nothing at run time (`install_kfp_package=False`: the
image already holds maldoc and the pinned kfp).
"""

from types import SimpleNamespace
from typing import List, NamedTuple  # noqa: UP035  (kfp reads typing.List in the component signatures)

from kfp import dsl
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output


def list_corpus(corpus_dirs_json: str, cache_dir: str, feedback_db: str,
                quarantine_dir: str) -> NamedTuple("Listed", [("listing", str), ("files", int)]):
    """List the labelled corpora (a JSON list of folders) with sha256s, each file once, into a
    content-addressed listing beside the cache; analysts' labels from the feedback store correct
    it, and files they labelled that the corpora lack come from the quarantine folder."""
    from maldoc.pipeline.steps import corpus_dirs_from_json
    from maldoc.pipeline.steps import list_corpus as run

    listing, files = run(corpus_dirs_from_json(corpus_dirs_json), cache_dir, feedback_db=feedback_db or None,
                         quarantine_dir=quarantine_dir or None)
    print(f"{files} files; listing {listing}")
    return (listing, files)


def shard_corpus(listing: str, cache_dir: str, shards: int) -> List[str]:  # noqa: UP006
    """Split the listing into `shards` listings by sha256 (new files change only their own shard)."""
    from maldoc.pipeline.steps import shard_listing

    return shard_listing(listing, cache_dir, shards)


def size_shard(shard_listing: str, memory_request: str, memory_limit: str, memory_per_gib: str,
               memory_max: str) -> NamedTuple("Sized", [("memory_request", str), ("memory_limit", str)]):
    """The extraction step's memory for this shard, from its byte count (kfp reads the outputs)."""
    from maldoc.pipeline.steps import shard_memory

    request, limit = shard_memory(shard_listing, memory_request, memory_limit, memory_per_gib, memory_max)
    print(f"shard {shard_listing}: memory request {request}, limit {limit}")
    return (request, limit)


def extract_features(shard_listing: str, cache_dir: str, limits_json: str, passwords_json: str, jobs: int,
                     rows: Output[Dataset]) -> int:
    """Features of the shard's files that the shared feature cache lacks; returns how many."""
    from maldoc.pipeline import steps

    stats = steps.extract_shard(shard_listing, cache_dir, rows.path, limits=steps.limits_from_json(limits_json),
                                options=steps.options_from_json(passwords_json), jobs=jobs)
    rows.metadata.update(stats)
    print(f"shard {shard_listing}: {stats}")
    return stats["extracted"]


def merge_features(listing: str, cache_dir: str, shard_rows: Input[List[Dataset]],  # noqa: UP006
                   limits_json: str, passwords_json: str, jobs: int, synthetic: int, seed: int,
                   table: Output[Dataset]) -> int:
    """Add the shards' rows to the shared cache and write the corpus' feature table."""
    from maldoc.pipeline import steps

    stats = steps.merge_features(listing, cache_dir, [r.path for r in shard_rows], table.path,
                                 limits=steps.limits_from_json(limits_json),
                                 options=steps.options_from_json(passwords_json), jobs=jobs,
                                 synthetic=synthetic, seed=seed)
    table.metadata.update(stats)
    print(f"feature table: {stats}")
    return stats["files"]


def train_model(table: Input[Dataset], params_json: str, candidate: Output[Model], train_metrics: Output[Metrics],
                ooc_scores: Output[Dataset], report: Output[Artifact]) -> str:
    """LightGBM evaluated out of collection, then fitted on every file (`maldoc train`); the
    out-of-collection scores go to `ooc_scores` for the evaluation and the gate. Returns the version."""
    from maldoc.pipeline.steps import train_candidate, write_json

    out = train_candidate(table.path, candidate.path, report.path, params_json, ooc_scores.path)
    candidate.metadata.update(version=out["version"], thresholds=out["thresholds"])
    ooc_scores.metadata.update(files=out["ooc"]["n"], unit=out["ooc_unit"], folds=len(out["ooc_folds"]))
    m = out["ooc"]
    if m["roc_auc"] is not None:  # None: undefined (one class in every fold)
        train_metrics.log_metric("ooc_roc_auc", m["roc_auc"])
    for fpr, point in m["at"].items():
        if point["tpr"] is not None:
            train_metrics.log_metric(f"ooc_tpr_at_fpr_{fpr}", point["tpr"])
    for name in ("n", "positives", "negatives"):
        train_metrics.log_metric(f"ooc_{name}", float(m[name]))
    write_json(train_metrics.path, train_metrics.metadata)
    for warning in m["warnings"]:
        print(f"warning: {warning}")
    return out["version"]


def evaluate_model(candidate: Input[Model], ooc_scores: Input[Dataset], metrics: Output[Metrics],
                   classification: Output[ClassificationMetrics]) -> float:
    """The candidate's out-of-collection figures (what the gate compares) beside the rule scorer's,
    as KFP metrics, ROC curve and confusion matrix."""
    from maldoc.pipeline.steps import evaluation_summary, write_json

    summary = evaluation_summary(candidate.path, ooc_scores.path)
    for name, value in summary["scalars"].items():
        metrics.log_metric(name, value)
    for name, value in summary["rules"].items():
        metrics.log_metric(f"rules_{name}", value)
    if summary["roc"]:
        roc = summary["roc"]
        classification.log_roc_curve(roc["fpr"], roc["tpr"], roc["threshold"])
    confusion = summary["confusion"]
    classification.log_confusion_matrix(confusion["categories"], confusion["matrix"])
    write_json(metrics.path, metrics.metadata)
    write_json(classification.path, classification.metadata)
    return summary["scalars"].get("roc_auc", float("nan"))


def gate(candidate: Input[Model], table: Input[Dataset], ooc_scores: Input[Dataset], models_dir: str, metric: str,
         max_fpr: float, min_delta: float, force: bool, decision: Output[Artifact],
         gate_metrics: Output[Metrics]) -> bool:
    """Promote only when the candidate beats the rule scorer and the current bundle (the shipped
    one when none was promoted yet) out of collection, on the same files, within the FPR bound;
    the current bundle only on the files it did not train on, and not at all when too few remain.

    The one return value is what `dsl.If` tests (kfp.local resolves conditions on `Output` only);
    the decision with its reasons, figures and files is an artifact, KFP metrics, and a JSON record
    under `<models_dir>/decisions/`.
    """
    import json

    from maldoc.pipeline.gate import baseline_bundle, decide, record_decision
    from maldoc.pipeline.steps import read_ooc_scores, write_json
    from maldoc.training.features import FeatureTable

    baseline, source = baseline_bundle(models_dir)
    result = decide(candidate.path, baseline, read_ooc_scores(ooc_scores.path), FeatureTable.load(table.path),
                    metric=metric, max_fpr=max_fpr, min_delta=min_delta, force=force, current_source=source)
    with open(decision.path, "w") as handle:
        json.dump(result.as_dict(), handle, indent=2, sort_keys=True)
    files = {k: {n: v for n, v in f.items() if n != "sha256"} for k, f in result.files.items()}  # lists: in the file
    decision.metadata.update(promote=result.promote, forced=result.forced, reason=result.reason, rule=result.rule,
                             current_comparable=result.current_comparable, files=files,
                             record=str(record_decision(result, models_dir)))
    for name, value in result.kfp_metrics().items():
        gate_metrics.log_metric(name, value)
    write_json(gate_metrics.path, gate_metrics.metadata)
    print(result.reason)
    return result.promote


def publish(candidate: Input[Model], models_dir: str, decision: Input[Artifact]) -> str:
    """Make the candidate the current bundle (kept under versions/ too); returns its folder."""
    import json

    from maldoc.pipeline.gate import publish as run

    with open(decision.path) as handle:
        path = run(candidate.path, models_dir, json.load(handle))
    print(f"published {path}")
    return str(path)


FUNCTIONS = (list_corpus, shard_corpus, size_shard, extract_features, merge_features, train_model, evaluate_model,
             gate, publish)


def build(image: str) -> SimpleNamespace:
    """The components for one base image (the project's Docker image), by function name."""
    return SimpleNamespace(**{f.__name__: dsl.component(f, base_image=image, install_kfp_package=False)
                              for f in FUNCTIONS})
