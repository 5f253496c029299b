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


def test_peer_alerts_are_cached_by_content(tmp_path, monkeypatch):
    """run_peers keeps each file's alerts in the cache folder: a second run computes nothing, and
    the per-format table holds maldoc's decisions beside the peers'."""
    import pandas as pd

    from maldoc.training import peers
    from maldoc.training.corpus import Item
    from maldoc.types import sha256

    bad, good = _seeded(docm_macro, lambda b, g: True)
    items = []
    for name, data, label in (("bad.docm", bad, "malicious"), ("good.docm", good, "benign")):
        (tmp_path / name).write_bytes(data)
        items.append(Item(path=tmp_path / name, label=label, sha256=sha256(data), meta={"format": "ooxml"}))
    model = pd.DataFrame({"sha256": [i.sha256 for i in items], "flagged": [True, False], "elapsed_ms": [1.0, 1.0]})
    first = peers.run_peers(items, model=model, jobs=1, log=lambda _m: None, cache_dir=tmp_path / "cache")
    assert first["by_format"]["ooxml"]["mraptor"]["tp"] == 1 and first["by_format"]["ooxml"]["mraptor"]["fp"] == 0
    assert first["by_format"]["ooxml"]["maldoc"]["tpr"] == 1.0

    def no_run(*_a, **_k):
        raise AssertionError("a cached file was run again")

    monkeypatch.setattr(peers, "_task", no_run)
    again = peers.run_peers(items, jobs=1, log=lambda _m: None, cache_dir=tmp_path / "cache")
    before, after = first["by_format"]["ooxml"]["mraptor"], again["by_format"]["ooxml"]["mraptor"]
    assert (after["tp"], after["fp"], after["ms_per_file"]) == (before["tp"], before["fp"], before["ms_per_file"])


def test_model_card_puts_the_peers_beside_each_format():
    from maldoc.training.card import ooc_lines

    at = {"0.001": {"tpr": 0.5, "fpr": 0.001, "measurable": True}}
    peers = {"pooled": {"field rule set": {"tpr": 0.3, "fpr": 0.002}},
             "by_format": {"ole": {"mraptor": {"tpr": 0.9, "fpr": 0.002, "tp": 9},
                                   "pdfid": {"tpr": 0.0, "fpr": 0.0, "tp": 0},
                                   "maldoc": {"tpr": 0.8, "fpr": 0.004, "tp": 8}}}}
    text = "\n".join(ooc_lines({"roc_auc": 0.9, "at": at, "by_format": {}}, None, peers))
    assert "the field's rules" in text
    row = next(line for line in text.splitlines() if line.startswith("| ole |"))
    assert "90.00 % at 0.20 %" in row and "| mraptor |" in row and "80.00 % at 0.40 %" in row
