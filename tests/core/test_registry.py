"""The registry refuses inconsistent declarations at first use, not in a scan in production."""

from __future__ import annotations

import pytest

from maldoc import catalogue, filetype
from maldoc.extractor import Extractor, Registry, RegistryError, registry
from maldoc.filetype import TypeSpec, detect
from maldoc.types import FileType


def _ext(name: str, **attrs) -> type[Extractor]:
    return type(f"X{name}", (Extractor,), {"name": name, "__module__": f"test_{name}", **attrs})


def test_every_declared_type_is_detected_in_priority_order_and_has_a_label():
    reg = registry()
    assert [s.priority for s in reg.type_specs] == sorted(s.priority for s in reg.type_specs)
    assert set(reg.types) >= {FileType.OLE, FileType.PDF, FileType.EMAIL, FileType.UNKNOWN}
    assert all(reg.type_labels.get(t) for t in reg.types if t is not FileType.UNKNOWN)


def test_an_unknown_rule_id_is_refused():
    with pytest.raises(catalogue.CatalogueError):
        Registry([_ext("a", rules=("NO_SUCH_RULE",))])


def test_a_type_declared_twice_is_refused():
    spec = TypeSpec("twice", lambda p: False, 99, "x")
    with pytest.raises(RegistryError, match="declared by"):
        Registry([_ext("a", detects=(spec,)), _ext("b", detects=(spec,))])


def test_handling_an_undeclared_type_is_refused():
    with pytest.raises(RegistryError, match="undeclared types"):
        Registry([_ext("a", file_types=frozenset({FileType("nosuchtype")}))])


def test_a_bad_type_name_is_refused():
    with pytest.raises(RegistryError, match="valid type name"):
        Registry([_ext("a", detects=(TypeSpec("Bad Name", lambda p: False, 99, "x"),))])


def test_duplicate_extractor_names_and_features_are_refused():
    with pytest.raises(RegistryError, match="used by"):
        Registry([_ext("a"), _ext("a")])
    with pytest.raises(RegistryError, match="duplicate feature"):
        Registry([_ext("b", features=("x", "x"))])


def test_a_new_type_is_one_declaration(monkeypatch):
    """A plug-in's TypeSpec is all detect() and the registry need to know a type."""
    spec = TypeSpec("testfmt", lambda p: p.data.startswith(b"TESTFMT1"), 5, "tst", "test format")
    ext = _ext("testfmt", detects=(spec,), file_types=frozenset({FileType("testfmt")}))
    reg = Registry([*(type(e) for e in registry().extractors), ext])
    monkeypatch.setattr("maldoc.extractor._REGISTRY", reg)
    assert detect(b"TESTFMT1 payload") is FileType("testfmt")
    assert filetype.label_of(FileType("testfmt")) == "tst"
    assert "testfmt" in [e.name for e in reg.for_type(FileType("testfmt"))]
    assert "testfmt" not in [e.name for e in reg.for_type(FileType.PDF)]
