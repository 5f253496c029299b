"""Listener settings: environment (MALDOC_CLAMD_*, MALDOC_ICAP_*), CLI flags, and refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from maldoc.cli import build_parser
from maldoc.serving.clamd import ClamdSettings
from maldoc.serving.gateway_cli import _build
from maldoc.serving.icap import IcapSettings


def test_environment(monkeypatch):
    monkeypatch.setenv("MALDOC_CLAMD_ALLOW_PATHS", "/var/lib/amavis/tmp, /srv/scan")
    monkeypatch.setenv("MALDOC_CLAMD_PORT", "")
    monkeypatch.setenv("MALDOC_CLAMD_SOCKET", "/run/maldoc/clamd.sock")
    monkeypatch.setenv("MALDOC_ICAP_SERVICES", "maldoc,/avscan/")
    monkeypatch.setenv("MALDOC_ICAP_SUSPICIOUS", "clean")
    clamd, icap = ClamdSettings(), IcapSettings()
    assert clamd.allow_paths == ["/var/lib/amavis/tmp", "/srv/scan"] and clamd.port is None
    assert clamd.socket == "/run/maldoc/clamd.sock"
    assert icap.services == ["maldoc", "avscan"] and icap.suspicious == "clean" and icap.port == 1344


def test_flags_override_and_reach_both_settings():
    args = build_parser().parse_args(["clamd", "--socket", "/tmp/c.sock", "--no-tcp", "--allow-path", "/a",
                                      "--allow-path", "/b", "--workers", "3", "--fail-mode", "closed",
                                      "--stream-max-length", "1000", "--suspicious", "clean"])
    engine, listener = _build(args, ClamdSettings)
    assert engine.workers == 3 and engine.fail_mode == "closed"
    assert listener.port is None and listener.allow_paths == ["/a", "/b"] and listener.stream_max_length == 1000
    assert listener.suspicious == "clean"
    args = build_parser().parse_args(["icap", "--port", "11344", "--service", "avscan", "--preview", "0"])
    _, listener = _build(args, IcapSettings)
    assert listener.port == 11344 and listener.services == ["avscan"] and listener.preview == 0


@pytest.mark.parametrize("bad", [{"suspicious": "maybe"}, {"max_connections": 0}, {"idle_timeout_s": 0},
                                 {"stream_max_length": 0}, {"port": None, "socket": None}])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValidationError):
        ClamdSettings(**bad)


def test_invalid_flags_exit_with_usage_error(capsys):
    from maldoc.cli import main

    assert main(["clamd", "--suspicious", "maybe"]) == 2
    assert "invalid settings" in capsys.readouterr().err
    assert main(["clamd", "--no-tcp"]) == 2  # and no socket: nowhere to listen
    assert "neither a TCP port nor a Unix socket" in capsys.readouterr().err
