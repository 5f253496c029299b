"""E-mail phishing features (`_phish`, `_mail_text`): sender against link domains, anchors that show
one domain and go to another, lure wording, homoglyphs, script links, lure-named runnable attachments,
bodies that are only a link; each on a synthetic message and its plain counterpart."""

from __future__ import annotations

import random

import pytest

from maldoc.engine import analyze
from maldoc.extractors import _phish
from maldoc.extractors._mail_text import fold_confusables, lure_hits, mixed_script_words
from maldoc.samples import semantic


def scan(kind: str, seed: int = 4):
    return analyze(semantic.phish_mail(random.Random(seed), kind), f"{kind}.eml")


def mail_features(node) -> dict[str, float]:
    return {k[5:]: v for k, v in node.result.features.items() if k.startswith("mail.")}


def rules(node) -> set[str]:
    return {f.rule_id for f in node.result.findings}


def test_plain_message_is_quiet():
    node = scan("plain")
    f = mail_features(node)
    assert f["link_domains"] == 1 and f["foreign_link_ratio"] == 0  # links to the sender's own domain
    quiet = ("anchor_mismatches", "script_hrefs", "shortener_links", "ip_links", "lure_terms", "lure_density",
             "link_only_body", "image_link_body", "lure_attachments", "homoglyph_words", "homoglyph_ratio",
             "random_attachment_names")
    assert all(f[n] == 0 for n in quiet), {n: f[n] for n in quiet if f[n]}
    assert not set(_phish.RULES) & rules(node)


@pytest.mark.parametrize(("kind", "positive", "rule"), [
    ("anchor", ("anchor_mismatches", "foreign_link_ratio"), "MAIL_LINK_TEXT_MISMATCH"),
    ("lure", ("lure_terms", "lure_density", "foreign_link_ratio"), ""),
    ("homoglyph", ("homoglyph_words", "homoglyph_ratio"), ""),
    ("script_link", ("script_hrefs",), "MAIL_SCRIPT_LINK"),
    ("lure_attachment", ("lure_attachments",), "MAIL_LURE_ATTACHMENT"),
    ("link_only", ("link_only_body",), ""),
])
def test_phishing_shapes(kind, positive, rule):
    node = scan(kind)
    f = mail_features(node)
    assert all(f[n] > 0 for n in positive), {n: f[n] for n in positive}
    if rule:
        assert rule in rules(node)


def test_features_are_declared_and_always_written():
    f = mail_features(scan("plain"))
    assert {n for n in _phish.FEATURES} <= set(f)


def test_registered_domain_uses_the_bundled_suffix_list():
    assert _phish.registered_domain("login.mail.example.co.uk") == "example.co.uk"
    assert _phish.registered_domain("WWW.Example.COM.") == "example.com"
    assert _phish.registered_domain("192.0.2.7") == "192.0.2.7"
    assert _phish.url_host("https://user@Sub.Example.net:8443/x") == "sub.example.net"


def test_shortener_and_ip_links():
    rng = random.Random(1)
    from maldoc.samples import mail

    data = mail.message(rng, sender="a@example.com", to="b@example.org", subject="s",
                        body="Here it is: https://bit.ly/abc and http://192.0.2.10/login and more text to read.\n")
    f = mail_features(analyze(data, "x.eml"))
    assert f["shortener_links"] == 1 and f["ip_links"] == 1


def test_lure_wording_is_multilingual_and_bounded():
    themes, hits = lure_hits("Sua conta bloqueada. Clique aqui para atualizar seus dados. Fatura em anexo.")
    assert {"account_locked", "click_here", "billing_update", "invoice"} <= themes and hits >= 4
    assert lure_hits("Minutes of the meeting and the agenda for next week.") == (set(), 0)
    assert lure_hits("x" * 10_000_000)[1] == 0  # searched within MAX_LURE_CHARS


def test_homoglyphs_fold_and_count():
    assert fold_confusables("PаyPаl") == "PayPal"
    assert mixed_script_words("Dеar PаyPаl user") == (2, 3)
    assert mixed_script_words("Привет, world") == (0, 2)  # two scripts in a text, not in one word


def test_random_attachment_name():
    assert _phish._random_name("csWuYjyqO2IR.pdf")
    assert not _phish._random_name("Invoice2023.pdf") and not _phish._random_name("report.pdf")
