"""`maldoc serve`: run the scanning service. Flags override MALDOC_* environment settings.

The scan limits are the same flags as every other command (`--max-bytes`, `--timeout-s`, ... from
`maldoc.cli.add_limit_arguments`, one per `Limits` field); the service's own flags are below.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from dataclasses import fields

from maldoc.cli import add_limit_arguments
from maldoc.limits import Limits

_FLAGS = {  # flag -> (settings field, type, help)
    "--host": ("host", str, "address to listen on (default 127.0.0.1; the image uses 0.0.0.0)"),
    "--port": ("port", int, "TCP port (default 8080)"),
    "--workers": ("workers", int, "scan worker processes (default: one per core)"),
    "--model": ("model", str, "model bundle folder, or 'rules' (default: the shipped bundle)"),
    "--models-dir": ("models_dir", str, "the only folder model reloads may load bundles from"),
    "--max-queue": ("max_queue", int, "scans admitted at once before answering 503 (default 64)"),
    "--max-uploads": ("max_uploads", int, "request bodies received at once before answering 429 (default 32)"),
    "--body-timeout-s": ("body_timeout_s", float, "seconds to receive one request body, 408 after (default 60)"),
    "--fail-mode": ("fail_mode", str, "decision on timeout or internal error: report | open | closed"),
    "--cache-size": ("cache_size", int, "verdicts kept in memory; 0 disables the cache"),
    "--redis-url": ("redis_url", str, "Redis verdict cache shared by replicas"),
    "--log-level": ("log_level", str, "debug | info | warning | error"),
}
# Old spellings, still accepted (hidden from --help): flag -> the Limits field it sets.
_OLD_FLAGS = {"--timeout": ("timeout_s", float), "--max-body-bytes": ("max_bytes", int)}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the REST scanning service for mail gateways",
        description="Run the FastAPI scanning service. Every setting can also come from the environment "
                    "(MALDOC_HOST, MALDOC_API_KEYS, MALDOC_ADMIN_KEYS, MALDOC_FAIL_MODE, MALDOC_TIMEOUT_S, ...); "
                    "flags win.")
    for flag, (dest, kind, text) in _FLAGS.items():
        parser.add_argument(flag, dest=f"serve_{dest}", type=kind, default=None, help=text,
                            metavar=flag[2:].replace("-", "_").upper())
    parser.add_argument("--allow-anonymous", dest="serve_allow_anonymous", action="store_true", default=None,
                        help="allow scanning without API keys on a non-loopback address")
    add_limit_arguments(parser)
    for flag, (name, kind) in _OLD_FLAGS.items():
        parser.add_argument(flag, dest=f"limit_{name}", type=kind, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=handler)


def _settings(args: argparse.Namespace):
    from .settings import Settings  # here, not at the top: registering `serve` must work without the extra

    overrides = {dest: getattr(args, f"serve_{dest}") for dest, _, _ in _FLAGS.values()}
    overrides["allow_anonymous"] = getattr(args, "serve_allow_anonymous", None)
    overrides.update({f.name: getattr(args, f"limit_{f.name}", None) for f in fields(Limits)})
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%", 1)[0]).is_loopback for i in infos)


def anonymous_refusal(settings) -> str | None:
    """Why the service must not start as configured, or None."""
    if settings.api_keys or settings.allow_anonymous or is_loopback(settings.host):
        return None
    return (f"refusing to serve scans without API keys on {settings.host}, which is not a loopback address: "
            "set MALDOC_API_KEYS, or pass --allow-anonymous (MALDOC_ALLOW_ANONYMOUS=1) when a proxy or "
            "network policy in front of the service controls who may reach it")


def handler(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"maldoc serve: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    refusal = anonymous_refusal(settings)
    if refusal:
        print(f"maldoc serve: {refusal}", file=sys.stderr)
        return 2
    import uvicorn

    from .app import create_app
    from .requestid import configure

    configure(settings.log_level, settings.log_format)
    # No access log: its request lines carry query strings (file names); each scan logs its own line.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False,
                log_level=settings.log_level.lower(), timeout_graceful_shutdown=int(settings.timeout_s) + 5)
    return 0
