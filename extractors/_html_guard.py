"""Keep `html.parser` linear: defuse markup constructs that never end before the parser sees them.

The stdlib parser is linear on real pages, but a construct that never terminates (`<!--` with no
`-->`, `</` or `<?` with no `>`, a start tag whose attributes run to the end of the page) makes it
rescan the rest of the input: once per fed chunk while it waits, and once per following `<` when
it gives up at the end. 2 MB of such openings took 11 s; 128 KiB of `<a ` takes over a minute.

`defuse()` finds, in one pass with sorted terminator positions, every construct whose terminator
is missing or more than `FAR` characters away. A page may legitimately hold a few (a tag with a
megabyte-long `data:` URI), so they are only rewritten when there are more than `MAX_FAR` of them,
and then their `<` becomes `&lt;`: the parser reads them as the text it would have ended up
reporting anyway, in one pass. Script and style contents are skipped, as the parser skips them.
"""

from __future__ import annotations

import bisect
import re

FAR = 64 * 1024  # characters to a construct's end beyond which it counts as unterminated
MAX_FAR = 16  # unterminated constructs tolerated as they are; each costs html.parser one pass

_OPEN = re.compile(r"<(?:!--|!\[|[!?/]|[a-zA-Z])")
_CDATA_OPEN = re.compile(r"<(script|style)(?=[\s/>])[^>]*>", re.I)
_COMMENT_CLOSE = re.compile(r"--\s*>")
_SECTION_CLOSE = re.compile(r"\]\s*>")


def _positions(pattern: re.Pattern[str] | str, text: str) -> list[int]:
    if isinstance(pattern, str):
        out, i = [], text.find(pattern)
        while i != -1:
            out.append(i)
            i = text.find(pattern, i + 1)
        return out
    return [m.start() for m in pattern.finditer(text)]


def _cdata_ranges(text: str) -> list[tuple[int, int]]:
    """(start, end) of script and style contents, where the parser looks for the closing tag only."""
    ranges: list[tuple[int, int]] = []
    pos = 0
    while True:
        m = _CDATA_OPEN.search(text, pos)
        if m is None:
            return ranges
        close = re.compile(rf"</\s*{m.group(1)}\s*>", re.I).search(text, m.end())
        end = close.start() if close else len(text)
        ranges.append((m.end(), end))
        if close is None:
            return ranges
        pos = close.end()


def _next(sorted_positions: list[int], after: int) -> int:
    k = bisect.bisect_left(sorted_positions, after)
    return sorted_positions[k] if k < len(sorted_positions) else -1


def defuse(text: str) -> tuple[str, int]:
    """`text` with the `<` of far-unterminated constructs escaped (when there are many); and how many."""
    if text.count("<") <= MAX_FAR:
        return text, 0
    gts = _positions(">", text)
    comment_ends = _positions(_COMMENT_CLOSE, text)
    section_ends = _positions(_SECTION_CLOSE, text)
    cdata = _cdata_ranges(text)
    starts = [s for s, _ in cdata]
    far: list[int] = []
    for m in _OPEN.finditer(text):
        i = m.start()
        k = bisect.bisect_right(starts, i) - 1
        if k >= 0 and cdata[k][0] <= i < cdata[k][1]:
            continue  # inside a script or style: not markup to the parser
        opener = m.group(0)
        ends = comment_ends if opener == "<!--" else section_ends if opener == "<![" else gts
        end = _next(ends, i + len(opener))
        if end == -1 or end - i > FAR:
            far.append(i)
    if len(far) <= MAX_FAR:
        return text, 0
    parts: list[str] = []
    pos = 0
    for i in far:
        parts += [text[pos:i], "&lt;"]
        pos = i + 1
    parts.append(text[pos:])
    return "".join(parts), len(far)
