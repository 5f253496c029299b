"""The scan walk: bytes in, an analysed tree (`Node`) out, every step inside `Limits`.

`analyze()` detects the type, runs the registered extractors, and recurses into the children
they emit, one level deeper each time. Extractor failures never escape: they become flags and
categorical error lines on the node (which extractor, what kind of failure; never the input's
bytes). `maldoc.engine.Engine` runs this in worker processes and scores the tree; every face
(CLI, service, milter, pipeline) comes through the engine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace

from maldoc.extractor import Context, Extractor, Options, TimeBudgetExceeded, registry
from maldoc.filetype import detect, is_executable, risky_name
from maldoc.limits import Budget, Limits
from maldoc.stats import entropy
from maldoc.types import ExtractorResult, FileType, Flag, Node, Sample, Sealing, sha256


def _run_extractors(sample: Sample, file_type: FileType, ctx: Context, out: ExtractorResult) -> None:
    """The unpacking steps first (their outcome goes on the sample), then the extractors in order."""
    reg = registry()
    sealed = Sealing.PLAIN
    for step in reg.unpackers_for(file_type):
        got = _guarded(step, lambda step=step: step.unpack(sample, ctx, out), ctx, out)
        if isinstance(got, Sealing) and got is not Sealing.PLAIN:
            sealed = got
    if sealed is not Sealing.PLAIN:
        sample = replace(sample, sealed=sealed)
    for ext in reg.for_type(file_type):
        if ctx.budget.expired():
            out.flag(Flag.TIMED_OUT, f"time budget spent before {ext.name} ran")
            break
        _guarded(ext, lambda ext=ext: ext.extract(sample, ctx, out), ctx, out)
    sample.parsed.clear()  # parsed containers serve this node's extractors only
    rejected = out.features.rejected
    out.features = dict(out.features)  # plain from here on (pickled to the parent, merged by the schema)
    for owner, key in rejected[:10]:  # a programming error: keep the scan going, make it loud in the result
        out.errors.append(f"{owner}: wrote undeclared feature {key}")


def _guarded(ext: Extractor, run: Callable[[], object], ctx: Context, out: ExtractorResult) -> object:
    """Run one extractor or unpacking step: its failures become flags, its features and rules are
    checked against what it declared."""
    reg = registry()
    before = len(out.findings)
    out.features.own(ext.name, reg.declared[ext.name])
    got = None
    try:
        got = run()
    except TimeBudgetExceeded:
        out.flag(Flag.TIMED_OUT, f"{ext.name}: time budget spent")
    except MemoryError:
        out.flag(Flag.LIMIT_EXCEEDED, f"{ext.name}: out of memory")
    except RecursionError:
        out.flag(Flag.PARSE_ERROR, f"{ext.name}: structure nested too deeply")
    except Exception as exc:  # the type only: library messages quote the input they choke on
        out.flag(Flag.PARSE_ERROR, f"{ext.name}: parser failed ({type(exc).__name__})")
    allowed, prefix = reg.allowed_rules[ext.name], reg.rule_prefixes[ext.name]

    def ok(f) -> bool:
        return f.rule_id in allowed or bool(prefix and f.rule_id.startswith(prefix))

    stray = [f for f in out.findings[before:] if not ok(f)]
    if stray:  # a programming error: keep the scan going, make it loud in the result
        out.findings[before:] = [f for f in out.findings[before:] if ok(f)]
        out.errors.append(f"{ext.name}: undeclared rules {sorted({f.rule_id for f in stray})}")
    out.features.own(None)
    return got


def _sniff(ctx: Context, out: ExtractorResult, parent: Sample, skipped: list[Sample], limit: str) -> None:
    """Items a limit keeps out of the walk are still looked at cheaply (name, magic bytes)."""
    for child in skipped:
        ctx.overflow(out, parent, child.name, child.data, limit)


def _finish_flags(out: ExtractorResult) -> None:
    """Findings for flags, so that the reasons and the rule score see them."""
    present = {f.rule_id for f in out.findings}
    for flag, rule in ((Flag.LIMIT_EXCEEDED, "CORE_LIMIT_EXCEEDED"), (Flag.TIMED_OUT, "CORE_TIMED_OUT"),
                       (Flag.PARSE_ERROR, "CORE_PARSE_FAILURE"), (Flag.ENCRYPTED, "CORE_ENCRYPTED_UNOPENED")):
        if flag in out.flags and rule not in present:
            out.add(rule, "; ".join(out.errors[-2:]))


def _analyze(sample: Sample, ctx: Context) -> Node:
    started = time.perf_counter()
    data = sample.data
    out = ExtractorResult()
    file_type = FileType.UNKNOWN
    if not data:
        out.flag(Flag.EMPTY)
    elif len(data) > ctx.limits.max_bytes:
        out.flag(Flag.LIMIT_EXCEEDED, f"{len(data)} bytes exceeds max_bytes={ctx.limits.max_bytes}")
    else:
        file_type = detect(data)
        out.features["_entropy"] = entropy(data)
        if is_executable(data):
            out.features["_executable"] = 1.0
            out.add("CORE_EXECUTABLE_PAYLOAD", f"{len(data)}-byte binary", sample.display_path)
        if sample.depth and risky_name(sample.name):
            out.add("CORE_SCRIPT_NAME", sample.name, sample.display_path)
        _run_extractors(sample, file_type, ctx, out)
        if file_type is FileType.UNKNOWN and not out.findings:
            out.flags.add(Flag.UNSUPPORTED)

    node = Node(name=sample.name, path=sample.path or (sample.name,), depth=sample.depth,
                sha256=sha256(data), size=len(data), file_type=file_type, result=out,
                data=data if sample.depth and ctx.options.keep_children else None)
    children = out.children
    limits = ctx.limits
    if len(children) > limits.max_children:
        out.flag(Flag.LIMIT_EXCEEDED, f"{len(children)} embedded items, kept max_children={limits.max_children}")
        _sniff(ctx, out, sample, children[limits.max_children:], "max_children")
        children = children[: limits.max_children]
    if children and sample.depth + 1 > limits.max_depth:
        out.flag(Flag.LIMIT_EXCEEDED, f"nesting deeper than max_depth={limits.max_depth} not followed")
        _sniff(ctx, out, sample, children, "max_depth")
        children = []
    child_ctx = ctx
    if out.passwords:
        extra = tuple(p for p in out.passwords if p not in ctx.passwords)
        child_ctx = Context(ctx.limits, ctx.budget, ctx.options, ctx.passwords + extra)
    for i, child in enumerate(children):
        if ctx.budget.expired():
            out.flag(Flag.TIMED_OUT, "time budget spent before every embedded item was scanned")
            break
        if ctx.budget.nodes >= limits.max_nodes:
            out.flag(Flag.LIMIT_EXCEEDED, f"more than max_nodes={limits.max_nodes} items in one scan")
            _sniff(ctx, out, sample, children[i:], "max_nodes")
            break
        ctx.budget.nodes += 1
        node.children.append(_analyze(child, child_ctx))
    _finish_flags(out)
    out.children = []  # the bytes live on in the child nodes' analysis only; free them
    node.elapsed_ms = (time.perf_counter() - started) * 1000
    return node


def analyze(data: bytes, name: str = "", *, limits: Limits | None = None,
            options: Options | None = None) -> Node:
    """Analyse one input file and everything inside it. Never raises for bad input."""
    limits = limits or Limits()
    options = options or Options()
    ctx = Context(limits=limits, budget=Budget(limits), options=options, passwords=options.passwords)
    return _analyze(Sample(data=data, name=name, path=(name,) if name else ()), ctx)


def failed_node(data: bytes, name: str, flag: Flag, message: str) -> Node:
    """The node for a file whose analysis could not complete at all (timeout, dead worker)."""
    out = ExtractorResult()
    out.flag(flag, message)
    if flag is Flag.TIMED_OUT:
        out.add("CORE_TIMED_OUT", message)
    node = Node(name=name, path=(name,) if name else (), depth=0, sha256=sha256(data), size=len(data),
                file_type=detect(data[:1 << 20]) if data else FileType.UNKNOWN, result=out)
    node.result.features["_entropy"] = entropy(data) if data else math.nan
    return node
