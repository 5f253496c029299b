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


def test_every_limit_is_a_setting_and_a_serve_flag_under_its_own_name(monkeypatch):
    from dataclasses import fields

    from maldoc.limits import Limits

    names = [f.name for f in fields(Limits)]
    assert set(names) <= set(Settings.model_fields)
    for name in names:
        assert Settings.model_fields[name].description == Limits.describe()[name]
    help_text = _parser()._subparsers._group_actions[0].choices["serve"].format_help()
    for name in names:
        assert "--" + name.replace("_", "-") in help_text
    assert "--max-body-bytes" not in help_text and "--timeout " not in help_text  # old spellings: hidden
    args = _parser().parse_args(["serve", "--timeout-s", "3", "--max-bytes", "5000", "--max-depth", "2"])
    s = cli._settings(args)
    assert s.limits() == Limits(timeout_s=3.0, max_bytes=5000, max_depth=2)
    monkeypatch.setenv("MALDOC_MAX_CHILDREN", "7")
    assert Settings().limits().max_children == 7


def test_old_flag_and_variable_names_still_work(monkeypatch):
    args = _parser().parse_args(["serve", "--timeout", "4.5", "--max-body-bytes", "2000"])
    s = cli._settings(args)
    assert s.timeout_s == 4.5 and s.max_bytes == 2000 == s.limits().max_bytes
    monkeypatch.setenv("MALDOC_MAX_BODY_BYTES", "1234")
    assert Settings().max_bytes == 1234
    monkeypatch.setenv("MALDOC_MAX_BYTES", "4321")  # the new name wins when both are set
    assert Settings().max_bytes == 4321


@pytest.mark.parametrize(("host", "keys", "anonymous", "refused"), [
    ("127.0.0.1", [], False, False),
    ("::1", [], False, False),
    ("localhost", [], False, False),
    ("0.0.0.0", [], False, True),
    ("0.0.0.0", ["k"], False, False),
    ("0.0.0.0", [], True, False),
    ("192.0.2.10", [], False, True),
])
def test_serve_refuses_anonymous_scanning_off_loopback(host, keys, anonymous, refused):
    s = Settings(host=host, api_keys=keys, allow_anonymous=anonymous, workers=1)
    assert (cli.anonymous_refusal(s) is not None) is refused


def test_serve_exits_2_on_an_open_non_loopback_address(capsys, monkeypatch):
    monkeypatch.delenv("MALDOC_API_KEYS", raising=False)
    args = _parser().parse_args(["serve", "--host", "0.0.0.0"])
    assert cli.handler(args) == 2
    assert "--allow-anonymous" in capsys.readouterr().err
