"""PDF JavaScript content features (`_pdf_js`): heap-spray shapes, Reader APIs that act outside the
document, code stashed in the document and read back by eval. Each shape in a synthetic PDF whose
/OpenAction runs it, read back through the pdf extractor's call of `_pdf_js.analyse`."""

from __future__ import annotations

import random

import pytest

from maldoc.engine import analyze
from maldoc.extractors import _pdf_js
from maldoc.samples import semantic


@pytest.fixture
def stats(monkeypatch):
    """The JsStats of every script set the pdf extractor analyses during one scan."""
    seen: list[_pdf_js.JsStats] = []
    real = _pdf_js.analyse

    def spy(scripts):
        result = real(scripts)
        seen.append(result)
        return result

    monkeypatch.setattr(_pdf_js, "analyse", spy)

    def scan(kind: str) -> dict[str, float]:
        seen.clear()
        analyze(semantic.pdf_js(random.Random(2), kind), f"{kind}.pdf")
        assert seen, "the pdf extractor analysed no script"
        out: dict[str, float] = {}
        for s in seen:
            for k, v in _pdf_js.features(s).items():
                out[k] = max(out.get(k, 0.0), v)
        return out

    return scan


@pytest.mark.parametrize(("kind", "positive"), [
    ("spray", ("js_escape_run", "js_spray_shape")),
    ("doubling", ("js_doubling", "js_new_arrays", "js_large_loops", "js_spray_shape")),
    ("export", ("js_export_data",)),
    ("stash", ("js_stash_eval",)),
])
def test_malicious_script_shapes(stats, kind, positive):
    f = stats(kind)
    assert all(f[f"pdf.{n}"] > 0 for n in positive), {n: f[f"pdf.{n}"] for n in positive}
    if kind == "spray":
        assert f["pdf.js_escape_run"] == 64


def test_form_arithmetic_is_quiet(stats):
    f = stats("form")
    assert all(v == 0 for v in f.values()), {k: v for k, v in f.items() if v}


def test_features_are_the_declared_names():
    f = _pdf_js.features(_pdf_js.analyse([]))
    assert set(f) == {f"pdf.{n}" for n in _pdf_js.FEATURES}
    assert all(v == 0 for v in f.values())


@pytest.mark.parametrize(("code", "name"), [
    ("app.launchURL('https://example.com/x', true);", "launch_url"),
    ("this.submitForm({cURL: 'https://example.com/p'});", "submit_form"),
    ("app.openDoc({cPath: '/c/x.pdf'});", "open_doc"),
    ("this.mailDoc({bUI: false, cTo: 'a@example.com'});", "mail"),
])
def test_action_apis(code, name):
    assert name in _pdf_js.analyse([code]).actions
    assert not _pdf_js.analyse(["var total = 1 + 2; AFNumber_Format(2, 0, 0, 0, '', true);"]).actions


def test_escape_run_counts_one_repeated_unit_only():
    assert _pdf_js.analyse(["unescape('%u4141%u4242' + '%u4343%u4444')"]).escape_run == 1
    assert _pdf_js.analyse(["'" + "\\x90" * 40 + "'"]).escape_run == 40


def test_small_loops_are_not_spray():
    s = _pdf_js.analyse(["var a = new Array(); for (var i = 0; i < 12; i++) { a[i] = i; } s += s;"])
    assert s.large_loops == 0 and not s.spray_shape
