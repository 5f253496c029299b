"""MS-OVBA: the compressor against olevba's decompressor, and whole VBA projects olevba reads back."""

from __future__ import annotations

import random

import pytest

from maldoc.olecompat import olevba, quiet
from maldoc.samples import oledoc, ooxml, ovba


def _olevba_decompress(data: bytes) -> bytes:
    with quiet():
        return bytes(olevba.decompress_stream(bytearray(data)))


@pytest.mark.parametrize("size", [0, 1, 2, 3, 17, 100, 4095, 4096, 4097, 8192, 12345, 40000])
def test_text_round_trips_through_olevba(size):
    rng = random.Random(size)
    words = ["Dim", "x", "As", "String", "=", "Shell(", '"cmd"', ")", "\r\n", "CreateObject", "Chr(", "&"]
    data = " ".join(rng.choice(words) for _ in range(size)).encode()[:size]
    packed = ovba.compress(data)
    assert _olevba_decompress(packed) == data
    assert ovba.decompress(packed) == data
    if size > 200:
        assert len(packed) < len(data)  # it really compresses


@pytest.mark.parametrize("size", [4096, 8192, 9000])
def test_incompressible_data_uses_raw_chunks(size):
    data = random.Random(7).randbytes(size)
    packed = ovba.compress(data)
    assert _olevba_decompress(packed)[:size] == data
    assert size % 4096 or len(packed) == 1 + (size // 4096) * 4098  # whole chunks stored raw


def test_long_runs_use_overlapping_copies():
    data = b"A" * 5000 + b"B" * 3000
    packed = ovba.compress(data)
    assert _olevba_decompress(packed) == data
    assert len(packed) < 400  # copy tokens shrink to 16+3 bytes late in a chunk (spec), still ~25:1


def _modules() -> list[ovba.Module]:
    return [ovba.Module("ThisDocument", "Sub Document_Open()\n    Shell \"cmd /c rem x\"\nEnd Sub", document=True,
                        base="1Normal.ThisDocument"),
            ovba.Module("Module1", "Sub Helper()\n    MsgBox \"hi\"\nEnd Sub\n" + "' filler line\n" * 400)]


def _extract(name: str, data: bytes) -> dict[str, str]:
    with quiet():
        parser = olevba.VBA_Parser(name, data=data)
        try:
            assert parser.detect_vba_macros()
            return {stream.split("/")[-1]: code for _, stream, _, code in parser.extract_macros()}
        finally:
            parser.close()


def test_doc_vba_project_reads_back_to_the_exact_source():
    mods = _modules()
    got = _extract("x.doc", oledoc.doc("text", mods, oledoc.project_id(b"1" * 16)))
    assert got == {m.name: m.source() for m in mods}


def test_xls_vba_project_reads_back_to_the_exact_source():
    mods = [ovba.Module("ThisWorkbook", "Sub Workbook_Open()\nEnd Sub", document=True,
                        base="0{00020819-0000-0000-C000-000000000046}"), _modules()[1]]
    sheets = [("Sheet1", 0, False, [(0, 0, "x"), (0, 1, 1.5)])]
    got = _extract("x.xls", oledoc.xls(sheets, mods, oledoc.project_id(b"2" * 16)))
    assert got == {m.name: m.source() for m in mods}


def test_docm_and_xlsm_vba_projects_read_back():
    mods = _modules()
    project = oledoc.vba_project_bin(mods, oledoc.project_id(b"3" * 16))
    docm = ooxml.word(ooxml.WordDoc(paragraphs=["p"], vba_project=project))
    xlsm = ooxml.excel([ooxml.Sheet("Sheet1", [("A1", "x")])], vba_project=project)
    assert _extract("x.docm", docm) == {m.name: m.source() for m in mods}
    assert _extract("x.xlsm", xlsm) == {m.name: m.source() for m in mods}


def test_xls_macro_sheet_formulas_are_seen_by_olevba():
    sheets = [("Sheet1", 0, False, []), ("Macro1", oledoc.SHEET_VERY_HIDDEN, True,
                                         [(0, 0, "EXEC", ["cmd /c rem x"]), (1, 0, "HALT", [])])]
    with quiet():
        parser = olevba.VBA_Parser("x.xls", data=oledoc.xls(sheets, None, ""))
        assert parser.detect_xlm_macros()
        code = "".join(c for *_, c in parser.extract_macros())
        parser.close()
    assert 'EXEC("cmd /c rem x")' in code
    assert "very hidden" in code


def test_oleid_identifies_the_word_and_excel_containers():
    from maldoc.olecompat import oleid

    with quiet():
        word = {i.id: i.value for i in oleid.OleID(data=oledoc.doc("x", None, "")).check()}
        excel = {i.id: i.value for i in oleid.OleID(data=oledoc.xls([("S", 0, False, [])], None, "")).check()}
    assert word["ftype"].startswith("MS Word 97-2003") and not word["encrypted"]
    assert excel["ftype"].startswith("MS Excel 97-2003")
