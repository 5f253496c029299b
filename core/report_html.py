"""`maldoc report FILE -o report.html`: one self-contained HTML page an analyst can forward.

No external asset (no script, font, stylesheet or image is fetched: the chart is inline SVG), and
every text that came from the input (names, evidence, macro source, URLs) is escaped, capped, and
URLs are defanged, so the page can be opened anywhere without fetching or running anything.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from maldoc import __version__
from maldoc.verdict import Label, Verdict

CODE_CHARS = 64 * 1024  # per macro shown
SEVERITY_ORDER = ("info", "low", "medium", "high", "critical")
MAX_URLS = 200
_COLOURS = {Label.MALICIOUS: "#b00020", Label.SUSPICIOUS: "#b26a00", Label.CLEAN: "#1b7a3a", Label.ERROR: "#6a1b9a"}

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em;margin:0 0 .3em} h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid #ddd}
.badge{display:inline-block;padding:.15em .6em;border-radius:.3em;color:#fff;font-weight:600}
table{border-collapse:collapse;width:100%} td,th{border:1px solid #ddd;padding:.3em .5em;text-align:left;
vertical-align:top} th{background:#f4f4f4} code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.6em;overflow:auto;max-height:32em;white-space:pre-wrap}
ul.tree{list-style:none;padding-left:1.2em} ul.tree li{margin:.2em 0} .muted{color:#777}
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def defang(url: str) -> str:
    """A URL no mail client or browser turns into a link: hxxp://, [.] in the host."""
    text = re.sub(r"^(?i:http)", "hxxp", url)
    text = re.sub(r"^(?i:ftp)", "fxp", text)
    head, sep, rest = text.partition("://")
    if sep:
        host, slash, path = rest.partition("/")
        return f"{head}{sep}{host.replace('.', '[.]')}{slash}{path}"
    return text.replace(".", "[.]")


def _badge(label: Label) -> str:
    return f'<span class="badge" style="background:{_COLOURS[label]}">{esc(label.value)}</span>'


def _tree(v: Verdict) -> str:
    own = v.path.rsplit(" > ", 1)[-1] if " > " in v.path else v.path
    items = "".join(f"<li>{_tree(c)}</li>" for c in v.children)
    worst = max(v.findings, key=lambda f: SEVERITY_ORDER.index(f.severity), default=None)
    top = f" — {esc(worst.title)}" if worst else ""
    line = (f"{_badge(v.label)} <code>{esc(own)}</code> <span class='muted'>{esc(v.file_type)}, {v.size} bytes, "
            f"score {v.score:.3f}</span>{top}")
    return line + (f'<ul class="tree">{items}</ul>' if items else "")


def _chart(v: Verdict) -> str:
    """The top contributions as an inline SVG bar chart (no script, no external asset)."""
    bars = [r for r in v.reasons if r.contribution > 0][:10]
    if not bars:
        return "<p class='muted'>No reasons to suspect this input.</p>"
    top = max(r.contribution for r in bars)
    row, label_w, bar_w = 22, 430, 380
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 70}" height="{row * len(bars) + 8}" '
             f'role="img" aria-label="top contributions">']
    for i, r in enumerate(bars):
        y = 4 + i * row
        width = max(2, int(bar_w * r.contribution / top))
        title = r.title if len(r.title) <= 60 else r.title[:59] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">{esc(title)}</text>'
                     f'<rect x="{label_w}" y="{y + 2}" width="{width}" height="{row - 6}" fill="#c0392b"/>'
                     f'<text x="{label_w + width + 4}" y="{y + 14}" font-size="11">{r.contribution:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _findings(v: Verdict) -> str:
    rows = []
    for node in v.walk():
        for f in node.findings:
            rows.append(f"<tr><td>{esc(f.severity)}</td><td><code>{esc(f.rule_id)}</code><br>{esc(f.title)}</td>"
                        f"<td>{esc(f.evidence)}</td><td><code>{esc(f.location or node.path)}</code></td></tr>")
    if not rows:
        return "<p class='muted'>No findings.</p>"
    head = "<tr><th>severity</th><th>finding</th><th>evidence</th><th>where</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _code(v: Verdict) -> str:
    blocks = []
    for node in v.walk():
        for m in node.macros:
            code = m.code[:CODE_CHARS]
            cut = m.truncated or len(m.code) > CODE_CHARS
            blocks.append(f"<h3>{esc(m.kind)} <code>{esc(m.name)}</code> <span class='muted'>in {esc(node.path)}"
                          f"{' (truncated)' if cut else ''}</span></h3><pre>{esc(code)}</pre>")
    return "".join(blocks) or "<p class='muted'>No macro or script source recovered.</p>"


def _urls(v: Verdict) -> str:
    urls = list(dict.fromkeys(u for node in v.walk() for u in node.urls))[:MAX_URLS]
    if not urls:
        return "<p class='muted'>No URLs.</p>"
    return "<ul>" + "".join(f"<li><code>{esc(defang(u))}</code></li>" for u in urls) + "</ul>"


def _hashes(v: Verdict) -> str:
    values = v.hashes or {"sha256": v.sha256}
    return "<table>" + "".join(f"<tr><th>{esc(k)}</th><td><code>{esc(h)}</code></td></tr>"
                               for k, h in values.items()) + "</table>"


def render(v: Verdict) -> str:
    """The whole report page for one top-level verdict."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    flags = f"<p>Analysis flags: <code>{esc(', '.join(v.flags))}</code></p>" if v.flags else ""
    errors = "".join(f"<li>{esc(e)}</li>" for node in v.walk() for e in node.errors)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="referrer" content="no-referrer"><title>maldoc report: {esc(v.name or v.path)}</title>
<style>{_STYLE}</style></head><body>
<header id="verdict"><h1>{_badge(v.label)} <code>{esc(v.name or v.path)}</code></h1>
<p>score <b>{v.score:.3f}</b> (malicious at {v.threshold:.3f}, suspicious at {v.suspicious_threshold:.3f}) ·
type {esc(v.file_type)} · {v.size} bytes · model {esc(v.model_version)} · maldoc {esc(__version__)} · {when}</p>
{flags}</header>
<section id="reasons"><h2>Why</h2>{_chart(v)}</section>
<section id="tree"><h2>What it contains</h2><ul class="tree"><li>{_tree(v)}</li></ul></section>
<section id="findings"><h2>Findings</h2>{_findings(v)}</section>
<section id="code"><h2>Recovered macros and scripts</h2>{_code(v)}</section>
<section id="urls"><h2>URLs (defanged)</h2>{_urls(v)}</section>
<section id="hashes"><h2>Hashes</h2>{_hashes(v)}</section>
{f'<section id="errors"><h2>Analysis problems</h2><ul>{errors}</ul></section>' if errors else ''}
</body></html>
"""
