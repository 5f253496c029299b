"""`maldoc drift`: how far live traffic has moved from the training data, and the verdict mix.

    maldoc drift verdicts.jsonl --model models/current           from a JSONL file ('-': stdin)
    maldoc drift --url http://maldoc:8080                         from a running service's /metrics
    maldoc drift --url http://maldoc:8080 --trigger-pipeline --host https://kfp.internal --corpus /data/corpus
                                                                  above --bound: submit a retraining run

Each JSONL line is one object: its `label` (or `decision`, as the service answers) counts into
the verdict mix, and its `features` (the named vector `maldoc features` prints) into the drift
histograms of the model's `drift_bins.json`. Lines without features count in the mix only.
Exit codes: 0 drift at or under `--bound`, 1 above it (with `--trigger-pipeline`, a retraining
run is submitted first), 2 usage error, unreachable service or KFP host.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from pathlib import Path

DEFAULT_BOUND = 0.25  # the usual "large shift" reading of a PSI
MAX_LINES = 5_000_000


def register(subparsers) -> None:
    from maldoc.pipeline.cli import _compile_options, _run_parameters, add_target_arguments

    parser = subparsers.add_parser("drift", help="drift of live traffic against the training data; can retrain",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("jsonl", nargs="?", metavar="JSONL", help="verdicts / feature rows, one JSON object a line")
    source.add_argument("--url", metavar="URL", help="a maldoc service: read its /metrics")
    parser.add_argument("--model", metavar="BUNDLE", help="JSONL: the bundle whose drift_bins.json is the reference "
                        "(default: the shipped bundle)")
    parser.add_argument("--api-key", metavar="KEY", help="--url: key, if /metrics is behind one")
    parser.add_argument("--bound", type=float, default=DEFAULT_BOUND, metavar="PSI",
                        help=f"largest group PSI that is not drift (default {DEFAULT_BOUND})")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--trigger-pipeline", action="store_true",
                        help="above the bound, submit a retraining run to --host (the run parameters below)")
    add_target_arguments(parser, host=True)
    _compile_options(parser)
    _run_parameters(parser)
    parser.set_defaults(func=handle)


def from_jsonl(path: str, model: str | None) -> dict:
    """The drift summary of a JSONL file of verdicts and feature rows."""
    from maldoc.cli import UsageError, load_model
    from maldoc.schema import SCHEMA
    from maldoc.serving.drift import DriftMonitor

    monitor = DriftMonitor(window=MAX_LINES)
    monitor.use_model(load_model(model))
    bad = 0
    with contextlib.ExitStack() as stack:
        try:
            handle = sys.stdin if path == "-" else stack.enter_context(Path(path).open(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror}") from None
        for number, line in enumerate(handle, 1):
            if number > MAX_LINES:
                raise UsageError(f"{path}: more than {MAX_LINES} lines")
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                label = obj.get("label") or obj.get("decision")
                features = obj.get("features")
                row = None
                if isinstance(features, dict):
                    row = SCHEMA.base_row.copy()
                    for name, value in features.items():
                        if name in SCHEMA.index:
                            row[SCHEMA.index[name]] = float(value)
            except (ValueError, TypeError, AttributeError):
                bad += 1
                continue
            monitor.observe(label=str(label) if label else None, row=row)
    summary = monitor.summary()
    summary["unreadable_lines"] = bad
    return summary


def from_service(url: str, api_key: str | None) -> dict:
    """The drift gauges of a running service, read from its Prometheus /metrics."""
    import urllib.error
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    from maldoc.cli import UsageError

    request = urllib.request.Request(url.rstrip("/") + "/metrics", headers={"X-API-Key": api_key} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read(16 << 20).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raise UsageError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UsageError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    out = {"files": 0, "psi": {}, "psi_max": math.nan, "verdict_share": {}, "reference_files": 0, "top_features": []}
    found = False
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "maldoc_drift_psi":
                out["psi"][sample.labels["group"]] = sample.value
            elif sample.name == "maldoc_drift_verdict_share":
                out["verdict_share"][sample.labels["label"]] = sample.value
            elif sample.name in ("maldoc_drift_psi_max", "maldoc_drift_files", "maldoc_drift_reference_files"):
                out[sample.name.removeprefix("maldoc_drift_")] = sample.value
                found = True
    if not found:
        raise UsageError(f"{url}/metrics has no maldoc_drift_* gauges: is it a maldoc service with drift enabled?")
    out["files"] = int(out["files"])
    out["reference_files"] = int(out["reference_files"])
    return out


def worst(summary: dict) -> float:
    values = [v for v in summary["psi"].values() if not math.isnan(v)]
    return max(values) if values else math.nan


def render(summary: dict, bound: float) -> str:
    lines = [f"files counted: {summary['files']} (reference: {summary['reference_files']} training files)"]
    if not summary["reference_files"]:
        lines.append("no drift reference: the model has no drift_bins.json (retrain it to get one)")
    for group, value in sorted(summary["psi"].items(), key=lambda kv: -kv[1] if not math.isnan(kv[1]) else 0):
        mark = "  DRIFT" if value > bound else ""
        lines.append(f"  PSI {group:24} {value:8.4f}{mark}")
    for f in summary.get("top_features", []):
        lines.append(f"  feature {f['feature']:40} {f['psi']:8.4f}")
    mix = ", ".join(f"{k} {100 * v:.1f} %" for k, v in summary["verdict_share"].items()) or "none"
    lines.append(f"verdict mix: {mix}")
    w = worst(summary)
    lines.append(f"largest group PSI {w:.4f} {'>' if w > bound else '<='} bound {bound:g}" if not math.isnan(w)
                 else "largest group PSI: not measured (no feature rows counted)")
    return "\n".join(lines)


def _finite(obj):
    """NaN as null: the JSON is read by other tools."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def handle(args: argparse.Namespace) -> int:
    from maldoc.cli import UsageError

    if args.trigger_pipeline and not args.host:
        raise UsageError("--trigger-pipeline needs --host URL (the KFP API)")
    summary = from_service(args.url, args.api_key) if args.url else from_jsonl(args.jsonl, args.model)
    w = worst(summary)
    drifted = not math.isnan(w) and w > args.bound
    summary["bound"], summary["drifted"] = args.bound, drifted
    if args.json:
        print(json.dumps(_finite(summary), indent=2))
    else:
        print(render(summary, args.bound))
    if drifted and args.trigger_pipeline:
        from maldoc.pipeline.cli import pipeline_arguments, submit_run

        args.run_name = args.run_name if getattr(args, "run_name", None) else "maldoc-retrain-drift"
        print(f"drift {w:.4f} above {args.bound:g}: submitting a retraining run to {args.host}", file=sys.stderr)
        code = submit_run(args, pipeline_arguments(args, local=False))
        if code:
            return code
    return 1 if drifted else 0
