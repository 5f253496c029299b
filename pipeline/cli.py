"""`maldoc pipeline compile | run | schedule`, registered into the lead's CLI (`maldoc.cli`).

    register(subparsers) -> None
    compile_command(args), run_command(args), schedule_command(args) -> int

kfp is an optional extra (`maldoc[pipeline]`): it is imported inside the handlers only, so the
rest of the CLI works without it.

    maldoc pipeline compile --out pipeline/maldoc_pipeline.yaml      (regenerates the golden file)
    maldoc pipeline run --local --corpus DIR [--corpus DIR2] [--shards 4 --parallelism 2]
    maldoc pipeline run --host URL --namespace team --token-file /path/token --corpus /data/corpus
    maldoc pipeline schedule --host URL --cron "0 3 * * 0" --corpus /data/corpus

A KFP host that cannot be reached or refuses the request is a one-line error and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

DEFAULT_OUT = "maldoc_pipeline.yaml"


def register(subparsers) -> None:
    from maldoc.cli import add_limit_arguments

    top = subparsers.add_parser("pipeline", help="the Kubeflow retraining pipeline: compile, run, schedule",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="pipeline_command", metavar="SUBCOMMAND", required=True)

    comp = sub.add_parser("compile", help="write the pipeline YAML")
    comp.add_argument("--out", default=DEFAULT_OUT, metavar="FILE", help=f"output file (default {DEFAULT_OUT})")
    _compile_options(comp)
    comp.set_defaults(func=compile_command)

    run = sub.add_parser("run", help="run the pipeline locally (kfp.local) or submit it to a KFP host")
    where = run.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="run here with kfp.local, each step a subprocess")
    where.add_argument("--host", metavar="URL", help="KFP API endpoint to submit the run to")
    run.add_argument("--work-dir", default="maldoc-pipeline", metavar="DIR",
                     help="--local: step outputs and kfp.local's step cache (default ./maldoc-pipeline)")
    run.add_argument("--no-step-cache", action="store_true", help="--local: run every step, cached or not")
    run.add_argument("--run-name", metavar="NAME", help="--host: name of the run")
    add_target_arguments(run)
    _compile_options(run)
    _run_parameters(run)
    add_limit_arguments(run)
    run.set_defaults(func=run_command)

    sched = sub.add_parser("schedule", help="create a recurring run (scheduled retraining) on a KFP host")
    sched.add_argument("--host", metavar="URL", required=True)
    sched.add_argument("--cron", metavar="EXPR", required=True,
                       help="when to retrain: 5 fields (minute hour day month weekday) or KFP's 6 (seconds first)")
    sched.add_argument("--name", default="maldoc-retrain", help="name of the recurring run")
    add_target_arguments(sched, host=False)
    _compile_options(sched)
    _run_parameters(sched)
    add_limit_arguments(sched)
    sched.set_defaults(func=schedule_command)


def add_target_arguments(parser: argparse.ArgumentParser, *, host: bool = False) -> None:
    """--namespace, --experiment, --token / --token-file (and --host when the caller has none)."""
    from maldoc.pipeline.client import DEFAULT_EXPERIMENT, SERVICE_ACCOUNT_TOKEN

    g = parser.add_argument_group("KFP host")
    if host:
        g.add_argument("--host", metavar="URL", help="KFP API endpoint")
    g.add_argument("--namespace", metavar="NS", help="Kubeflow profile namespace of the run (multi-user KFP)")
    g.add_argument("--experiment", default=DEFAULT_EXPERIMENT, metavar="NAME",
                   help=f"experiment the run belongs to (default {DEFAULT_EXPERIMENT})")
    token = g.add_mutually_exclusive_group()
    token.add_argument("--token", metavar="TOKEN", help="bearer token for the KFP API")
    token.add_argument("--token-file", metavar="FILE",
                       help=f"read the bearer token from FILE (default inside a pod: {SERVICE_ACCOUNT_TOKEN})")


def target_from_args(args: argparse.Namespace):
    from maldoc.pipeline.client import Target, read_token

    return Target(host=args.host, namespace=args.namespace, experiment=args.experiment,
                  token=read_token(args.token, args.token_file))


def _compile_options(parser: argparse.ArgumentParser) -> None:
    from maldoc.pipeline.pipeline import DEFAULT_IMAGE, DEFAULT_PARALLELISM

    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"base image of every step (default {DEFAULT_IMAGE})")
    parser.add_argument("--parallelism", type=int, default=DEFAULT_PARALLELISM, metavar="N",
                        help="most shards extracted at once (fixed at compile time; 0 = all, the default)")


def _run_parameters(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("run parameters (unset: the pipeline's defaults; --local has its own folders)")
    g.add_argument("--corpus", action="append", metavar="DIR",
                   help="labelled corpus folder, repeatable: several are one set, each file once by sha256 "
                        "(required with --local)")
    g.add_argument("--cache", metavar="DIR", help="shared feature cache folder (--local default: as `maldoc train`)")
    g.add_argument("--models", metavar="DIR", help="models folder: current/ is the bundle to beat and to replace "
                                                    "(--local default ./maldoc-models)")
    g.add_argument("--shards", type=int, metavar="N", help="extraction shards (pipeline default 4)")
    g.add_argument("--extract-jobs", type=int, metavar="N", help="scan workers per shard (pipeline default 1)")
    g.add_argument("--synthetic", type=int, metavar="N", help="synthetic samples added to training")
    g.add_argument("--seed", type=int, metavar="N")
    g.add_argument("--gate-metric", metavar="NAME",
                   help="out-of-collection metric the candidate must beat the current bundle and the rules by "
                        "(default tpr_at_fpr_0.001)")
    g.add_argument("--gate-max-fpr", type=float, metavar="F",
                   help="largest FPR the candidate may have at its threshold (default 0.01)")
    g.add_argument("--gate-min-delta", type=float, metavar="F", help="margin it must beat them by (default 0)")
    g.add_argument("--force", action="store_true",
                   help="promote whatever the gate finds (the decision records that it was forced)")
    g.add_argument("--feedback-db", metavar="FILE", help="analyst feedback store whose labels correct the corpus")
    g.add_argument("--quarantine", metavar="DIR", help="folder where files labelled by analysts are found by sha256")
    g.add_argument("--password", action="append", metavar="PW", help="password tried on encrypted files")
    g.add_argument("--train-param", action="append", metavar="NAME=JSON", default=[],
                   help="a TrainParams field, e.g. n_splits=3 or loco=false (repeatable)")
    g.add_argument("--param", action="append", metavar="NAME=VALUE", default=[],
                   help="any other pipeline parameter, e.g. extract_cpu_limit=2 or train_memory_limit=16Gi")


def _pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    from maldoc.cli import UsageError

    out = []
    for v in values:
        name, sep, value = v.partition("=")
        if not sep or not name:
            raise UsageError(f"{what} {v!r}: expected NAME=VALUE")
        out.append((name.strip(), value))
    return out


def pipeline_arguments(args: argparse.Namespace, *, local: bool) -> dict:
    """Pipeline run parameters from the command line (only those given, plus --local's folders)."""
    from dataclasses import fields

    from maldoc.cli import UsageError
    from maldoc.limits import Limits

    given = {"cache_dir": args.cache, "models_dir": args.models, "shards": args.shards,
             "extract_jobs": args.extract_jobs, "synthetic": args.synthetic, "seed": args.seed,
             "gate_metric": args.gate_metric,
             "gate_max_fpr": args.gate_max_fpr, "gate_min_delta": args.gate_min_delta,
             "feedback_db": args.feedback_db, "quarantine_dir": args.quarantine}
    out = {k: v for k, v in given.items() if v is not None}
    corpora = [str(Path(c).resolve()) if local else c for c in args.corpus or []]  # steps run elsewhere
    if corpora:
        out["corpus_dirs_json"] = json.dumps(corpora)
    if args.force:
        out["force"] = True
    if args.password:
        out["passwords_json"] = json.dumps(args.password)
    limits = {f.name: getattr(args, f"limit_{f.name}") for f in fields(Limits)
              if getattr(args, f"limit_{f.name}", None) is not None}
    if limits:
        try:
            Limits(**limits)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        out["limits_json"] = json.dumps(limits, sort_keys=True)
    train = {}
    for name, value in _pairs(args.train_param, "--train-param"):
        try:
            train[name] = json.loads(value)
        except json.JSONDecodeError:
            train[name] = value
    if train:
        out["train_params_json"] = json.dumps(train, sort_keys=True)
    for name, value in _pairs(args.param, "--param"):
        out[name] = value
    if local:
        from maldoc.training.cli import default_cache_dir

        if not corpora:
            raise UsageError("pipeline run --local needs --corpus DIR (repeatable)")
        out.setdefault("cache_dir", str(default_cache_dir()))
        out.setdefault("models_dir", "maldoc-models")
        for key in ("cache_dir", "models_dir", "feedback_db", "quarantine_dir"):
            if out.get(key):  # steps run in other working directories
                out[key] = str(Path(out[key]).resolve())
    return _typed(out)


def _typed(arguments: dict) -> dict:
    """--param values converted to the pipeline parameter's type."""
    import inspect

    from maldoc.cli import UsageError
    from maldoc.pipeline.pipeline import make_pipeline

    signature = inspect.signature(make_pipeline().pipeline_func)
    out = {}
    for name, value in arguments.items():
        if name not in signature.parameters:
            raise UsageError(f"no pipeline parameter {name!r} (have {', '.join(signature.parameters)})")
        kind = signature.parameters[name].annotation
        try:
            out[name] = value if not isinstance(value, str) or kind is str else \
                (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
        except ValueError:
            raise UsageError(f"pipeline parameter {name}: {value!r} is not a {kind.__name__}") from None
    return out


def compile_command(args: argparse.Namespace) -> int:
    from maldoc.pipeline.compile import compile_pipeline

    out = compile_pipeline(args.out, image=args.image, parallelism=args.parallelism)
    print(out)
    return 0


def run_command(args: argparse.Namespace) -> int:
    arguments = pipeline_arguments(args, local=args.local)
    if args.local:
        from maldoc.pipeline.local import run_local

        with contextlib.redirect_stdout(sys.stderr):  # kfp.local's step logs; stdout is the result's
            run = run_local(arguments, args.work_dir, image=args.image, parallelism=args.parallelism,
                            enable_caching=not args.no_step_cache)
        print(json.dumps({"decision": run.decision, "metrics": run.metrics, "candidate": run.candidate,
                          "published": run.published, "outputs": str(run.outputs)}, indent=2, default=str))
        return 0
    return submit_run(args, arguments)


def submit_run(args: argparse.Namespace, arguments: dict) -> int:
    """Compile and submit one run to `args.host`; 2 with one line when the host fails us."""
    from maldoc.pipeline.client import KFPError, submit
    from maldoc.pipeline.compile import compile_pipeline

    try:
        target = target_from_args(args)
        with tempfile.TemporaryDirectory(prefix="maldoc-pipeline-") as tmp:
            package = compile_pipeline(Path(tmp) / "pipeline.yaml", image=args.image, parallelism=args.parallelism)
            run_id = submit(target, package, arguments, run_name=getattr(args, "run_name", None))
    except KFPError as exc:
        print(f"maldoc: {exc}", file=sys.stderr)
        return 2
    print(f"submitted run {run_id} to {args.host}", file=sys.stderr)
    print(run_id)
    return 0


def schedule_command(args: argparse.Namespace) -> int:
    from maldoc.cli import UsageError
    from maldoc.pipeline.client import KFPError, kfp_cron, schedule
    from maldoc.pipeline.compile import compile_pipeline

    try:
        kfp_cron(args.cron)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    arguments = pipeline_arguments(args, local=False)
    try:
        target = target_from_args(args)
        with tempfile.TemporaryDirectory(prefix="maldoc-pipeline-") as tmp:
            package = compile_pipeline(Path(tmp) / "pipeline.yaml", image=args.image, parallelism=args.parallelism)
            job_id = schedule(target, package, arguments, cron=args.cron, name=args.name)
    except KFPError as exc:
        print(f"maldoc: {exc}", file=sys.stderr)
        return 2
    print(f"created recurring run {job_id} on {args.host} ({kfp_cron(args.cron)})", file=sys.stderr)
    print(job_id)
    return 0
