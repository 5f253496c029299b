"""Windows shortcuts (.lnk): the command a double click runs, and how it hides.

Since Office blocked internet macros (2022), shortcuts mailed in archives and disk images are a
main first stage: the target is cmd, PowerShell, mshta or a LOLBin, the arguments fetch and run a
second stage, the icon is a PDF's or a folder's, the window is hidden, and the arguments are
padded with hundreds of blanks so Explorer's properties box shows nothing. Some carry the payload
itself appended after the shortcut structures.

Parsed by LnkParse3 ([MS-SHLLINK] header, LinkInfo, string data, extra blocks); its warnings on
broken files are silenced and any failure becomes a parse_error flag, with the UTF-16 strings of
the file still searched for commands so that a mangled shortcut is not reported clean.
"""

from __future__ import annotations

import math
import re
import warnings

from maldoc.extractor import Context, Extractor
from maldoc.extractors import _commands as cmds
from maldoc.extractors import _mail_sniff as sniff
from maldoc.extractors.urls import find_urls
from maldoc.filetype import Probe, TypeSpec
from maldoc.types import ExtractorResult, FileType, Flag, Sample

LNK_MAGIC = sniff.LNK_MAGIC  # HeaderSize 0x4C, then the first bytes of the shortcut CLSID
MAX_PARSE = 1024 * 1024  # a shortcut is a few KiB; past this only appended data
MAX_URLS = 100
PADDING = 64  # blanks before the visible arguments: Explorer shows the first 260 characters
HIDDEN_SHOW = frozenset({"SW_SHOWMINNOACTIVE"})  # minimised without focus: the console is never seen
_DECOY_ICON = re.compile(r"\.(?:pdf|docx?|xlsx?|txt|jpe?g|png|html?)\b|imageres\.dll|shell32\.dll|msedge|"
                         r"chrome|firefox|acro|explorer\.exe|wordpad|notepad", re.I)
_UTF16_STRINGS = re.compile(rb"(?:[\x20-\x7e]\x00){6,2048}")
_WHITESPACE = re.compile(r"^[\s\x00]*")


def is_lnk(p: Probe) -> bool:
    return p.data.startswith(LNK_MAGIC)


def _fields(data: bytes) -> tuple[dict[str, str], str, int]:
    """(strings, show command, byte length of the shortcut structures) parsed by LnkParse3."""
    import LnkParse3  # on first use: it loads PyYAML, and most scans never see a shortcut

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lnk = LnkParse3.lnk_file(indata=data[:MAX_PARSE])
        info = lnk.get_json()
    strings = {k: str(v) for k, v in (info.get("data") or {}).items() if v}
    link = info.get("link_info") or {}
    where = link.get("location_info") or {}
    base = link.get("local_base_path_unicode") or link.get("local_base_path") or where.get("net_name_unicode") \
        or where.get("net_name") or ""
    suffix = link.get("common_path_suffix_unicode") or link.get("common_path_suffix") or ""
    if base:
        strings["target"] = str(base) + ("\\" if suffix and not str(base).endswith("\\") else "") + str(suffix)
    items = (info.get("target") or {}).get("items") or []
    names = [str(i.get("long_name") or i.get("primary_name") or i.get("data") or "")
             for i in items[:64] if isinstance(i, dict)]
    if names and "target" not in strings:
        strings["target"] = "\\".join(n for n in names if n)
    extra = info.get("extra") or {}
    env = extra.get("ENVIRONMENTAL_VARIABLES_LOCATION_BLOCK") or {}
    if env.get("target_unicode") or env.get("target_ansi"):
        strings["env_target"] = str(env.get("target_unicode") or env.get("target_ansi"))
    show = str((info.get("header") or {}).get("windowstyle") or "")
    terminal = extra.get("TERMINAL_BLOCK") or {}
    end = int(info.get("size") or 0) - int(terminal.get("size") or 0) if terminal else int(info.get("size") or 0)
    return strings, show, max(0, end)


class LnkExtractor(Extractor):
    name = "lnk"
    version = 1
    detects = (TypeSpec("lnk", is_lnk, 12, "lnk", "Windows shortcut (MS-SHLLINK)"),)
    file_types = frozenset({FileType("lnk")})
    features = (
        "parsed", "target_interpreter", "target_lolbin", "arguments_chars_log2", "arguments_padding",
        "hidden_window", "show_hidden", "downloads", "executes", "encoded_command", "evasion", "urls",
        "decoy_icon", "env_target", "appended_bytes_log2", "programs",
    )
    rules = ("LNK_SHELL_COMMAND", "LNK_DOWNLOAD", "LNK_PADDED_ARGUMENTS", "LNK_HIDDEN_WINDOW",
             "LNK_ENCODED_COMMAND", "LNK_DECOY_ICON", "LNK_APPENDED_DATA")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        where = sample.display_path
        f = out.features
        try:
            strings, show, end = _fields(sample.data)
            f["lnk.parsed"] = 1.0
        except Exception as exc:
            out.flag(Flag.PARSE_ERROR, f"lnk: shortcut parser stopped: {type(exc).__name__}")
            strings, show, end = self._raw_strings(sample.data, ctx), "", len(sample.data)
            f["lnk.parsed"] = 0.0
        target = strings.get("target") or strings.get("env_target") or strings.get("relative_path", "")
        args = strings.get("command_line_arguments", "")
        command = f"{target} {args}".strip()
        for decoded in cmds.decode_encoded_command(args):
            command += "\n" + decoded
        ctx.check()

        found = cmds.programs(f"{target} {strings.get('env_target', '')} {strings.get('relative_path', '')}")
        in_args = cmds.programs(args)
        every = list(dict.fromkeys(found + in_args))
        f["lnk.programs"] = float(len(every))
        f["lnk.target_interpreter"] = float(bool(found))
        f["lnk.target_lolbin"] = float(any(p in cmds.LOLBINS for p in every))
        if every:
            out.add("LNK_SHELL_COMMAND", _evidence(command), where)

        padding = len(_WHITESPACE.match(args).group(0)) if args else 0
        f["lnk.arguments_chars_log2"] = math.log2(len(args) + 1)
        f["lnk.arguments_padding"] = float(padding)
        if padding >= PADDING or "\n" in args.strip() or "\r" in args.strip():
            out.add("LNK_PADDED_ARGUMENTS", f"{padding} blank characters before the arguments", where)

        hidden_args = bool(cmds.HIDDEN.search(command))
        f["lnk.show_hidden"] = float(show in HIDDEN_SHOW)
        f["lnk.hidden_window"] = float(hidden_args or show in HIDDEN_SHOW)
        if every and (show == "SW_SHOWMINNOACTIVE" or hidden_args):
            out.add("LNK_HIDDEN_WINDOW", show if show == "SW_SHOWMINNOACTIVE" else cmds.first(cmds.HIDDEN, command),
                    where)

        urls = find_urls(command, MAX_URLS)
        downloads = sum(1 for _ in cmds.DOWNLOAD.finditer(command))
        f.update({"lnk.downloads": float(downloads), "lnk.urls": float(len(urls)),
                  "lnk.executes": float(sum(1 for _ in cmds.EXECUTE.finditer(command))),
                  "lnk.evasion": float(sum(1 for _ in cmds.EVASION.finditer(command))),
                  "lnk.encoded_command": float(bool(cmds.ENCODED_COMMAND.search(args)))})
        if downloads or (urls and every):
            out.add("LNK_DOWNLOAD", cmds.first(cmds.DOWNLOAD, command) or urls[0], where)
        if f["lnk.encoded_command"]:
            out.add("LNK_ENCODED_COMMAND", cmds.first(cmds.ENCODED_COMMAND, args, 20), where)
        out.urls.extend(urls)

        icon = strings.get("icon_location", "")
        f["lnk.decoy_icon"] = float(bool(icon and _DECOY_ICON.search(icon)))
        f["lnk.env_target"] = float("env_target" in strings)
        if f["lnk.decoy_icon"] and every:
            out.add("LNK_DECOY_ICON", f"icon {icon[:80]} on a shortcut that runs {every[0]}", where)

        appended = sample.data[end:] if 0 < end < len(sample.data) else b""
        appended = appended[4:] if appended[:4] == b"\x00\x00\x00\x00" else appended  # terminal block
        f["lnk.appended_bytes_log2"] = math.log2(len(appended) + 1)
        if len(appended) >= 64:
            kind = sniff.kind(appended)
            out.add("LNK_APPENDED_DATA", f"{len(appended)} bytes after the shortcut ({kind})", where)
            if kind not in ("bin", "txt"):
                ctx.emit(out, sample, appended, f"appended.{kind}")

    @staticmethod
    def _raw_strings(data: bytes, ctx: Context) -> dict[str, str]:
        """Without a parse: the longest UTF-16 strings, as arguments, so commands are still seen."""
        found: list[str] = []
        for i, m in enumerate(_UTF16_STRINGS.finditer(data[:MAX_PARSE])):
            if i % 64 == 0:
                ctx.check()
            found.append(m.group(0).decode("utf-16-le"))
            if len(found) >= 32:
                break
        return {"command_line_arguments": " ".join(found)} if found else {}


def _evidence(command: str) -> str:
    return " ".join(command.split())[:200]
