"""The non-recursive MIME parser builds exactly the stdlib's compat32 tree, and survives what the stdlib does not."""

from __future__ import annotations

import random
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

import pytest

from maldoc.extractors import _mail_parse
from maldoc.filetype import detect
from maldoc.samples import generate_samples
from maldoc.types import FileType


def shape(msg: Message, depth: int = 0) -> list:
    """Everything the mail extractor can read from a tree: headers, defects, payloads, structure."""
    stack = [(msg, depth)]
    out = []
    while stack:
        m, d = stack.pop()
        out.append((d, m.get_content_type(), tuple(m.items()), [type(x).__name__ for x in m.defects],
                    m.get_unixfrom(), m.preamble, m.epilogue, m.get_default_type()))
        payload = m.get_payload()
        if isinstance(payload, list):
            stack.extend((p, d + 1) for p in reversed(payload))
        else:
            out.append(("payload", payload))
    return out


def same_as_stdlib(data: bytes) -> None:
    want = shape(BytesParser(policy=policy.compat32).parsebytes(data))
    got = shape(_mail_parse.parse(data).root)
    assert got == want


def _built() -> list[bytes]:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.org", "x"
    msg.set_content("hello\n")
    msg.add_alternative("<p>hello</p>", subtype="html")
    msg.add_attachment(b"\x00\x01" * 100, maintype="application", subtype="octet-stream", filename="a.bin")
    inner = EmailMessage()
    inner["Subject"] = "inner"
    inner.set_content("inner body")
    msg.add_attachment(inner)
    return [msg.as_bytes()]


# Hand-written edge cases of the stdlib's splitting rules.
EDGE = [
    b"Subject: x\n\nno headers end\n",
    b"From nobody Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody",
    b"Subject: x\nFrom someone\n\nbody\n",
    b"Content-Type: multipart/mixed\n\nno boundary parameter\n",
    b'Content-Type: multipart/mixed; boundary="b"\n\npreamble\n--b--\nafter close only\n',
    b'Content-Type: multipart/mixed; boundary="b"\n\nno boundary line at all\n',
    b'Content-Type: multipart/mixed; boundary="b"\n\n--b\n--b\n--b\nContent-Type: text/plain\n\nx\n--b--',
    b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nx\n--b--  \n\nepilogue\n',
    b'Content-Type: multipart/mixed; boundary="b"\nContent-Transfer-Encoding: base64\n\n--b\n\nx\n--b\n',
    b'Content-Type: multipart/digest; boundary="d"\n\n--d\n\nSubject: digest child\n\nbody\n--d--\n',
    b'Content-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\nAction: failed\nStatus: 5.0.0\n\n',
    b'Content-Type: multipart/mixed; boundary="o"\n\n--o\nContent-Type: multipart/alternative; boundary="i"\n\n'
    b"--i\n\ninner no close\n--o\nContent-Type: text/plain\n\nsibling\n--o--\n",
    b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n'
    b"Subject: nested\r\n\r\nbody\r\n--o--\r\n",
    b"Subject: x\nbroken header line without colon\nmore\n",
    b" continuation first\nSubject: x\n\nbody",
]


@pytest.mark.parametrize("data", EDGE + _built(), ids=range(len(EDGE) + 1))
def test_same_tree_as_the_stdlib(data):
    same_as_stdlib(data)


def test_same_tree_on_generated_mail():
    mails = [s.data for s in generate_samples(120, seed=7) if detect(s.data) in (FileType.EMAIL, FileType.MHTML)]
    assert mails
    for data in mails:
        same_as_stdlib(data)


def test_same_tree_on_random_boundary_soup():
    rng = random.Random(5)
    atoms = [b"--b\n", b"--b--\n", b"--c\n", b"--c--\n", b"\n", b"x\n", b"Content-Type: text/plain\n",
             b'Content-Type: multipart/mixed; boundary="c"\n', b"Content-Type: message/rfc822\n", b"Subject: s\n"]
    for _ in range(2000):
        body = b"".join(rng.choice(atoms) for _ in range(rng.randint(0, 14)))
        same_as_stdlib(b'Content-Type: multipart/mixed; boundary="b"\n\n' + body)


def test_deep_nesting_is_cut_not_fatal():
    depth = 1200
    data = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(depth))
    parsed = _mail_parse.parse(data + b"Content-Type: text/plain\n\nleaf\n")
    assert parsed.cut == 1 and parsed.deepest == _mail_parse.MAX_DEPTH
    with pytest.raises(RecursionError):  # what the stdlib does with it
        BytesParser(policy=policy.compat32).parsebytes(data)


def test_part_count_is_bounded():
    data = b'Content-Type: multipart/mixed; boundary="b"\n\n' + b"--b\n\nx\n" * 50 + b"--b--\n"
    parsed = _mail_parse.parse(data, max_parts=10)
    assert len(parsed.root.get_payload()) == 9 and parsed.dropped > 0
