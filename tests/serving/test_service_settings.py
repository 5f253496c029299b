"""Settings from MALDOC_* variables, and the `serve` command's registration and flags."""

from __future__ import annotations

import argparse

import pytest
from pydantic import ValidationError

from maldoc.serving import cli
from maldoc.serving.settings import Settings


def test_environment_configures_the_service(monkeypatch):
    monkeypatch.setenv("MALDOC_API_KEYS", "alpha, beta,,")
    monkeypatch.setenv("MALDOC_FAIL_MODE", "closed")
    monkeypatch.setenv("MALDOC_TIMEOUT_S", "7.5")
    monkeypatch.setenv("MALDOC_MAX_BODY_BYTES", "1000")
    monkeypatch.setenv("MALDOC_WORKERS", "3")
    monkeypatch.setenv("MALDOC_REDIS_URL", "redis://127.0.0.1:6379/0")
    s = Settings()
    assert s.api_keys == ["alpha", "beta"]
    assert s.fail_mode == "closed" and s.workers == 3 and s.redis_url.startswith("redis://")
    limits = s.limits()
    assert limits.timeout_s == 7.5 and limits.max_bytes == 1000


def test_invalid_settings_are_refused_at_start(monkeypatch):
    monkeypatch.setenv("MALDOC_FAIL_MODE", "sometimes")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("MALDOC_FAIL_MODE")
    with pytest.raises(ValidationError):
        Settings(max_depth=0)  # Limits refuses non-positive limits


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maldoc")
    cli.register(parser.add_subparsers(dest="command"))
    return parser


def test_serve_command_flags_override_the_environment(monkeypatch):
    monkeypatch.setenv("MALDOC_PORT", "9000")
    monkeypatch.setenv("MALDOC_WORKERS", "4")
    args = _parser().parse_args(["serve", "--port", "8181", "--model", "rules", "--fail-mode", "open"])
    assert args.func is cli.handler
    s = cli._settings(args)
    assert s.port == 8181 and s.model == "rules" and s.fail_mode == "open"
    assert s.workers == 4  # not given as a flag: the environment's


def test_serve_with_invalid_flags_exits_2(capsys):
    args = _parser().parse_args(["serve", "--fail-mode", "sometimes"])
    assert cli.handler(args) == 2
    assert "invalid settings" in capsys.readouterr().err


def test_maldoc_cli_lists_serve():
    from maldoc.cli import build_parser

    args = build_parser().parse_args(["serve", "--port", "1234"])
    assert args.func is cli.handler
