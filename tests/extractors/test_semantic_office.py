"""Semantic VBA and XLM features: what a macro does (auto-exec x download/execute/write, WMI, objects
built from pieces) and how it hides strings, each on a positive and a negative synthetic document."""

from __future__ import annotations

import random

import pytest

from maldoc.engine import analyze
from maldoc.extractors import _office_vba as analysis
from maldoc.samples import semantic


def features(node) -> dict[str, float]:
    out: dict[str, float] = {}
    stack = [node]
    while stack:
        n = stack.pop()
        stack.extend(n.children)
        for k, v in n.result.features.items():
            if v == v:  # NaN: missing
                out[k] = max(out.get(k, 0.0), v)
    return out


def rules(node) -> set[str]:
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        stack.extend(n.children)
        out |= {f.rule_id for f in n.result.findings}
    return out


def vba(kind: str, *, auto: bool = True, seed: int = 3):
    rng = random.Random(seed)
    return analyze(semantic.vba_doc(rng, semantic.vba_code(rng, kind, auto=auto)), f"{kind}.doc")


@pytest.mark.parametrize(("kind", "positive", "negative"), [
    # Win32_Process.Create on a moniker built from pieces
    ("wmi", ("wmi_exec", "executes", "autoexec_and_exec", "hidden_keywords"), ("downloads", "obj_wscript_shell")),
    # CallByName on a method name built from pieces, Shell.Application from pieces
    ("callbyname", ("obj_shell_application", "executes", "autoexec_and_exec", "autoexec_and_shell_object"),
     ("wmi_exec", "downloads")),
    # WScript.Shell and the command built from literals and Chr()
    ("pieces", ("obj_wscript_shell", "executes", "autoexec_and_exec", "hidden_keywords", "chr_chain_max"),
     ("obj_xmlhttp", "wmi_exec")),
    # XMLHTTP + ADODB.Stream + Shell: the whole dropper
    ("download", ("obj_xmlhttp", "obj_adodb_stream", "downloads", "writes", "autoexec_and_download",
                  "autoexec_and_write", "download_and_exec", "autoexec_download_exec", "environ_per_kb"),
     ("hidden_keywords", "wmi_exec")),
])
def test_malicious_shapes(kind, positive, negative):
    f = features(vba(kind))
    assert all(f.get(f"vba.{name}", 0) > 0 for name in positive), {n: f.get(f"vba.{n}") for n in positive}
    assert all(f.get(f"vba.{name}", 0) == 0 for name in negative), {n: f.get(f"vba.{n}") for n in negative}


def test_rules_for_auto_exec_shapes():
    assert {"VBA_AUTOEXEC_EXECUTE", "VBA_HIDDEN_STRINGS"} <= rules(vba("wmi"))
    assert {"VBA_AUTOEXEC_EXECUTE", "VBA_AUTOEXEC_DOWNLOAD_EXECUTE"} <= rules(vba("download"))


@pytest.mark.parametrize("kind", ["wmi", "pieces", "download", "callbyname"])
def test_same_code_without_trigger_has_no_autoexec_combination(kind):
    f = features(vba(kind, auto=False))
    assert f["vba.executes"] == 1.0
    combos = ("autoexec_and_exec", "autoexec_and_download", "autoexec_and_write", "autoexec_and_wmi",
              "autoexec_and_shell_object", "autoexec_download_exec")
    assert all(f[f"vba.{c}"] == 0 for c in combos)
    assert "VBA_AUTOEXEC_EXECUTE" not in rules(vba(kind, auto=False))


def test_benign_file_writer_is_quiet():
    f = features(vba("benign_fso"))
    assert f["vba.autoexec"] > 0  # Document_Open is there...
    for name in ("executes", "downloads", "autoexec_and_exec", "hidden_keywords", "wmi_exec", "obj_wscript_shell",
                 "chr_chain_max", "dynamic_objects"):
        assert f[f"vba.{name}"] == 0, name  # ...but it starts and fetches nothing
    assert f["vba.obj_filesystem"] == 1.0
    assert not {"VBA_AUTOEXEC_EXECUTE", "VBA_HIDDEN_STRINGS"} & rules(vba("benign_fso"))


def test_class_initialize_is_not_a_document_trigger():
    f = features(vba("benign_class"))
    assert f["vba.executes"] == 1.0 and f["vba.downloads"] == 1.0
    assert f["vba.autoexec_and_exec"] == 0 and f["vba.autoexec_download_exec"] == 0


def test_obfuscation_statistics_on_source():
    code = ('Sub AutoOpen()\n s = Replace(Replace(Replace(StrReverse("x"), "a", ""), "b", ""), "c", "")\n'
            f' t = "{"QUJD" * 40}"\n Set o = CreateObject(s)\n u = Environ("TEMP")\nEnd Sub')
    f = analysis.analyze(code).features
    assert f["replace_nesting"] == 3 and f["replace_per_kb"] > 0 and f["strreverse_per_kb"] > 0
    assert f["encoded_literal_max"] == 160 and 0.9 < f["encoded_literal_ratio"] <= 1
    assert f["dynamic_objects"] == 1 and f["environ_per_kb"] > 0 and f["decoder_calls_per_kb"] > 0
    plain = analysis.analyze('Sub Tidy()\n Set o = CreateObject("Word.Application")\n MsgBox "ok"\nEnd Sub').features
    for name in ("replace_nesting", "encoded_literal_max", "dynamic_objects", "chr_chain_max", "decoder_calls_per_kb"):
        assert plain[name] == 0, name


def test_every_new_feature_is_declared():
    names = set(analysis.FEATURES)
    f = analysis.analyze("Sub AutoOpen()\nEnd Sub").features
    assert set(f) == names


@pytest.mark.parametrize(("auto", "download", "char_formula", "expect", "absent"), [
    (True, True, True, ("url_download", "auto_open_exec", "auto_open_download", "formula_char", "char_per_formula"),
     ("exec_strings",)),  # `cmd /c rem` names no LOLBin
    (False, True, False, ("url_download",), ("auto_open_exec", "auto_open_download", "formula_char")),
    (True, False, False, ("auto_open",), ("url_download", "auto_open_exec", "auto_open_download", "formula_char",
                                           "char_per_formula")),
])
def test_xlm_shapes(auto, download, char_formula, expect, absent):
    rng = random.Random(5)
    f = features(analyze(semantic.xlm_workbook(rng, auto=auto, download=download, char_formula=char_formula),
                         "book.xlsm"))
    assert all(f.get(f"xlm.{n}", 0) > 0 for n in expect), {n: f.get(f"xlm.{n}") for n in expect}
    assert all(f.get(f"xlm.{n}", 0) == 0 for n in absent), {n: f.get(f"xlm.{n}") for n in absent}


def test_xlm_lolbin_strings():
    rng = random.Random(6)
    f = features(analyze(semantic.xlm_workbook(rng, auto=False, download=False, char_formula=False, lolbin=True),
                         "book.xlsm"))
    assert f["xlm.exec_strings"] == 1 and f["xlm.auto_open_exec"] == 0
