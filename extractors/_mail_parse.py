"""A MIME parser that walks without recursion: the stdlib's tree, built with an explicit stack.

The stdlib `FeedParser` descends one nested generator per multipart or message/* level, so a
message with a 1,200-deep multipart branch (82 KB) hits Python's recursion limit and the whole
message is lost, the harmless-looking siblings and the `.exe` beside them alike. Here each
part's headers are still parsed by the stdlib (headers-only parsing is flat), so header values
and header defects are exactly the stdlib's; the body splitting that the stdlib does by
recursion is done with a work stack, reproducing its boundary rules line for line (preamble,
repeated boundary lines, the end-of-line owned by the next boundary, epilogue, multipart/digest
defaults, message/delivery-status blocks, and the multipart defects it records). Parts nested
deeper than `max_depth` are left empty (counted in `Parsed.cut`), so one hostile branch costs only
itself; the number of parts is bounded the same way.
"""

from __future__ import annotations

import base64
import binascii
import email.errors
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import Parser

MAX_DEPTH = 32  # MIME levels (multipart and message/*) followed; real mail rarely passes 6
MAX_PARTS = 20_000  # Message objects built per input, whatever the shape
MAX_CUT_LINES = 200_000  # raw lines of cut branches kept for sniffing

# The stdlib feedparser's own patterns (email/feedparser.py), so that splitting agrees with it.
_HEADER_RE = re.compile(r"^(From |[\041-\071\073-\176]*:|[\t ])")
_NLCRE = re.compile(r"\r\n|\r|\n")
_NLCRE_EOL = re.compile(r"(\r\n|\r|\n)\Z")
_NLCRE_BOL = re.compile(r"(\r\n|\r|\n)")


@dataclass(slots=True)
class Parsed:
    """The root message and what the walk left out."""

    root: Message
    cut: int = 0  # multipart or message/* parts past MAX_DEPTH, left empty
    cut_lines: list[str] = field(default_factory=list)  # their raw lines (bounded), for `sniff_cut`
    dropped: int = 0  # parts not built because MAX_PARTS was reached
    deepest: int = 0  # deepest MIME level seen (the root is level 0)


@dataclass(slots=True)
class _Job:
    msg: Message
    start: int  # first body line
    end: int  # one past the last body line
    depth: int
    prefix: str = ""  # a last header line "From ..." that the stdlib hands back to the body


@dataclass(slots=True)
class _Walker:
    lines: list[str]
    check: Callable[[], None]
    max_depth: int
    max_parts: int
    parsed: Parsed | None = None
    parts: int = 0
    jobs: list[_Job] = field(default_factory=list)
    strips: list[Message] = field(default_factory=list)  # parts whose trailing end-of-line the stdlib drops

    def message(self, start: int, end: int, depth: int, digest_parent: bool = False) -> Message:
        """Parse the headers of lines[start:end] into a Message and queue its body."""
        self.parts += 1
        lines = self.lines
        i = start
        while i < end and _HEADER_RE.match(lines[i]):
            i += 1
        head = lines[start:i]
        body = i
        missing_separator = False
        if i < end:
            if _NLCRE.match(lines[i]):
                body = i + 1
            else:
                missing_separator = True
        prefix = ""
        if len(head) > 1 and head[-1].startswith("From "):
            prefix = head.pop()
        msg = Parser(policy=policy.compat32).parsestr("".join(head), headersonly=True)
        msg.set_payload(None)
        if digest_parent:
            msg.set_default_type("message/rfc822")
        if missing_separator:
            msg.defects.append(email.errors.MissingHeaderBodySeparatorDefect())
        self.jobs.append(_Job(msg, body, end, depth, prefix))
        return msg

    def run(self) -> None:
        while self.jobs:
            job = self.jobs.pop()
            if self.parts % 64 == 0:
                self.check()
            self.body(job)
        for msg in self.strips:
            _strip_last(msg)

    def body(self, job: _Job) -> None:
        msg, start, end = job.msg, job.start, job.end
        assert self.parsed is not None
        self.parsed.deepest = max(self.parsed.deepest, job.depth)
        maintype = msg.get_content_maintype()
        nested = maintype in ("multipart", "message")
        if nested and job.depth >= self.max_depth:
            self.parsed.cut += 1
            room = MAX_CUT_LINES - len(self.parsed.cut_lines)
            self.parsed.cut_lines += self.lines[start:min(end, start + max(0, room))]
            msg.set_payload([])
            return
        if msg.get_content_type() == "message/delivery-status":
            self.delivery_status(job)
        elif maintype == "message":
            if self.room():
                msg.set_payload([self.message(start, end, job.depth + 1)])
            else:
                msg.set_payload([])
        elif maintype == "multipart":
            self.multipart(job)
        else:
            msg.set_payload(job.prefix + "".join(self.lines[start:end]))

    def room(self) -> bool:
        assert self.parsed is not None
        if self.parts >= self.max_parts:
            self.parsed.dropped += 1
            return False
        return True

    def delivery_status(self, job: _Job) -> None:
        """Blocks of headers separated by blank lines, each its own Message (as the stdlib does)."""
        blocks: list[Message] = []
        i = job.start
        while True:
            j = i
            while j < job.end and not _NLCRE.match(self.lines[j]):
                j += 1
            if not self.room():
                break
            block = self.message(i, j, job.depth + 1)
            blocks.append(block)
            if j >= job.end or j + 1 >= job.end:
                break
            i = j + 1
        job.msg.set_payload(blocks)
        # The blocks hold headers only: their bodies (up to the blank line) are parsed as leaves.

    def multipart(self, job: _Job) -> None:
        msg, lines = job.msg, self.lines
        boundary = msg.get_boundary()
        if boundary is None:
            msg.defects.append(email.errors.NoBoundaryInMultipartDefect())
            msg.set_payload(job.prefix + "".join(lines[job.start:job.end]))
            return
        if str(msg.get("content-transfer-encoding", "8bit")).lower() not in ("7bit", "8bit", "binary"):
            msg.defects.append(email.errors.InvalidMultipartContentTransferEncodingDefect())
        boundary_re = re.compile("(?P<sep>" + re.escape("--" + boundary) +
                                 r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$")
        digest = msg.get_content_type() == "multipart/digest"
        preamble: list[str] = [job.prefix] if job.prefix else []
        capturing = True
        close_seen = False
        linesep: str | None = None
        children: list[Message] = []
        i = job.start
        while i < job.end:
            line = lines[i]
            mo = boundary_re.match(line)
            if not mo:
                preamble.append(line)  # only reached while capturing: parts end at a boundary line
                i += 1
                continue
            if mo.group("end"):
                close_seen = True
                linesep = mo.group("linesep")
                i += 1
                break
            if capturing:
                if preamble:
                    preamble[-1] = _drop_eol(preamble[-1])
                    msg.preamble = "".join(preamble)
                capturing = False
            i += 1
            while i < job.end and boundary_re.match(lines[i]):  # repeated boundary lines are one
                i += 1
            j = i
            while j < job.end and not boundary_re.match(lines[j]):
                j += 1
            if not self.room():
                i = j
                continue
            child = self.message(i, j, job.depth + 1, digest)
            children.append(child)
            self.strips.append(child)
            i = j
        if capturing:
            msg.defects.append(email.errors.StartBoundaryNotFoundDefect())
            msg.set_payload("".join(preamble))
            msg.epilogue = ""
            return
        msg.set_payload(children)
        if not close_seen:
            msg.defects.append(email.errors.CloseBoundaryNotFoundDefect())
            return
        epilogue = ([""] if linesep else []) + lines[i:job.end]
        if epilogue:
            bol = _NLCRE_BOL.match(epilogue[0])
            if bol:
                epilogue[0] = epilogue[0][len(bol.group(0)):]
        msg.epilogue = "".join(epilogue)


def _drop_eol(text: str) -> str:
    m = _NLCRE_EOL.search(text)
    return text[: -len(m.group(0))] if m else text


def _strip_last(part: Message) -> None:
    """The stdlib gives the end-of-line before a boundary to the boundary: drop it from the part
    parsed last inside `part` (the part itself, or the innermost message of a message/* chain)."""
    last = part
    for _ in range(MAX_DEPTH + 2):
        payload = last.get_payload()
        if last.get_content_maintype() == "multipart":
            break
        if last.get_content_type() == "message/delivery-status" and isinstance(payload, list) and payload:
            last = payload[-1]
            break
        if last.get_content_maintype() == "message" and isinstance(payload, list) and payload:
            last = payload[0]
            continue
        break
    if last.get_content_maintype() == "multipart":
        epilogue = last.epilogue
        if epilogue == "":
            last.epilogue = None
        elif epilogue is not None:
            last.epilogue = _drop_eol(epilogue)
    else:
        payload = last.get_payload()
        if isinstance(payload, str):
            last.set_payload(_drop_eol(payload))


def parse(data: bytes, check: Callable[[], None] = lambda: None, *, max_depth: int = MAX_DEPTH,
          max_parts: int = MAX_PARTS) -> Parsed:
    """The message in `data` as the stdlib's compat32 tree, built without recursion."""
    text = data.decode("ascii", "surrogateescape")
    lines = io.StringIO(text, newline="").readlines()
    walker = _Walker(lines, check, max_depth, max_parts)
    walker.parsed = Parsed(root=Message())
    root = walker.message(0, len(lines), 0)
    walker.parsed.root = root
    walker.run()
    if root.get_content_maintype() == "multipart" and not root.is_multipart():
        root.defects.append(email.errors.MultipartInvariantViolationDefect())
    return walker.parsed


_RISKY_FILENAME = re.compile(r"""\bfilename\*?(?:\*\d+)?\*?\s*=\s*(?:"([^"\r\n]{1,255})"|([^\s;"]{1,255}))""", re.I)
_BASE64_LINE = re.compile(r"^[A-Za-z0-9+/]{16,76}={0,2}\r?\n?$")
SNIFF_LINES = 8  # base64 lines decoded at the start of each encoded body: enough for a file's magic


@dataclass(slots=True)
class Sniffed:
    risky_names: int = 0
    executables: int = 0


def sniff_cut(lines: list[str], risky_name: Callable[[str], bool], kind: Callable[[bytes], str],
              risky_kinds: frozenset[str]) -> Sniffed:
    """Attachments in branches the parser did not build, judged from their raw lines alone:
    file names that run on a double click, and base64 bodies whose first bytes are an executable."""
    found = Sniffed()
    previous_blank = True
    i = 0
    while i < len(lines):
        line = lines[i]
        if "filename" in line.lower():
            for m in _RISKY_FILENAME.finditer(line):
                if risky_name(m.group(1) or m.group(2) or ""):
                    found.risky_names += 1
        if previous_blank and _BASE64_LINE.match(line):
            block = lines[i:i + SNIFF_LINES]
            text = "".join(b.strip() for b in block if _BASE64_LINE.match(b))
            try:
                head = base64.b64decode(text[: len(text) - len(text) % 4])
            except (ValueError, binascii.Error):
                head = b""
            if head and kind(head) in risky_kinds:
                found.executables += 1
            while i < len(lines) and _BASE64_LINE.match(lines[i]):  # skip the rest of this body
                i += 1
            previous_blank = False
            continue
        previous_blank = not line.strip()
        i += 1
    return found
