"""The field's rules on inert synthetic documents: each fires on its own kind and not on the twin."""

import pytest

from maldoc.samples.pairs import docm_macro, pdf_action, rtf_object
from maldoc.training.peers import mime_parts, pdfid_hit, peer_hits, rtfobj_hit

pytest.importorskip("pdfid")


def _seeded(build, want):
    import random

    for i in range(40):
        _fmt, bad, good = build(random.Random(f"peer-test/{i}"))
        if want(bad, good):
            return bad, good
    raise AssertionError("no sample of the wanted shape")


def test_rtfobj_rule_fires_on_the_exploit_object_only():
    # the field's rule flags any Package object, so the twin compared is one without its text package
    bad, good = _seeded(rtf_object, lambda b, g: b"quation" in b and b"Package" not in g)
    assert rtfobj_hit(bad) and not rtfobj_hit(good)


def test_pdfid_rule_fires_on_auto_run_javascript_only():
    bad, good = _seeded(pdf_action, lambda b, g: b"/JS" in b)
    assert pdfid_hit(bad) and not pdfid_hit(good)


def test_macro_rules_fire_on_the_dropper_only():
    bad, good = _seeded(docm_macro, lambda b, g: True)
    hits, twin = peer_hits(bad), peer_hits(good)
    assert hits["mraptor"][0] and not twin["mraptor"][0]
    assert not twin["olefy"][0]
    assert all(seconds >= 0 for _hit, seconds in hits.values())


def test_an_email_is_scanned_part_by_part():
    import random

    from maldoc.samples.pairs import eml_attachment

    _fmt, bad, _good = eml_attachment(random.Random("mail"))
    assert len(mime_parts(bad)) >= 2
    assert mime_parts(b"%PDF-1.4 not a mail") == []
