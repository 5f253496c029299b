"""The generator: determinism, balance, coverage, inertness, the manifest and the CLI command."""

from __future__ import annotations

import argparse
import csv
import email
import hashlib
import io
import random
import re
import zipfile

import pytest

from maldoc.samples import crypt, text
from maldoc.samples.cli import register
from maldoc.samples.generate import COLUMNS, generate, generate_samples, schedule, templates
from maldoc.samples.registry import TEMPLATES
from maldoc.training.corpus import Corpus

COVER = 2 * max(len(templates("malicious")), len(templates("benign")))  # every family at least twice


@pytest.fixture(scope="module")
def samples():
    return list(generate_samples(COVER, seed=11))


def test_same_seed_gives_byte_identical_files(samples):
    again = list(generate_samples(COVER, seed=11))
    assert [(s.name, hashlib.sha256(s.data).digest()) for s in samples] == \
           [(s.name, hashlib.sha256(s.data).digest()) for s in again]


def test_other_seed_gives_other_files(samples):
    other = list(generate_samples(COVER, seed=12))
    assert sum(a.data != b.data for a, b in zip(samples, other, strict=True)) > COVER * 0.9


def test_sample_i_does_not_depend_on_count(samples):
    assert [s.data for s in generate_samples(7, seed=11)] == [s.data for s in samples[:7]]


def test_labels_balanced_and_every_family_present(samples):
    labels = [s.label for s in samples]
    assert abs(labels.count("malicious") - labels.count("benign")) <= 1
    assert {s.family for s in samples} == set(TEMPLATES)
    assert len({s.name for s in samples}) == len(samples)
    assert all(s.format == TEMPLATES[s.family].format and s.name.endswith("." + s.format) for s in samples)


def test_schedule_cycles_before_repeating():
    fams = [t.family for t in schedule(2 * len(templates("malicious")), 5)[::2]]
    assert sorted(fams) == sorted(t.family for t in templates("malicious"))


def test_every_format_is_generated(samples):
    assert {s.format for s in samples} >= {"doc", "xls", "docm", "xlsm", "docx", "xlsx", "rtf", "pdf", "html", "one",
                                          "eml"}


def _texts(data: bytes) -> list[bytes]:
    """The bytes and, for ZIP-based files, every member (URLs hide in deflated parts)."""
    out = [data]
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            out += [blob for i in zf.infolist() if not i.flag_bits & 1 for blob in _texts(zf.read(i))]
    elif data.startswith(b"From:"):  # e-mail: quoted-printable breaks URLs; decode every part
        out = [data.split(b"\r\n\r\n", 1)[0]]
        for part in email.message_from_bytes(data).walk():
            if not part.is_multipart():
                out += _texts(part.get_payload(decode=True))
    return out


def test_every_plain_text_url_is_reserved(samples):
    for s in samples:
        for blob in _texts(s.data):
            # A lone 1-3 digit "host" is a dotted address cut by a compression token (OVBA-compressed
            # macro source keeps literal runs of 8 bytes): the rest of it is checked where it is whole.
            hosts = {h for h in text.foreign_hosts(blob) if not re.fullmatch(r"\d{1,3}", h)}
            assert not hosts, (s.name, hosts)


def test_inert_url_helper_only_makes_reserved_hosts():
    rng = random.Random(3)
    for _ in range(500):
        url = text.inert_url(rng, bad=rng.random() < 0.5)
        assert text.is_inert_host(url.split("/")[2]), url
    assert not text.is_inert_host("example.co")
    assert not text.is_inert_host("8.8.8.8")
    assert text.is_inert_host("198.51.100.7") and text.is_inert_host("a.b.invalid")


def test_encrypted_files_are_deterministic_and_decrypt():
    data = b"PK" + bytes(range(256)) * 20  # msoffcrypto only needs bytes to encrypt
    a = crypt.encrypt_ooxml(data, "pw", random.Random(1), spin_count=1000)
    b = crypt.encrypt_ooxml(data, "pw", random.Random(1), spin_count=1000)
    c = crypt.encrypt_ooxml(data, "pw", random.Random(2), spin_count=1000)
    assert a == b != c
    z1 = crypt.aes_zip([("a.txt", b"hello" * 50)], "pw", random.Random(1))
    assert z1 == crypt.aes_zip([("a.txt", b"hello" * 50)], "pw", random.Random(1))
    import pyzipper

    with pyzipper.AESZipFile(io.BytesIO(z1)) as zf:
        assert zf.read("a.txt", pwd=b"pw") == b"hello" * 50
        assert zf.getinfo("a.txt").flag_bits & 1


def test_generate_writes_a_manifest_the_corpus_loader_reads(tmp_path):
    written = generate(tmp_path, 12, seed=4)
    with (tmp_path / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS
    with Corpus(tmp_path) as corpus:
        items = list(corpus.items())
    assert [i.path.name for i in items] == [s.name for s in written]
    for item, s in zip(items, written, strict=True):
        assert item.label == s.label and item.read() == s.data
        assert item.sha256 == hashlib.sha256(s.data).hexdigest()
        assert item.get("family_or_note") == s.family and item.get("format") == s.format
    generate(tmp_path, 3, seed=4)  # regenerating smaller leaves no stray files
    assert len(list(tmp_path.iterdir())) == 4


def test_cli_registers_samples_generate(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="maldoc")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["samples", "generate", "--out", str(tmp_path), "--count", "4", "--seed", "2"])
    assert args.func(args) == 0
    assert "wrote 4 samples (2 malicious, 2 benign" in capsys.readouterr().out
    assert len(list(tmp_path.glob("*"))) == 5
    args = parser.parse_args(["samples", "generate", "--out", str(tmp_path), "--count", "0"])
    assert args.func(args) == 2


def test_package_exports_the_in_memory_generator():
    from maldoc.samples import GeneratedSample
    from maldoc.samples import generate_samples as exported

    first = next(exported(1, seed=3))
    assert isinstance(first, GeneratedSample) and first.label == "malicious"


def test_committed_demo_set_is_what_the_documented_command_writes():
    """samples/README.md: `maldoc samples generate --out samples/demo --count 48 --seed 1`."""
    from pathlib import Path

    demo = Path(__file__).resolve().parents[2] / "samples" / "demo"
    with Corpus(demo) as corpus:
        items = list(corpus.items())
    expected = list(generate_samples(48, seed=1))
    assert [(i.path.name, i.label, i.read()) for i in items] == [(s.name, s.label, s.data) for s in expected]
    assert sum(i.path.stat().st_size for i in items) < 5 * 1024 * 1024
    assert {i.label for i in items} == {"malicious", "benign"}
