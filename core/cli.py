"""`maldoc`: the analyst's command line. Same engine as the service and the pipeline.

Exit codes (documented in the README and `maldoc --help`):
  0  scanned, no malicious verdict
  1  scanned, at least one malicious verdict
  2  usage error, or an input could not be read at all (it still gets a record)
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path

from maldoc import __version__
from maldoc.limits import Limits

EXIT_CLEAN, EXIT_MALICIOUS, EXIT_USAGE = 0, 1, 2  # 2 also: an input could not be read at all
MAX_FILES = 1_000_000  # a folder walk stops here rather than exhausting memory on a runaway tree

# Subsystems add their own commands: module -> what to install when its extra is missing.
SUBCOMMANDS = {
    "maldoc.samples.cli": "maldoc",
    "maldoc.training.cli": "maldoc[train]",
    "maldoc.pipeline.cli": "maldoc[pipeline]",
    "maldoc.serving.cli": "maldoc[serve]",
    "maldoc.serving.gateway_cli": "maldoc[serve]",
    "maldoc.serving.milter": "maldoc[milter]",
    "maldoc.serving.feedback_cli": "maldoc",
    "maldoc.serving.drift_cli": "maldoc[serve]",
}

EPILOG = """exit codes: 0 no malicious verdict, 1 at least one malicious verdict,
2 usage error, or an input could not be read at all (missing, permission denied; it still
gets a record). A file that cannot be parsed is a verdict labelled 'error', not a failure
of the command. MALDOC_MODEL names the model bundle when --model is not given."""


class UsageError(Exception):
    pass


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `Limits` field (--max-bytes, --timeout-s, ...), defaults from Limits itself."""
    group = parser.add_argument_group("limits")
    defaults = Limits()
    for f in fields(Limits):
        flag = "--" + f.name.replace("_", "-")
        kind = float if isinstance(getattr(defaults, f.name), float) else int
        group.add_argument(flag, dest=f"limit_{f.name}", type=kind, default=None, metavar="N",
                           help=f"{Limits.describe()[f.name]} (default {getattr(defaults, f.name)})")


def limits_from_args(args: argparse.Namespace) -> Limits:
    given = {f.name: getattr(args, f"limit_{f.name}") for f in fields(Limits)
             if getattr(args, f"limit_{f.name}", None) is not None}
    try:
        return Limits(**given)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def load_model(spec: str | None):
    """The bundle named by --model, else by $MALDOC_MODEL (every command honours it), else the default."""
    from maldoc.model import BundleError, load_scorer

    spec = spec or os.environ.get("MALDOC_MODEL") or None
    try:
        return load_scorer(spec)
    except BundleError as exc:
        raise UsageError(str(exc)) from None


# -- input discovery --------------------------------------------------------------------------
def iter_inputs(paths: list[str], errors: list[str]) -> Iterator[Path]:
    """Files named on the command line (`-`: standard input), and every file below named folders
    (sorted, recursive). A name that does not exist is yielded too: it becomes an unreadable record."""
    count = 0
    for raw in paths:
        path = Path(raw)
        if raw == "-":
            yield path
        elif path.is_dir():
            for root, dirs, files in os.walk(path, onerror=lambda e: errors.append(f"{e.filename}: {e.strerror}")):
                dirs.sort()
                for name in sorted(files):
                    count += 1
                    if count > MAX_FILES:
                        errors.append(f"stopped after {MAX_FILES} files")
                        return
                    yield Path(root) / name
        else:
            count += 1
            yield path


# -- scan -------------------------------------------------------------------------------------
def _scan_command(args: argparse.Namespace) -> int:
    from maldoc.extractor import Options
    from maldoc.runner import scan_files

    limits = limits_from_args(args)
    scorer = load_model(args.model)
    options = Options(passwords=tuple(args.password or ()), keep_macros=bool(args.show_macros or args.extract),
                      keep_children=bool(args.extract), yara_dir=yara_dir(args))
    errors: list[str] = []
    files = list(iter_inputs(args.paths, errors))
    if not files and not errors:
        raise UsageError(f"no input files in {' '.join(args.paths)}")
    show_progress = not args.no_progress and sys.stderr.isatty()
    from maldoc.policy import Policy

    results = scan_files(files, scorer=scorer, limits=limits, options=options, jobs=args.jobs,
                         progress=show_progress, policy=Policy(cutoff_label=args.cutoff_label))
    from maldoc import output

    exit_code = output.emit(results, args, errors, scorer)
    for line in errors:
        print(f"maldoc: {line}", file=sys.stderr)
    return exit_code


def yara_dir(args: argparse.Namespace) -> str:
    """--yara DIR, else $MALDOC_YARA_DIR; compiled here so that a bad rule stops the command at once."""
    folder = getattr(args, "yara", None) or os.environ.get("MALDOC_YARA_DIR") or ""
    if folder:
        from maldoc.yara_rules import YaraError, load

        try:
            load(folder)
        except YaraError as exc:
            raise UsageError(str(exc)) from None
    return folder


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (in-process) or a positive number of worker processes")
    return value


def _features_command(args: argparse.Namespace) -> int:
    from maldoc.engine import analyze
    from maldoc.extractor import Options
    from maldoc.runner import read_input
    from maldoc.schema import SCHEMA, named, vectorize

    path = Path(args.file)
    data = read_input(path, limits := limits_from_args(args)) if path.is_file() else f"{path}: no such file"
    if isinstance(data, tuple):
        data = data[0]  # over max_bytes: the engine refuses it, as a scan would
    if isinstance(data, str):
        print(f"maldoc: {data}", file=sys.stderr)
        return EXIT_USAGE
    node = analyze(data, path.name, limits=limits, options=Options(passwords=tuple(args.password or ())))
    values = named(vectorize(node), skip_missing=not args.all)
    print(json.dumps({"schema": SCHEMA.id, "path": str(path), "sha256": node.sha256,
                      "file_type": node.file_type.value, "features": values}, indent=2))
    return EXIT_CLEAN


def _rules_command(args: argparse.Namespace) -> int:
    from maldoc.catalogue import RULES

    if args.json:
        print(json.dumps([asdict(r) for r in RULES.values()], indent=2))
        return EXIT_CLEAN
    for r in sorted(RULES.values(), key=lambda r: r.id):
        print(f"{r.id:34} {r.severity:8} {r.weight:4.2f} {r.attack:10} {r.title}")
    return EXIT_CLEAN


def _version_text() -> str:
    from maldoc.schema import SCHEMA

    try:
        model = load_model(None).version
    except UsageError as exc:
        model = f"unusable ({exc})"
    return f"maldoc {__version__}\nfeature schema {SCHEMA.id} ({len(SCHEMA)} features)\nmodel {model}"


BUILTIN_COMMANDS = frozenset({"scan", "features", "rules", "report", "demo"})


def _command_of(argv: list[str] | None) -> str | None:
    """The first word of `argv` that is not an option: the command, as argparse will see it."""
    return next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)


def build_parser(argv: list[str] | None = None, *, lazy: bool = False) -> argparse.ArgumentParser:
    """The whole command line. `lazy`: when `argv` names a built-in command, the subsystems' modules
    (training, serving, pipeline: a third of a small scan's start-up) are not imported at all."""
    parser = argparse.ArgumentParser(prog="maldoc", description="Static detection of malicious e-mail attachments.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print versions of maldoc, schema and model")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    scan = sub.add_parser("scan", help="scan files, folders, .eml files and ZIPs", epilog=EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    scan.add_argument("paths", nargs="+", metavar="PATH", help="files, folders (recursive), or - for standard input")
    out = scan.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON document with every verdict")
    out.add_argument("--jsonl", action="store_true", help="one JSON object per input file")
    scan.add_argument("--password", action="append", metavar="PW",
                      help="password to try on encrypted archives and documents (repeatable)")
    scan.add_argument("--jobs", type=_jobs, default=None, metavar="N",
                      help="worker processes (default: all cores; 0 scans in-process, without hard timeouts)")
    scan.add_argument("--extract", metavar="DIR", help="write embedded objects and macro source into DIR")
    scan.add_argument("--show-macros", action="store_true", help="print recovered macro source (capped)")
    scan.add_argument("--model", metavar="BUNDLE", help="model bundle folder, or 'rules' for the rule scorer")
    scan.add_argument("--all", action="store_true", help="table: list clean embedded items too")
    scan.add_argument("--cutoff-label", choices=("suspicious", "malicious", "clean"), default="suspicious",
                      help="least label of a file whose analysis a limit cut short (default suspicious; "
                           "clean: what was scanned decides alone)")
    scan.add_argument("--yara", metavar="DIR", help="also run the YARA rules in DIR on every item (or MALDOC_YARA_DIR)")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_limit_arguments(scan)
    scan.set_defaults(func=_scan_command)

    feats = sub.add_parser("features", help="print the named feature vector of one file")
    feats.add_argument("file")
    feats.add_argument("--password", action="append", metavar="PW")
    feats.add_argument("--all", action="store_true", help="include missing and zero features")
    add_limit_arguments(feats)
    feats.set_defaults(func=_features_command)

    rules = sub.add_parser("rules", help="list the finding catalogue")
    rules.add_argument("--json", action="store_true")
    rules.set_defaults(func=_rules_command)

    report = sub.add_parser("report", help="write a self-contained HTML report of one file, to forward")
    report.add_argument("file")
    report.add_argument("-o", "--output", required=True, metavar="HTML", help="the report file to write")
    report.add_argument("--model", metavar="BUNDLE", help="model bundle folder, or 'rules'")
    report.add_argument("--password", action="append", metavar="PW")
    report.add_argument("--yara", metavar="DIR", help="also run the YARA rules in DIR (or MALDOC_YARA_DIR)")
    add_limit_arguments(report)
    report.set_defaults(func=_report_command)

    demo = sub.add_parser("demo", help="scan the bundled demo files and show each verdict next to its label")
    demo.add_argument("folder", nargs="?", default=None, help="a folder with a labels manifest")
    demo.add_argument("--model", metavar="BUNDLE")
    demo.set_defaults(func=_demo_command)

    if lazy and _command_of(argv) in BUILTIN_COMMANDS:
        return parser
    for module, extra in SUBCOMMANDS.items():
        _register(sub, module, extra)
    return parser


def _register(sub, module: str, extra: str) -> None:
    """Subsystem CLI modules import their heavy dependencies inside their handlers, so that
    registering never fails; a handler whose extra is missing raises ModuleNotFoundError,
    which `main` turns into an install hint."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return  # that subsystem is not part of this build
        raise
    mod.register(sub)


def _report_command(args: argparse.Namespace) -> int:
    from maldoc.api import scan_file
    from maldoc.extractor import Options
    from maldoc.report_html import render

    try:
        verdict = scan_file(args.file, limits=limits_from_args(args), model=load_model(args.model),
                            options=Options(passwords=tuple(args.password or ()), keep_macros=True,
                                            yara_dir=yara_dir(args)))
    except OSError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.output)
    out.write_text(render(verdict), encoding="utf-8")
    print(f"maldoc: {verdict.label.value} ({verdict.score:.3f}); report written to {out}", file=sys.stderr)
    return EXIT_MALICIOUS if verdict.label.value == "malicious" else EXIT_CLEAN


def _demo_command(args: argparse.Namespace) -> int:
    from maldoc.demo import run_demo

    return run_demo(args.folder, load_model(args.model))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv, lazy=True)
    args = parser.parse_args(argv)
    if args.version:
        print(_version_text())
        return EXIT_CLEAN
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"maldoc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ModuleNotFoundError as exc:
        extra = next((e for m, e in SUBCOMMANDS.items() if args.func.__module__.startswith(m)), "maldoc[dev]")
        print(f"maldoc: this command needs {exc.name!r}: pip install '{extra}'", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("maldoc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
