"""Word 6.0/95 documents: the legacy FIB found, WordBasic macro tables and auto macros flagged."""

from __future__ import annotations

from maldoc.engine import analyze
from maldoc.samples import oledoc, word6


def rules_of(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def test_macro_template_named_doc():
    node = analyze(word6.document("Hello", ["AutoOpen", "FileSaveAs", "PayLoad"], template=True), "letter.doc")
    assert {"WORD6_LEGACY_DOCUMENT", "WORD6_MACROS", "WORD6_AUTO_MACRO", "WORD6_TEMPLATE_AS_DOCUMENT"} <= rules_of(node)
    f = node.result.features
    assert f["word6.legacy"] == 1 and f["word6.nfib"] == 101 and f["word6.template"] == 1
    assert f["word6.macro_names"] == 3 and f["word6.auto_macros"] == 1 and f["word6.command_overrides"] == 1
    assert f.get("vba.modules", 0) == 0  # no VBA parser sees these


def test_word95_without_macros_is_only_legacy():
    node = analyze(word6.document("Hello", nfib=104), "letter.doc")
    assert rules_of(node) == {"WORD6_LEGACY_DOCUMENT"}
    assert node.result.features["word6.macro_names"] == 0


def test_word97_documents_are_not_legacy():
    node = analyze(oledoc.doc("Hello", None, "{11111111-2222-3333-4444-555555555555}"), "letter.doc")
    assert "word6.legacy" not in node.result.features


def test_macro_table_past_the_stream_is_flagged():
    data = bytearray(word6.document("Hello", ["AutoOpen"]))
    import olefile

    from maldoc.samples import cfb

    stream = bytearray(olefile.OleFileIO(bytes(data)).openstream("WordDocument").read())
    stream[0x11C:0x120] = (10 ** 6).to_bytes(4, "little")
    node = analyze(cfb.write({"WordDocument": bytes(stream)}), "x.doc")
    assert "WORD6_MACROS" in rules_of(node) and node.result.flags
