"""A scan task that builds a very wide verdict tree on request, for the service's hostile tests.

Module-level so that forkserver workers can import it (pytest puts tests/support on sys.path).
An input starting with b"WIDE <n>" becomes a container of n members, each with ten findings at
the evidence cap: about 4 KB of verdict JSON per member, the shape a ZIP of thousands of
members gives, without spending a minute parsing one. Anything else scans normally.
"""

from __future__ import annotations

from maldoc.pool import analyze_task
from maldoc.types import ExtractorResult, FileType, Node, sha256


def wide(data, name, limits, options):
    if not data.startswith(b"WIDE"):
        return analyze_task(data, name, limits, options)
    count = int(data[4:].split()[0])
    root = Node(name=name, path=(name,), depth=0, sha256=sha256(data), size=len(data), file_type=FileType.ZIP,
                result=ExtractorResult())
    for i in range(count):
        out = ExtractorResult()
        for j in range(10):
            out.add("CORE_SCRIPT_NAME", f"member-{i}-{j}-" + "e" * 200, f"{name} > member-{i}.js")
        member = f"member-{i}.js"
        root.children.append(Node(name=member, path=(name, member), depth=1, sha256=f"{i:064x}", size=1,
                                  file_type=FileType.UNKNOWN, result=out))
    return root
