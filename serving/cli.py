"""`maldoc serve`: run the scanning service. Flags override MALDOC_* environment settings."""

from __future__ import annotations

import argparse
import logging
import sys

_FLAGS = {  # flag -> (settings field, type, help)
    "--host": ("host", str, "address to listen on (default 127.0.0.1; the image uses 0.0.0.0)"),
    "--port": ("port", int, "TCP port (default 8080)"),
    "--workers": ("workers", int, "scan worker processes (default: one per core)"),
    "--model": ("model", str, "model bundle folder, or 'rules' (default: the shipped bundle)"),
    "--max-queue": ("max_queue", int, "scans admitted at once before answering 503 (default 64)"),
    "--max-body-bytes": ("max_body_bytes", int, "largest request body, 413 above"),
    "--timeout": ("timeout_s", float, "hard per-scan timeout in seconds"),
    "--fail-mode": ("fail_mode", str, "decision on timeout or internal error: report | open | closed"),
    "--cache-size": ("cache_size", int, "verdicts kept in memory; 0 disables the cache"),
    "--redis-url": ("redis_url", str, "Redis verdict cache shared by replicas"),
    "--log-level": ("log_level", str, "debug | info | warning | error"),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the REST scanning service for mail gateways",
        description="Run the FastAPI scanning service. Every setting can also come from the environment "
                    "(MALDOC_HOST, MALDOC_API_KEYS, MALDOC_ADMIN_KEYS, MALDOC_FAIL_MODE, ...); flags win.")
    for flag, (dest, kind, text) in _FLAGS.items():
        parser.add_argument(flag, dest=f"serve_{dest}", type=kind, default=None, help=text,
                            metavar=flag[2:].replace("-", "_").upper())
    parser.set_defaults(func=handler)


def _settings(args: argparse.Namespace):
    from .settings import Settings  # here, not at the top: registering `serve` must work without the extra

    overrides = {dest: getattr(args, f"serve_{dest}") for dest, _, _ in _FLAGS.values()}
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def handler(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"maldoc serve: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    import uvicorn

    from .app import create_app

    level = settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # No access log: its request lines carry query strings (file names); each scan logs its own line.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False,
                log_level=settings.log_level.lower(), timeout_graceful_shutdown=int(settings.timeout_s) + 5)
    return 0
