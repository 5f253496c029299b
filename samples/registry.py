"""The template registry: each template builds one kind of sample from a seeded `random.Random`.

A template declares its label, format (the file extension) and the indicators it was built to
show (`shows`, a small vocabulary the tests map to the extractors' rule ids and features).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

Build = Callable[[random.Random], tuple[str, bytes]]  # -> (file stem, bytes)

# The indicator vocabulary (what a template can claim its samples show).
INDICATORS = frozenset((
    "vba", "vba_autoexec", "vba_exec", "vba_download", "vba_obfuscated", "xlm", "xlm_hidden",
    "xlm_very_hidden", "xlm_auto_open", "xlm_exec", "remote_template", "dde", "ole_link_external",
    "rtf_object", "rtf_package_script", "rtf_equation", "rtf_ole2link", "rtf_objupdate", "pdf_js",
    "pdf_openaction", "pdf_aa", "pdf_launch", "pdf_embedded_file", "pdf_many_uris", "pdf_objstm",
    "pdf_link_lure",
    "pdf_obfuscated_names", "html_password_form", "html_smuggling", "onenote_embedded_file",
    "email_attachment", "zip_encrypted", "password_in_body", "office_encrypted", "urls",
    "svg_script", "svg_foreign_html", "svg_javascript_uri", "lnk_shell", "lnk_download", "lnk_encoded_command",
    "script_download_exec", "script_encoded", "script_encoded_command", "script_obfuscated", "script_lolbin",
    "script_shell_exec", "qr_url",
    "archive_lure", "sevenzip_encrypted", "diskimage_lure", "msg_attachment", "tnef_attachment",
    "ppt_program_action", "ppt_hover_action", "ppt_embedded_ole", "msdt_handler", "search_ms_handler", "mhtml_xusc",
    "altchunk_rtf_link", "static_ole_class", "word6_macros", "word6_auto_macro",
))


@dataclass(frozen=True, slots=True)
class Template:
    family: str
    label: str  # malicious | benign
    format: str  # file extension without the dot: doc, xlsm, pdf, eml, ...
    build: Build
    shows: tuple[str, ...] = ()
    note: str = ""


TEMPLATES: dict[str, Template] = {}


def template(family: str, label: str, fmt: str, shows: tuple[str, ...] = (), note: str = ""):
    """Register the decorated build function under `family`."""
    unknown = set(shows) - INDICATORS
    if unknown:
        raise ValueError(f"{family}: unknown indicators {sorted(unknown)}")
    if label not in ("malicious", "benign"):
        raise ValueError(f"{family}: bad label {label!r}")

    def register(build: Build) -> Build:
        if family in TEMPLATES:
            raise ValueError(f"template {family!r} registered twice")
        TEMPLATES[family] = Template(family, label, fmt, build, tuple(shows), note)
        return build

    return register
