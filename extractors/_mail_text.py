"""Text helpers for the mail and HTML extractors: visible text of HTML, passwords in prose, URLs."""

from __future__ import annotations

import html
import re

from maldoc.extractors.urls import find_urls  # noqa: F401 - re-exported for the mail and HTML extractors

_BREAKS = re.compile(r"</?(?:br|p|div|tr|td|th|li|ul|ol|h\d|hr|table|title|head|body|html|blockquote)\b[^<>]{0,2000}>",
                     re.I)
_TAGS = re.compile(r"<[^<>]{0,4000}>")  # '<' excluded inside: a run of unclosed '<' stays linear


def _drop_blocks(markup: str, tags: tuple[str, ...] = ("script", "style")) -> str:
    """`markup` without script and style elements, in one pass (an unclosed one runs to the end).

    The next opening of each tag is remembered and searched again only once the scan has passed
    it: searching every tag afresh after each element re-reads the rest of the page per element
    (quadratic: 18 s on 664 KiB of `<style>` elements with no `<script>`).
    """
    low = markup.lower()
    kept: list[str] = []
    pos = 0
    nxt = dict.fromkeys(tags, -2)  # -2: not searched yet; -1: none left
    while True:
        for t in tags:
            if nxt[t] == -2 or 0 <= nxt[t] < pos:
                nxt[t] = low.find(f"<{t}", pos)
        starts = [(i, t) for t, i in nxt.items() if i != -1]
        if not starts:
            break
        start, tag = min(starts)
        end = low.find(f"</{tag}", start)
        kept.append(markup[pos:start])
        if end == -1:
            return " ".join(kept)
        close = low.find(">", end)
        pos = len(markup) if close == -1 else close + 1
        kept.append(" ")
    kept.append(markup[pos:])
    return "".join(kept)


def html_text(markup: str) -> str:
    """What a reader sees: markup, scripts and styles removed, entities decoded, lines kept."""
    text = _drop_blocks(markup)
    text = _BREAKS.sub("\n", text)
    text = _TAGS.sub("", text)  # inline tags (<b>, <span>) sit inside words: "Pass<b>word</b>"
    return html.unescape(text)


# "password: 1234", "PW 2024", "Passwort: x", "contraseña: x", "mot de passe : x", "пароль: x" ...
_KEYWORDS = (
    r"pass(?:word|wort|code|phrase)?|passwd|pwd?|kennwort|contrase(?:ñ|n)a|clave|mot\s+de\s+passe|mdp|senha|"
    r"parola|wachtwoord|has(?:ł|l)o|heslo|jelsz(?:ó|o)|salasana|l(?:ö|o)senord|adgangskode|passord|"
    r"пароль|密码|密碼|パスワード|비밀번호|(?:ş|s)ifre|şifresi"
)
_STRONG = re.compile(
    rf"(?<!\w)(?:{_KEYWORDS})(?:\s+(?:for|of|to|f(?:ü|u)r|de|du|del|da|zum|zur|van|voor)\s+[\w ]{{1,30}}?)?"
    r"\s*(?:(?:is|ist|est|es|era|será)\b\s*:?|é|è|:|=|-|–|—|：)\s*[\"'«“‘(\[]?([^\s\"'«»“”‘’<>()\[\]]{3,40})",
    re.I,
)
# "use password rWAOD to open the file": no digit, no colon, but the verb after it says what it is
_TO_OPEN = re.compile(rf"(?<!\w)(?:{_KEYWORDS})\s+[\"'«“‘]?([^\s\"'«»“”‘’<>]{{3,40}}?)[\"'»”’]?\s+(?:to|for)\s+"
                      r"(?:open|unlock|view|extract|access|unzip|read)\b", re.I)
_WEAK = re.compile(rf"(?<!\w)(?:{_KEYWORDS})\s+[\"'«“‘]?([^\s\"'«»“”‘’<>]*\d[^\s\"'«»“”‘’<>]*)", re.I)
_NOT_PASSWORDS = frozenset((
    "reset", "expired", "expires", "expiring", "incorrect", "invalid", "required", "wrong", "changed",
    "change", "update", "updated", "protected", "below", "above", "attached", "here", "the", "your", "you",
    "and", "for", "will", "has", "have", "was", "manager", "policy", "field", "please", "click", "enter",
    "login", "sign", "following",
))
_MASKED = re.compile(r"^[*•x._\-#]+$", re.I)  # "********", "xxxx": a placeholder, not a password
MAX_PASSWORDS = 10


def find_passwords(text: str, limit: int = MAX_PASSWORDS) -> list[str]:
    """Candidate archive passwords announced in a message body, strongest phrasing first."""
    found: list[str] = []
    for pattern in (_STRONG, _TO_OPEN, _WEAK):
        for m in pattern.finditer(text):
            raw = m.group(1)
            # "is 1234." ends a sentence, "Xy12!" is a password: try the stripped form first, then both.
            for token in (raw.strip(".,;:!?)]}»”’'\""), raw):
                if len(token) < 3 or token.lower() in _NOT_PASSWORDS or _MASKED.match(token) or token in found:
                    continue
                found.append(token)
                if len(found) >= limit:
                    return found
    return found
