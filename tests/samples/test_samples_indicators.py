"""Every generated file is detected as its type, parses cleanly, and shows what it was built to show."""

from __future__ import annotations

import pytest

from maldoc.engine import analyze
from maldoc.extractor import registry
from maldoc.filetype import detect
from maldoc.samples.generate import generate_samples, templates
from maldoc.samples.registry import TEMPLATES
from maldoc.types import FileType, Flag, Node

COUNT = 2 * max(len(templates("malicious")), len(templates("benign")))

TYPES = {"doc": FileType.OLE, "xls": FileType.OLE, "docm": FileType.OOXML, "xlsm": FileType.OOXML,
         "docx": FileType.OOXML, "xlsx": FileType.OOXML, "rtf": FileType.RTF, "pdf": FileType.PDF,
         "html": FileType.HTML, "one": FileType.ONENOTE, "eml": FileType.EMAIL, "svg": FileType("svg"),
         "lnk": FileType("lnk"), "vbs": FileType("script_vbs"), "vbe": FileType("script_vbs"),
         "js": FileType("script_js"), "ps1": FileType("script_ps1"), "bat": FileType("script_bat"),
         "png": FileType("image_png"),
         "iso": FileType("iso"), "7z": FileType("sevenzip"), "gz": FileType("gzip"), "msg": FileType("msg"),
         "dat": FileType("tnef"), "pptm": FileType.OOXML, "ppsx": FileType.OOXML, "pptx": FileType.OOXML,
         "ppt": FileType.OLE, "pps": FileType.OLE}
TYPE_OVERRIDES = {"docx_encrypted": FileType.OLE}  # encrypted OOXML is an OLE container

# indicator -> any of these rule ids, somewhere in the scan tree
RULES = {
    "vba": {"VBA_MACROS"}, "vba_autoexec": {"VBA_AUTOEXEC"},
    "vba_exec": {"VBA_SHELL", "VBA_POWERSHELL", "VBA_MRAPTOR"},
    "xlm": {"XLM_MACRO_SHEET"}, "xlm_hidden": {"XLM_HIDDEN_SHEET", "XLM_VERY_HIDDEN_SHEET"},
    "xlm_very_hidden": {"XLM_VERY_HIDDEN_SHEET"}, "xlm_auto_open": {"XLM_AUTO_OPEN"},
    "xlm_exec": {"XLM_DANGEROUS_FUNCTION"}, "remote_template": {"OOXML_REMOTE_TEMPLATE"}, "dde": {"OFFICE_DDE"},
    "ole_link_external": {"OOXML_EXTERNAL_OLE"}, "rtf_object": {"RTF_OBJECT"},
    "rtf_package_script": {"OFFICE_PACKAGE_EXECUTABLE", "CORE_SCRIPT_NAME"}, "rtf_equation": {"RTF_EQUATION"},
    "rtf_ole2link": {"RTF_OLE2LINK"}, "rtf_objupdate": {"RTF_OBJUPDATE"}, "pdf_js": {"PDF_JAVASCRIPT"},
    "pdf_aa": {"PDF_AUTO_JAVASCRIPT"}, "pdf_launch": {"PDF_LAUNCH", "PDF_LAUNCH_COMMAND"},
    "pdf_embedded_file": {"PDF_EMBEDDED_FILE"}, "pdf_link_lure": {"PDF_LINK_LURE"},
    "html_password_form": {"HTML_PASSWORD_INPUT", "HTML_CREDENTIAL_FORM"},
    "html_smuggling": {"HTML_SMUGGLING"},
    "onenote_embedded_file": {"ONENOTE_EMBEDDED_FILE", "ONENOTE_EMBEDDED_SCRIPT", "ONENOTE_EMBEDDED_EXECUTABLE"},
    "zip_encrypted": {"CORE_ENCRYPTED_ARCHIVE"},
    "svg_script": {"SVG_SCRIPT"}, "svg_foreign_html": {"SVG_FOREIGN_HTML"},
    "svg_javascript_uri": {"SVG_JAVASCRIPT_URI"}, "lnk_shell": {"LNK_SHELL_COMMAND"}, "lnk_download": {"LNK_DOWNLOAD"},
    "lnk_encoded_command": {"LNK_ENCODED_COMMAND"},
    "script_download_exec": {"SCRIPT_DOWNLOAD_EXECUTE"}, "script_encoded": {"SCRIPT_ENCODED_SCRIPT"},
    "script_encoded_command": {"SCRIPT_ENCODED_COMMAND"}, "script_obfuscated": {"SCRIPT_OBFUSCATED"},
    "script_lolbin": {"SCRIPT_LOLBIN"}, "script_shell_exec": {"SCRIPT_SHELL_EXEC"}, "qr_url": {"QR_URL"},
    "archive_lure": {"ARCHIVE_LURE_SHAPE"}, "sevenzip_encrypted": {"CORE_ENCRYPTED_ARCHIVE"},
    "diskimage_lure": {"DISKIMAGE_LNK_HIDDEN_PAYLOAD"}, "msg_attachment": {"MSG_ATTACHMENT"},
    "tnef_attachment": {"TNEF_ATTACHMENT"}, "ppt_program_action": {"PPT_ACTION_RUN_PROGRAM"},
    "ppt_hover_action": {"PPT_HOVER_ACTION"}, "ppt_embedded_ole": {"PPT_EMBEDDED_OLE"},
    "msdt_handler": {"EXPLOIT_MSDT_HANDLER"}, "search_ms_handler": {"EXPLOIT_SEARCH_MS_HANDLER"},
    "mhtml_xusc": {"EXPLOIT_MHTML_XUSC"}, "altchunk_rtf_link": {"EXPLOIT_ALTCHUNK_RTF_LINK"},
    "static_ole_class": {"EXPLOIT_OLE_STATIC_CLASS"}, "word6_macros": {"WORD6_MACROS"},
    "word6_auto_macro": {"WORD6_AUTO_MACRO"},
}
# indicator -> (feature, minimum) on the root node
FEATURES = {"pdf_openaction": ("pdf.openaction", 1), "pdf_many_uris": ("pdf.uri_actions", 10),
            "pdf_objstm": ("pdf.objstm_objects", 1)}


@pytest.fixture(scope="module")
def scanned() -> list[tuple[object, Node]]:
    return [(s, analyze(s.data, s.name)) for s in generate_samples(COUNT, seed=21)]


def _rules(node: Node) -> set[str]:
    return {f.rule_id for n in node.walk() for f in n.result.findings}


def _has_mail_extractor() -> bool:
    return bool([e for e in registry().for_type(FileType.EMAIL) if e.file_types])


def test_every_file_is_detected_as_its_type(scanned):
    for s, node in scanned:
        expected = TYPE_OVERRIDES.get(s.family, TYPES[s.format])
        assert detect(s.data) is expected, s.name
        assert node.file_type is expected, s.name


def test_every_file_parses_without_errors(scanned):
    for s, node in scanned:
        for n in node.walk():
            bad = n.result.flags & {Flag.PARSE_ERROR, Flag.TRUNCATED, Flag.TIMED_OUT, Flag.LIMIT_EXCEEDED}
            assert not bad, (s.name, n.display_path, bad, n.result.errors)
            assert not [e for e in n.result.errors if "undeclared" in e], (s.name, n.result.errors)


def _shows(indicator: str, node: Node) -> bool:
    if indicator in RULES:
        return bool(_rules(node) & RULES[indicator])
    if indicator in FEATURES:
        name, minimum = FEATURES[indicator]
        return node.result.features.get(name, 0) >= minimum
    if indicator == "urls":
        return any(n.result.urls for n in node.walk())
    if indicator == "email_attachment":
        return bool(node.children)
    if indicator == "office_encrypted":  # reported when unopened; opened ones carry the decrypted flag
        return "OFFICE_ENCRYPTED" in _rules(node) or any(
            n.file_type is FileType.OLE and Flag.DECRYPTED in n.result.flags for n in node.walk())
    if indicator == "password_in_body":  # the password found in the body opened the archive or document
        return any(Flag.DECRYPTED in n.result.flags for n in node.walk())
    return True  # vba_download, vba_obfuscated, pdf_obfuscated_names: vary per sample, not always present


@pytest.mark.parametrize("family", sorted(TEMPLATES))
def test_family_shows_its_indicators(scanned, family):
    if TEMPLATES[family].format == "eml" and not _has_mail_extractor():
        pytest.skip("no e-mail extractor registered yet")
    cases = [(s, node) for s, node in scanned if s.family == family]
    assert cases
    for s, node in cases:
        missing = [i for i in TEMPLATES[family].shows if not _shows(i, node)]
        assert not missing, (s.name, missing, sorted(_rules(node)))


def test_benign_plain_files_raise_nothing_strong(scanned):
    """Hard negatives stay below the rule scorer's malicious threshold (0.7)."""
    from maldoc.catalogue import get as rule

    for s, node in scanned:
        if s.label != "benign":
            continue
        score = 1.0
        for rule_id in _rules(node):
            score *= 1 - rule(rule_id).weight
        assert 1 - score < 0.7, (s.name, sorted(_rules(node)))
