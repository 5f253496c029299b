"""SVG extractor: detection against HTML, the HTML analysis under svg.*, SVG-only constructs, inline SVGs."""

from __future__ import annotations

from maldoc.engine import analyze
from maldoc.filetype import detect
from maldoc.types import FileType

SVG = FileType("svg")
NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def svg(inner: str, attrs: str = "", prolog: str = '<?xml version="1.0"?>\n') -> bytes:
    return f"{prolog}<svg {NS}{attrs}>{inner}</svg>".encode()


def rules(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def test_detection_root_element_only():
    assert detect(svg("<rect/>")) is SVG
    assert detect(svg("<rect/>", prolog='<!DOCTYPE svg [\n<!ENTITY ns "http://www.w3.org/2000/svg">\n]>\n'
                                        "<!-- drawn -->\n")) is SVG
    assert detect(b"\xef\xbb\xbf  <svg:svg xmlns:svg='http://www.w3.org/2000/svg'/>") is SVG
    assert detect(b"<!DOCTYPE html><html><body><svg><rect/></svg></body></html>") is FileType.HTML
    assert detect(b"<html><svg onload='x()'></svg></html>") is FileType.HTML


def test_plain_drawing_is_quiet_and_has_html_features():
    node = analyze(svg('<title>t</title><circle r="5"/><a xlink:href="https://example.org/">x</a>'), "a.svg")
    assert node.file_type is SVG and not rules(node)
    f = node.result.features
    assert f["svg.scripts"] == 0 and f["svg.foreign_objects"] == 0 and "svg.visible_text_log2" in f
    assert not any(k.startswith("html.") for k in f)


def test_script_redirect():
    node = analyze(svg('<script><![CDATA[ window.location.href = atob("aHR0cHM6Ly94LmV4YW1wbGUudGVzdC8="); ]]>'
                       "</script>"), "a.svg")
    assert {"SVG_SCRIPT", "HTML_REDIRECT"} <= rules(node)


def test_event_handler_and_external_script():
    node = analyze(svg('<script xlink:href="https://cdn.example.test/x.js"/>', attrs=' onload="go()"'), "a.svg")
    assert "SVG_SCRIPT" in rules(node)
    assert node.result.features["svg.external_script_refs"] == 1 and node.result.features["svg.event_handlers"] == 1


def test_foreign_object_login_form():
    node = analyze(svg('<foreignObject width="300" height="200"><div xmlns="http://www.w3.org/1999/xhtml">'
                       '<form action="https://p.example.test/l.php"><input type="password" name="p"/></form>'
                       "</div></foreignObject>"), "a.svg")
    assert {"SVG_FOREIGN_HTML", "HTML_CREDENTIAL_FORM"} <= rules(node)
    assert "https://p.example.test/l.php" in node.result.urls


def test_animated_javascript_href_and_data_document():
    node = analyze(svg('<a><animate attributeName="href" values="javascript:alert(1)"/><text>x</text></a>'
                       '<a href="data:text/html;base64,PGI+eDwvYj4="><text>y</text></a>'), "a.svg")
    assert "SVG_JAVASCRIPT_URI" in rules(node)
    f = node.result.features
    assert f["svg.animated_hrefs"] == 1 and f["svg.data_refs"] == 1


def test_entity_holding_script():
    data = (b'<?xml version="1.0"?>\n<!DOCTYPE svg [\n<!ENTITY x "javascript:alert(1)">\n]>\n'
            b'<svg xmlns="http://www.w3.org/2000/svg"><a href="&x;"><text>z</text></a></svg>')
    node = analyze(data, "a.svg")
    assert "SVG_ENTITY_SCRIPT" in rules(node)


def test_inline_svg_in_html_becomes_a_child_and_the_page_stays_html():
    page = (b"<!DOCTYPE html><html><body><p>hi</p><svg onload=\"x()\"><script>var a=1;</script></svg>"
            b"<svg><rect/></svg></body></html>")
    node = analyze(page, "a.html")
    assert node.file_type is FileType.HTML
    assert [(c.name, c.file_type) for c in node.children] == [("inline-1.svg", SVG)]
    assert "SVG_SCRIPT" in rules(node.children[0])


def test_svg_is_not_emitted_from_itself():
    node = analyze(svg('<script>var a = 1;</script>'), "a.svg")
    assert not node.children
