"""PowerPoint OOXML: slide actions (ppaction://program, macros, mouse-over) and hyperlinks to programs."""

from __future__ import annotations

from maldoc.engine import analyze
from maldoc.samples import oledoc, ovba
from maldoc.samples import powerpoint as pp

CMD = "file:///C:/Windows/System32/cmd.exe"


def rules_of(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def test_mouse_over_program_action_in_a_slide_show():
    node = analyze(pp.pptx("ppsx", [[("Loading...", "hlinkMouseOver", "ppaction://program", CMD)]]), "deck.ppsx")
    assert {"PPT_ACTION_RUN_PROGRAM", "PPT_HOVER_ACTION"} <= rules_of(node)
    f = node.result.features
    assert f["pptx.slideshow"] == 1 and f["pptx.program_actions"] == 1 and f["pptx.hover_actions"] == 1
    assert f["pptx.external_slide_rels"] == 1


def test_click_hyperlink_to_a_script():
    node = analyze(pp.pptx("pptx", [[("Open", "hlinkClick", "", "http://example.invalid/a.hta")]]), "deck.pptx")
    assert "PPT_LINK_TO_PROGRAM" in rules_of(node) and "PPT_HOVER_ACTION" not in rules_of(node)


def test_macro_action_and_macro_project():
    project = oledoc.vba_project_bin([ovba.Module("Module1", 'Sub Go()\r\n  MsgBox "inert"\r\nEnd Sub\r\n')],
                                     "{11111111-2222-3333-4444-555555555555}")
    data = pp.pptx("pptm", [[("Go", "hlinkClick", "ppaction://macro?name=Go", "")]], vba_project=project)
    node = analyze(data, "deck.pptm")
    assert {"PPT_ACTION_MACRO", "VBA_MACROS"} <= rules_of(node)
    assert node.result.features["pptx.macro_enabled"] == 1


def test_ordinary_links_and_slide_jumps_raise_nothing():
    data = pp.pptx("pptx", [[("Site", "hlinkClick", "", "https://www.example.com/page"),
                             ("Next", "hlinkClick", "ppaction://hlinkshowjump?jump=nextslide", "")]])
    node = analyze(data, "deck.pptx")
    assert not {r for r in rules_of(node) if r.startswith("PPT_")}
    assert node.result.features["pptx.actions"] == 2


def test_word_documents_are_left_alone():
    from maldoc.samples import ooxml

    node = analyze(ooxml.word(ooxml.WordDoc(paragraphs=["hello"])), "a.docx")
    assert "pptx.slides" not in node.result.features
