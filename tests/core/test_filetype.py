"""Detection from content alone: each type, the evasions attackers use, and non-documents."""

from __future__ import annotations

import pytest

from maldoc.filetype import detect, is_executable, risky_name
from maldoc.types import FileType

from builders import FAKE_PE, make_zip

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
ONENOTE = bytes.fromhex("e4525c7b8cd8a74daeb15378d02996d3") + b"\x00" * 100
EMAIL = (b"Received: from mx.example.com\r\nFrom: a@example.com\r\nTo: b@example.org\r\n"
         b"Subject: invoice\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n")
MHTML = (b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"----=_NextPart_01\"\r\n\r\n"
         b"------=_NextPart_01\r\nContent-Location: file:///C:/x.htm\r\n\r\n<html></html>\r\n")
WORD_2003 = (b'<?xml version="1.0"?>\n<?mso-application progid="Word.Document"?>\n'
             b'<w:wordDocument xmlns:w="http://schemas.microsoft.com/office/word/2003/wordml"/>')
EXCEL_2003 = (b'<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>')

CASES = {
    "ole": (OLE, FileType.OLE),
    "ooxml": (make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}), FileType.OOXML),
    "odf": (make_zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"}),
            FileType.ODF),
    "zip": (make_zip({"a.txt": b"hi"}), FileType.ZIP),
    "word2003": (WORD_2003, FileType.OFFICE_XML),
    "excel2003": (EXCEL_2003, FileType.OFFICE_XML),
    "mhtml": (MHTML, FileType.MHTML),
    "rtf": (b"{\\rtf1\\ansi hello}", FileType.RTF),
    "rtf-variant": (b"{\\rtxa\\ansi hello}", FileType.RTF),  # Word needs only {\rt
    "rtf-bom-space": (b"\xef\xbb\xbf  {\\rt1 x}", FileType.RTF),
    "pdf": (b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF", FileType.PDF),
    "pdf-offset": (b"\x00" * 700 + b"%PDF-1.4\n%%EOF", FileType.PDF),
    "onenote": (ONENOTE, FileType.ONENOTE),
    "email": (EMAIL, FileType.EMAIL),
    "mbox-email": (b"From sender@example.com Mon Jan  1 00:00:00 2024\n" + EMAIL.replace(b"\r\n", b"\n"),
                   FileType.EMAIL),
    "html": (b"<!DOCTYPE html><html><body>hi</body></html>", FileType.HTML),
    "hta": (b"<hta:application id=x/><script>var a</script>", FileType.HTML),
    "png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, FileType("image_png")),  # pictures are read for QR codes
    "exe": (FAKE_PE, FileType.UNKNOWN),
    "text": (b"just some words, nothing more\n", FileType.UNKNOWN),
    "empty": (b"", FileType.UNKNOWN),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_detects_type_from_content(case):
    data, expected = CASES[case]
    assert detect(data) is expected


def test_pdf_header_past_acrobat_window_is_not_pdf():
    assert detect(b"\x00" * 2000 + b"%PDF-1.4\n%%EOF") is FileType.UNKNOWN


def test_truncated_ooxml_still_detected_from_local_headers():
    data = make_zip({"[Content_Types].xml": b"<Types/>" * 50, "word/document.xml": b"<w/>" * 500})
    assert detect(data[: len(data) // 2]) is FileType.OOXML


def test_executables_and_risky_names():
    assert is_executable(FAKE_PE)
    assert not is_executable(b"MZ" + b"\x00" * 100)
    assert risky_name("invoice.pdf.exe") and risky_name("RUN.VBS. ") and risky_name("a.hta")
    assert not risky_name("report.pdf") and not risky_name("exe")
