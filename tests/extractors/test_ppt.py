"""PowerPoint 97-2003: embedded OLE objects (ExOleObjStg, zlib) as children, run-program and macro actions."""

from __future__ import annotations

from maldoc.engine import analyze
from maldoc.extractor import Context
from maldoc.extractors.ppt import walk
from maldoc.limits import Budget, Limits
from maldoc.samples import oledoc, ovba
from maldoc.samples import powerpoint as pp
from maldoc.types import FileType, Flag

PID = "{11111111-2222-3333-4444-555555555555}"


def rules_of(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def test_compressed_and_plain_objects_become_children():
    doc = oledoc.doc("inner document", None, PID)
    node = analyze(pp.ppt(pp.ole_object(doc), pp.ole_object(doc, compressed=False)), "deck.ppt")
    assert node.file_type is FileType.OLE
    assert [c.name for c in node.children] == ["object-1.bin", "object-2.bin"]
    assert all(c.file_type is FileType.OLE for c in node.children)
    assert "PPT_EMBEDDED_OLE" in rules_of(node)
    f = node.result.features
    assert f["ppt.ole_objects"] == 2 and f["ppt.compressed_objects"] == 1


def test_run_program_on_mouse_over():
    node = analyze(pp.ppt(pp.action(pp.ACTION_PROGRAM, "cmd.exe /c echo inert", hover=True)), "deck.pps")
    assert {"PPT_ACTION_RUN_PROGRAM", "PPT_HOVER_ACTION"} <= rules_of(node)
    evidence = [f.evidence for f in node.result.findings if f.rule_id == "PPT_ACTION_RUN_PROGRAM"]
    assert evidence == ["cmd.exe /c echo inert"]


def test_macro_action_on_click_is_not_a_hover():
    node = analyze(pp.ppt(pp.action(pp.ACTION_MACRO, "Module1.Go")), "deck.ppt")
    assert "PPT_ACTION_MACRO" in rules_of(node) and "PPT_HOVER_ACTION" not in rules_of(node)


def test_vba_project_in_powerpoint97_is_read():
    project = oledoc.vba_project_bin([ovba.Module("Module1", 'Sub Auto_Open()\r\n  MsgBox "inert"\r\nEnd Sub\r\n')],
                                     PID)
    node = analyze(pp.ppt(pp.ole_object(project)), "deck.ppt")
    assert {"VBA_MACROS", "VBA_AUTOEXEC"} <= {f.rule_id for n in node.walk() for f in n.result.findings}
    assert node.result.features["ppt.vba_storages"] == 1


def test_plain_presentation_raises_nothing():
    node = analyze(pp.ppt(pp.action(3, ""), text="Agenda"), "deck.ppt")
    assert not rules_of(node) and node.result.features["ppt.actions"] == 1


def test_object_that_does_not_inflate_is_flagged():
    bad = pp.record(pp.RT_EX_OLE_OBJ_STG, (1000).to_bytes(4, "little") + b"not zlib", instance=1)
    node = analyze(pp.ppt(bad), "deck.ppt")
    assert Flag.PARSE_ERROR in node.result.flags and not node.children


def test_object_over_the_inflate_budget_is_not_inflated():
    big = pp.ole_object(b"\x00" * 4096)
    node = analyze(pp.ppt(big), "deck.ppt", limits=Limits(max_decompressed_bytes=1024))
    assert Flag.LIMIT_EXCEEDED in node.result.flags and not node.children


def test_record_walk_is_bounded_on_lying_lengths():
    ctx = Context(Limits(), Budget(Limits()))
    stream = pp.record(pp.RT_DOCUMENT, b"\x0f\x00\xe8\x03\xff\xff\xff\x7f" * 4, container=True)
    records = list(walk(stream, ctx))
    assert 1 <= len(records) <= 10
