"""XLM / Excel 4.0 macros in .xls (BIFF8) and .xlsm (macrosheet parts)."""

from __future__ import annotations

import sys
from pathlib import Path

from maldoc.extractor import Options
from maldoc.extractors.xlm import XlmExtractor, _functions
from maldoc.samples import ooxml as gen_ooxml

sys.path.insert(0, str(Path(__file__).parent))
import office_fixtures as fx


def test_very_hidden_macro_sheet_with_auto_open_and_exec() -> None:
    out = fx.run(XlmExtractor(), fx.xls(fx.workbook(macro_state=2)), "report.xls")
    f = out.features
    assert f["xlm.sheets"] == 2 and f["xlm.macro_sheets"] == 1
    assert f["xlm.very_hidden_sheets"] == 1 and f["xlm.hidden_sheets"] == 0
    assert f["xlm.formulas"] == 2
    assert f["xlm.exec"] == 1 and f["xlm.call_register"] == 1
    assert f["xlm.auto_open"] == 1 and f["xlm.string_iocs"] >= 2
    assert {"XLM_MACRO_SHEET", "XLM_VERY_HIDDEN_SHEET", "XLM_AUTO_OPEN", "XLM_DANGEROUS_FUNCTION"} <= fx.rules(out)
    assert "XLM_HIDDEN_SHEET" not in fx.rules(out)


def test_hidden_sheet_without_auto_open_or_dangerous_calls() -> None:
    out = fx.run(XlmExtractor(), fx.xls(fx.workbook(macro_state=1, auto_open=False, funcs=((0x36, []),))), "a.xls")
    assert out.features["xlm.hidden_sheets"] == 1
    assert fx.rules(out) == {"XLM_MACRO_SHEET", "XLM_HIDDEN_SHEET"}


def test_plain_workbook_has_zero_features_and_no_findings() -> None:
    from maldoc.samples import oledoc

    data = oledoc.xls([("Sheet1", 0, False, [(0, 0, "hello"), (1, 0, 2.0)])], None, fx.PID)
    out = fx.run(XlmExtractor(), data, "plain.xls")
    assert out.features["xlm.macro_sheets"] == 0 and out.features["xlm.sheets"] == 1
    assert fx.rules(out) == set()


def test_generator_xls_macro_sheet_is_read() -> None:
    from maldoc.samples import oledoc

    data = oledoc.xls([("Sheet1", 0, False, []), ("M", 2, True, [(0, 0, "EXEC", ["calc"]), (1, 0, "HALT", [])])],
                      None, fx.PID)
    out = fx.run(XlmExtractor(), data, "gen.xls")
    assert out.features["xlm.exec"] == 1 and out.features["xlm.very_hidden_sheets"] == 1


def test_ptg_walker_names_functions_and_strings() -> None:
    rgce = b"\x17\x04\x00calc" + b"\x1e\x05\x00" + b"\x42\x01\x6e\x00" + b"\x41\x6f\x00"
    funcs, strings = _functions(rgce)
    assert funcs == [0x6E, 0x6F] and strings == [b"calc"]
    assert _functions(b"\xff\x00\x00") == ([], [])  # unknown token: stop, no crash


def test_xlsm_macrosheet_visibility_formulas_and_auto_open() -> None:
    sheets = [gen_ooxml.Sheet("Sheet1", [("A1", "hi")]),
              gen_ooxml.Sheet("Macro1", [("A1", 'EXEC("cmd /c calc")'), ("A2", "HALT()")], macro=True,
                              state="veryHidden")]
    data = gen_ooxml.excel(sheets, auto_open="Macro1!$A$1")
    out = fx.run(XlmExtractor(), data, "book.xlsm", options=Options(keep_macros=True))
    f = out.features
    assert f["xlm.macro_sheets"] == 1 and f["xlm.very_hidden_sheets"] == 1, out.errors
    assert f["xlm.exec"] == 1 and f["xlm.formulas"] == 2
    assert f["xlm.auto_open"] == 1
    assert {"XLM_MACRO_SHEET", "XLM_VERY_HIDDEN_SHEET", "XLM_AUTO_OPEN", "XLM_DANGEROUS_FUNCTION"} <= fx.rules(out)
    assert out.macros and out.macros[0].kind == "xlm" and "EXEC" in out.macros[0].code
