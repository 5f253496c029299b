"""Verdicts to bytes and back, one node at a time.

A verdict can be tens of megabytes of JSON (a ZIP of thousands of members). One pydantic call
over all of it holds the GIL for seconds, so running it in a thread does not help: the event
loop cannot run until the call returns. These functions make one short call per node instead,
so a thread doing them lets the loop (and `/healthz`) run in between.

The cache form is one line per node, depth first: `<number of children> <node JSON without
children>`. Pydantic's JSON never contains a raw newline, so lines split unambiguously.
"""

from __future__ import annotations

from maldoc.verdict import Verdict

_NO_CHILDREN = {"children"}


def _head(node: Verdict) -> str:
    return node.model_dump_json(exclude=_NO_CHILDREN)


def pack(verdict: Verdict) -> bytes:
    lines = [f"{len(node.children)} {_head(node)}" for node in verdict.walk()]
    return "\n".join(lines).encode()


def _renamed(text: str, old: str, new: str) -> str:
    """`text` with a leading `old` (the first sender's name, alone or before ' > ' or ':') as `new`."""
    if old and text.startswith(old) and (len(text) == len(old) or text[len(old)] in " :"):
        return new + text[len(old):]
    return text


def _rename_texts(node: Verdict, old: str, new: str) -> None:
    """Where a node names the file it was first sent as: findings' and reasons' locations, errors."""
    for item in (*node.findings, *node.reasons):
        item.location = _renamed(item.location, old, new)
    node.errors = [_renamed(e, old, new) for e in node.errors]


def unpack(blob: bytes, name: str | None = None) -> Verdict:
    """The verdict `pack` made; with `name`, shown under that name (the path of every node, and the
    locations and errors that name the file), so a cached verdict never shows the name another
    client sent the same bytes under. Raises ValueError (pydantic's ValidationError is one) on
    anything else."""
    root: Verdict | None = None
    stack: list[list] = []  # [node, children still to attach]
    old = new = ""
    for line in blob.split(b"\n"):
        count, _, doc = line.partition(b" ")
        node = Verdict.model_validate_json(doc)
        wanted = int(count)
        if wanted < 0:
            raise ValueError("negative child count")
        if root is None:
            root = node
            old = node.path
            if name is not None and name != node.name:
                new = name
                node.path, node.name = name, name
                _rename_texts(node, old, new)
        else:
            if not stack:
                raise ValueError("more nodes than the tree holds")
            parent = stack[-1]
            parent[0].children.append(node)
            parent[1] -= 1
            if parent[1] == 0:
                stack.pop()
            if new:
                prefix = old + " > "
                rest = node.path[len(prefix):] if old and node.path.startswith(prefix) else node.path
                node.path = f"{new} > {rest}"
                _rename_texts(node, old, new)
        if wanted:
            stack.append([node, wanted])
    if root is None or stack:
        raise ValueError("truncated verdict")
    return root


def dump_json(verdict: Verdict) -> str:
    """The same JSON as `verdict.model_dump_json()` (keys of a node in another order: children last)."""
    parts: list[str] = []
    todo: list[Verdict | str] = [verdict]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        head = _head(item)
        if not item.children:
            parts.append(head[:-1] + ',"children":[]}')
            continue
        parts.append(head[:-1] + ',"children":[')
        todo.append("]}")
        for i, child in enumerate(reversed(item.children)):
            todo.append(child)
            if i < len(item.children) - 1:
                todo.append(",")
    return "".join(parts)


def dump_response(response, verdict: Verdict | None) -> str:
    """A response model's JSON with `verdict` spliced in node by node (the rest is small)."""
    envelope = response.model_dump_json(exclude={"verdict"})
    body = dump_json(verdict) if verdict is not None else "null"
    return envelope[:-1] + ("," if envelope != "{}" else "") + '"verdict":' + body + "}"
