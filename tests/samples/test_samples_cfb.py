"""The CFB writer: olefile reads back every stream and storage, strictly, in both allocation tables."""

from __future__ import annotations

import io

import olefile
import pytest

from maldoc.samples import cfb


def _open(data: bytes) -> olefile.OleFileIO:
    return olefile.OleFileIO(io.BytesIO(data), raise_defects=olefile.DEFECT_INCORRECT)


def test_streams_round_trip_through_mini_and_regular_sectors():
    tree = {
        "WordDocument": bytes(range(256)) * 40,  # 10240 bytes: regular FAT chain
        "1Table": b"t" * 4096,  # exactly the cutoff: regular sectors
        "small": b"s" * 4095,  # just below: mini stream
        "empty": b"",
        "Macros": {"VBA": {"dir": b"d" * 70, "Module1": b"m" * 130}, "PROJECT": b"ID=1"},
    }
    data = cfb.write(tree, root_clsid="{00020906-0000-0000-C000-000000000046}")
    ole = _open(data)
    assert ole.openstream("WordDocument").read() == tree["WordDocument"]
    assert ole.openstream("1Table").read() == tree["1Table"]
    assert ole.openstream("small").read() == tree["small"]
    assert ole.openstream("empty").read() == b""
    assert ole.openstream("Macros/VBA/Module1").read() == b"m" * 130
    assert ole.openstream("Macros/PROJECT").read() == b"ID=1"
    assert ole.get_type("Macros/VBA") == olefile.STGTY_STORAGE
    assert ole.root.clsid == "00020906-0000-0000-C000-000000000046"
    assert len(data) % 512 == 0


def test_many_entries_form_a_valid_sibling_tree():
    names = [f"S{i:03d}" for i in range(50)] + ["a", "BB", "ccc"]
    data = cfb.write({n: n.encode() * 3 for n in names})
    ole = _open(data)
    assert sorted("/".join(p) for p in ole.listdir()) == sorted(names)
    for n in names:
        assert ole.openstream(n).read() == n.encode() * 3


def test_large_file_needs_several_fat_sectors():
    big = bytes(i % 251 for i in range(300_000))  # > 128 sectors: two FAT sectors
    ole = _open(cfb.write({"Big": big, "x": b"1"}))
    assert ole.openstream("Big").read() == big


def test_sibling_order_follows_the_spec():
    # [MS-CFB] 2.6.4: shorter names sort first, then upper-case comparison.
    assert sorted(["bb", "A", "ab", "B"], key=cfb._sort_key) == ["A", "B", "ab", "bb"]


@pytest.mark.parametrize("name", ["", "a/b", "x" * 32])
def test_invalid_names_are_refused(name):
    with pytest.raises(ValueError):
        cfb.write({name: b""})


def test_clsid_is_little_endian_guid():
    assert cfb.clsid("{00020906-0000-0000-C000-000000000046}").hex() == "0609020000000000c000000000000046"
