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


# Lure wording of phishing mail, a bounded set in the languages of the mail maldoc sees most: each
# entry one theme (account, credentials, money, shared files, delivery, urgency), several spellings.
LURE_TERMS: dict[str, str] = {
    "verify_account": r"verify (?:your )?(?:account|identity|e-?mail)|confirm (?:your )?(?:account|identity|details)|"
                      r"verifi(?:que|car) (?:su|sua|seu) (?:cuenta|conta|cadastro)|v(?:é|e)rifiez votre compte|"
                      r"best(?:ä|a)tigen sie (?:ihr|ihre)|conferma (?:il tuo|la tua) account",
    "password_expiry": r"password (?:will )?expir\w*|(?:reset|update) (?:your )?password|"
                       r"senha (?:expir\w*|bloquead\w*)|contrase(?:ñ|n)a (?:caduca|expira)\w*|"
                       r"passwort (?:läuft|lauft) ab|mot de passe (?:expir\w*)",
    "unusual_signin": r"unusual (?:sign-?in|activity|login)|suspicious (?:activity|sign-?in|login)|"
                      r"new sign-?in|atividade suspeita|actividad (?:inusual|sospechosa)|activit(?:é|e) inhabituelle",
    "account_locked": r"account (?:has been |will be )?(?:suspended|locked|disabled|limited|closed)|"
                      r"conta (?:bloqueada|suspensa|desativada)|cuenta (?:bloqueada|suspendida)|"
                      r"konto (?:gesperrt|eingeschränkt)|compte (?:suspendu|bloqu(?:é|e))",
    "invoice": r"invoice|factura|fatura|rechnung|facture|fattura|boleto|nota fiscal",
    "payment": r"payment|overdue|wire transfer|remittance|pagamento|pago pendiente|zahlung|paiement|"
               r"pend(?:ê|e)ncia|d(?:é|e)bito",
    "billing_update": r"update (?:your )?(?:payment|billing|card)|atualiz(?:e|ar) (?:seus|os) dados|"
                      r"actualice sus datos|mettre (?:à|a) jour vos (?:informations|coordonn(?:é|e)es)",
    "shared_document": r"shared (?:a )?(?:document|file|folder)s? with you|docusign|review (?:and|&) sign|"
                       r"(?:view|open) (?:the )?(?:shared )?document|compartilhou|ha compartido|sharepoint|onedrive",
    "mailbox": r"mailbox (?:is )?(?:full|quota)|storage (?:is )?full|quota exceeded|voicemail|"
               r"caixa de (?:correio|entrada) (?:cheia|lotada)",
    "delivery": r"(?:parcel|package|shipment) (?:could not|couldn't|was not) (?:be )?delivered|"
                r"delivery (?:failed|attempt)|customs fee|encomenda|entrega (?:pendente|falhou)|paquete|colis",
    "urgency": r"within 24 hours|within 48 hours|immediately|urgent|act now|final notice|last warning|"
               r"em até 24 horas|urgente|dringend|imm(?:é|e)diatement",
    "click_here": r"click (?:here|below|the link)|clique (?:aqui|no link)|haga clic|cliquez ici|klicken sie hier|"
                  r"clicca qui",
    "prize_refund": r"tax refund|you have won|claim your|reembolso|restitui(?:ç|c)(?:ã|a)o|pr(?:ê|e)mio|"
                    r"gift card|cashback|saldo (?:dispon(?:í|i)vel|para)|valor dispon(?:í|i)vel|resgat(?:e|ar)|"
                    r"pontos (?:expiram|acumulados)|cr(?:é|e)dito dispon(?:í|i)vel",
}
_LURE = re.compile("|".join(f"(?P<{name}>(?<!\\w)(?:{pattern}))" for name, pattern in LURE_TERMS.items()), re.I)
MAX_LURE_CHARS = 200_000


def lure_hits(text: str) -> tuple[set[str], int]:
    """(themes of LURE_TERMS found, number of matches) in the first MAX_LURE_CHARS of `text`."""
    themes: set[str] = set()
    hits = 0
    for m in _LURE.finditer(text[:MAX_LURE_CHARS]):
        hits += 1
        themes.add(m.lastgroup or "")
    return themes, hits


# Cyrillic and Greek letters drawn like Latin ones: "PаyPаl" with Cyrillic а passes word filters.
# Folded to Latin before lure wording is matched; a word mixing both scripts is counted as a homoglyph.
_CONFUSABLES = str.maketrans(
    "аеорсуххіјѕԁһԛԝасеіорхуѕАВЕКМНОРСТХУІЈЅɡɑοντρκιαυϲΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxxijsdhqwaceiopxysABEKMHOPCTXYIJSgaovtpkiaucABEZHIKMNOPTYX",
)
_WORD = re.compile(r"[^\W\d_]{3,40}")
MAX_WORDS = 50_000


def fold_confusables(text: str) -> str:
    """`text` with Cyrillic/Greek look-alikes of Latin letters replaced by the Latin letters."""
    return text.translate(_CONFUSABLES)


def _script(c: str) -> str:
    o = ord(c)
    if o < 0x250:
        return "latin"
    if 0x370 <= o < 0x400:
        return "greek"
    if 0x400 <= o < 0x530:
        return "cyrillic"
    return "other"


def mixed_script_words(text: str) -> tuple[int, int]:
    """(words mixing Latin with Cyrillic or Greek letters, words) among the first MAX_WORDS words."""
    mixed = words = 0
    for m in _WORD.finditer(text):
        words += 1
        if words > MAX_WORDS:
            break
        scripts = {_script(c) for c in m.group()}
        if "latin" in scripts and scripts & {"greek", "cyrillic"}:
            mixed += 1
    return mixed, words
