"""RTF object scanner: rtfobj's rules for finding `\\objdata`, in one linear pass of compiled regexes.

rtfobj's `RtfObjParser` walks every token of the document in Python (a regex match, a slice
and a call per control word, brace and text run), which is most of the cost of an RTF scan,
although only the `\\objdata` destinations matter. This scanner keeps its state machine exactly
(group levels, the destination stack and its quirks, `\\bin` skipping, `\\'hh` consuming two
characters, Word's odd-hex-digit bug, the 254-byte window a control word is read in, and the
same exceptions for input rtfobj cannot tokenize) but lets one regex consume, in C, everything
outside objects that cannot change that state: text, control symbols, control words that open
no destination, and brace groups holding nothing else. Each object found is decoded by rtfobj
itself (`RtfObjParser.close_destination`: hex to bytes, OLE 1.0 header, Package), so the objects
are the ones rtfobj would give; tests compare the two parsers on quirky and corpus input.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from maldoc.olecompat import rtfobj

OBJDATA = b"objdata"
WINDOW = 254  # rtfobj reads a control word in data[i:i+254] + b" " (Word's 253-character limit)


def _trie(words: frozenset[bytes]) -> bytes:
    """An alternation of `words` factored by prefix, so that the regex engine tries few branches."""
    tree: dict = {}
    for word in words:
        node = tree
        for c in word:
            node = node.setdefault(c, {})
        node[None] = {}

    def emit(node: dict) -> bytes:
        alts = [re.escape(bytes([c])) + emit(child) for c, child in sorted(
            ((k, v) for k, v in node.items() if k is not None), key=lambda kv: kv[0])]
        if not alts:
            return b""
        if len(alts) == 1 and None not in node:
            return alts[0]
        return b"(?:" + b"|".join(alts) + b")" + (b"?" if None in node else b"")

    return emit(tree)


_DEST = b"(?:" + _trie(rtfobj.DESTINATION_CONTROL_WORDS) + b")"
_PARAM = rb"(?:-?\d+|(?![a-zA-Z0-9]))"  # rtfobj: a signed number, or no letter/digit next
_SYMBOLS = (rb"|\\'[\s\S]{0,2}"  # \'hh: the two characters after it are consumed, whatever they are
            rb"|\\[^a-zA-Z']")  # other control symbols
# Tokens that cannot change the parser's state outside an objdata destination: text, symbols,
# control words that open no destination.
_INERT = rb"[^{}\\]++|\\(?!(?:" + _DEST + rb"|bin)(?![a-zA-Z]))[a-zA-Z]{1,250}+(?![a-zA-Z])" + _SYMBOLS
# Inside a brace group, destinations other than objdata are inert too: every destination opened
# in the group is closed by its `}` (which is above any destination open outside it), so a
# balanced group without objdata, \bin or untokenizable input leaves the state as it found it.
_INERT_IN_GROUP = rb"[^{}\\]++|\\(?!(?:objdata|bin)(?![a-zA-Z]))[a-zA-Z]{1,250}+(?![a-zA-Z])" + _SYMBOLS
_GROUP = rb"\{(?:" + _INERT_IN_GROUP + rb")*+\}"
for _ in range(7):  # groups nested up to 8 deep are consumed whole; deeper ones brace by brace
    _GROUP = rb"\{(?:" + _INERT_IN_GROUP + rb"|" + _GROUP + rb")*+\}"
_SKIP = rb"(?:" + _INERT + rb"|" + _GROUP + rb")*+"
_EVENT = (rb"(?P<o>\{+)|(?P<c>\}+)|(?P<D>\\(?P<d>" + _DEST + rb")" + _PARAM + rb")"
          rb"|(?P<B>\\bin(?:(?P<bp>-?\d+)|(?![a-zA-Z0-9])))|(?P<E>\\)")
OUTSIDE = re.compile(_SKIP + rb"(?:" + _EVENT + rb")?")
# Inside objdata every token counts: text is object data.
# A run of `text\\'hh` is taken at once: Word's odd-digit bug applies to each text piece alone.
INSIDE = re.compile(
    rb"(?P<Q>(?:[^{}\\]*+\\'[\s\S]{0,2})++)|(?P<t>[^{}\\]+)|" + _EVENT[:-len(rb"|(?P<E>\\)")]
    + rb"|(?P<w>\\[a-zA-Z]{1,250}+(?![a-zA-Z])(?:-?\d+)?)|(?P<s>\\[^a-zA-Z'])|(?P<E>\\)")
_QUOTE_PIECE = re.compile(rb"([^{}\\]*+)\\'[\s\S]{0,2}")
_NONHEX = re.compile(rb"[^a-fA-F0-9]")
_WORD_IN_WINDOW = rtfobj.re_control_word


class _Dest:
    __slots__ = ("cword", "end", "group_level", "parts", "pending", "start")

    def __init__(self, cword: bytes | None, level: int, start: int = 0) -> None:
        self.cword = cword
        self.group_level = level
        self.start = start
        self.end = start
        self.parts: list[bytes] = []  # object data cleaned by the odd-digit bug: hex digits, even counts
        self.pending: list[bytes] = []  # object data read since, as it came


class ObjectScanner:
    """`scan()` fills `objects` (rtfobj `RtfObject`s, the first `max_objects` decoded) and `total`.

    `check` is called every few thousand events (the caller's time budget). Raises what rtfobj's
    parser raises on the same input (RuntimeError for a backslash it cannot tokenize, TypeError for
    `\\bin` at the end of the data); objects closed before that stay in `objects`.
    """

    def __init__(self, data: bytes, max_objects: int = 10_000, check: Callable[[], None] | None = None) -> None:
        self.data = data
        self.check = check or (lambda: None)
        self.max_objects = max_objects
        self.objects: list = []
        self.total = 0
        self._decoder = rtfobj.RtfObjParser(b"")
        self._decoder.objects = self.objects

    def scan(self) -> None:
        data = self.data
        size = len(data)
        level = 0
        doc = _Dest(None, 0)
        stack = [doc]
        cur = doc
        pos = 0

        def close(at: int) -> None:
            nonlocal cur
            cur.end = at
            if cur.cword == OBJDATA:
                self._object(cur)
            if stack:
                stack.pop()
            if stack:
                cur = stack[-1]

        events = 0
        while pos < size:
            events += 1
            if not events & 0xFFF:
                self.check()
            inside = cur.cword == OBJDATA
            m = (INSIDE if inside else OUTSIDE).match(data, pos)
            kind = m.lastgroup
            if kind is None:  # outside: inert tokens up to the end of the data
                if m.end() == pos:
                    raise RuntimeError(f"Should not have reached this point - index={pos:X}h")
                pos = m.end()
                continue
            start = m.start(kind)
            pos = m.end()
            if kind == "t":
                cur.pending.append(m.group())
            elif kind == "Q":
                self._odd_digit_quirk(cur, _QUOTE_PIECE.findall(data, start, pos))
            elif kind == "o":
                level += pos - start
            elif kind == "c":
                for at in range(start, pos):
                    if level == cur.group_level:
                        close(at)
                    level -= 1
            elif kind in ("D", "B", "w"):
                param = m.group("bp") if kind == "B" else None
                if pos - start >= WINDOW - 1:  # long enough for rtfobj's window to cut its number
                    word = _WORD_IN_WINDOW.match(data[start:start + WINDOW] + b" ")
                    pos = start + len(word.group())
                    param = word.group(2)
                if kind == "D":
                    if cur.group_level == level:
                        close(start)
                    cur = _Dest(m.group("d"), level, pos)
                    stack.append(cur)
                elif kind == "B":
                    pos = self._bin(cur, param, pos)
            elif kind == "E":
                raise RuntimeError(f"Should not have reached this point - index={start:X}h")
            # "s": a control symbol, and "w" inside objdata: nothing to do
        while level > 0:  # rtfobj's end of file: close every open group
            if level == cur.group_level:
                close(size)
            level -= 1

    def _bin(self, cur: _Dest, param: bytes | None, pos: int) -> int:
        """`\\bin N`: N raw bytes follow (after one optional space); inside objdata they are data."""
        length = max(int(param), 0) if param else 0
        if pos >= len(self.data):
            raise TypeError("ord() expected a character, but string of length 0 found")  # as rtfobj
        if self.data[pos] == 0x20:
            pos += 1
        if cur.cword == OBJDATA:
            cur.pending.append(self.data[pos:pos + length].hex().encode())
        return pos + length

    @staticmethod
    def _odd_digit_quirk(cur: _Dest, pieces: list[bytes]) -> None:
        """Word drops the last hex digit before `\\'hh` when an odd number of digits were read
        (rtfobj: the data so far is cut to its hex digits, then to an even count)."""
        pieces[0] = b"".join(cur.pending) + pieces[0]
        cur.pending.clear()
        for piece in pieces:
            digits = _NONHEX.sub(b"", piece)
            cur.parts.append(digits[:-1] if len(digits) & 1 else digits)

    def _object(self, dest: _Dest) -> None:
        self.total += 1
        if self.total > self.max_objects:
            return
        found = rtfobj.Destination(OBJDATA)
        found.data, found.start, found.end = b"".join(dest.parts + dest.pending), dest.start, dest.end
        self._decoder.index = dest.end
        self._decoder.close_destination(found)  # rtfobj's decoder appends to self.objects
