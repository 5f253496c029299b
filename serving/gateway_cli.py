"""`maldoc clamd` and `maldoc icap`: the gateway listeners. Flags override environment settings
(`MALDOC_*` for the engine, `MALDOC_CLAMD_*` / `MALDOC_ICAP_*` for the listener)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

_ENGINE = {  # flag -> (Settings field, type, help)
    "--workers": ("workers", int, "scan worker processes (default: one per core)"),
    "--model": ("model", str, "model bundle folder, or 'rules' (default: the shipped bundle)"),
    "--timeout": ("timeout_s", float, "hard per-scan timeout in seconds"),
    "--fail-mode": ("fail_mode", str, "answer on timeout or internal error: report (an ERROR answer) | open "
                    "(clean) | closed (detected)"),
    "--max-queue": ("max_queue", int, "scans admitted at once before refusing"),
    "--max-body-bytes": ("max_body_bytes", int, "largest input scanned"),
    "--cache-size": ("cache_size", int, "verdicts kept in memory; 0 disables the cache"),
    "--redis-url": ("redis_url", str, "Redis verdict cache shared with other maldoc instances"),
    "--log-level": ("log_level", str, "debug | info | warning | error"),
}
_COMMON = {  # flag -> (listener field, type, help)
    "--host": ("host", str, "address to listen on (default 127.0.0.1)"),
    "--max-connections": ("max_connections", int, "connections served at once (default 64)"),
    "--idle-timeout": ("idle_timeout_s", float, "seconds a connection may stay silent (default 30)"),
    "--request-timeout": ("request_timeout_s", float, "seconds to receive one command or request with its "
                          "data (default 300)"),
    "--suspicious": ("suspicious", str, "found (report as Maldoc.Suspicious.*, default) | clean"),
    "--metrics-port": ("metrics_port", int, "serve Prometheus /metrics on this port"),
}
_CLAMD = {
    "--port": ("port", int, "TCP port (default 3310)"),
    "--socket": ("socket", str, "Unix socket path (SHUTDOWN and RELOAD are accepted only there)"),
    "--stream-max-length": ("stream_max_length", int, "largest INSTREAM in bytes (default 25 MiB)"),
}
_ICAP = {
    "--port": ("port", int, "TCP port (default 1344)"),
    "--preview": ("preview", int, "preview size offered in OPTIONS (default 4096)"),
}


def _add(parser: argparse.ArgumentParser, flags: dict, prefix: str) -> None:
    for flag, (dest, kind, text) in flags.items():
        parser.add_argument(flag, dest=f"{prefix}_{dest}", type=kind, default=None, help=text,
                            metavar=flag[2:].replace("-", "_").upper())


def register(subparsers) -> None:
    clamd = subparsers.add_parser(
        "clamd", help="listen as a ClamAV daemon (clamd protocol) for mail gateways",
        description="Answer the clamd protocol (INSTREAM, SCAN, PING, IDSESSION...) on TCP and/or a Unix "
                    "socket, so rspamd, amavisd-new, Exim and other clamd clients scan through maldoc.")
    _add(clamd, _ENGINE, "engine")
    _add(clamd, _COMMON, "listener")
    _add(clamd, _CLAMD, "listener")
    clamd.add_argument("--no-tcp", dest="listener_no_tcp", action="store_true", help="Unix socket only")
    clamd.add_argument("--allow-path", dest="listener_allow_paths", action="append", default=None,
                       metavar="DIR", help="folder whose files SCAN/CONTSCAN/MULTISCAN may read (repeatable)")
    clamd.set_defaults(func=clamd_handler)

    icap = subparsers.add_parser(
        "icap", help="run an ICAP server (RFC 3507) for proxies and gateways",
        description="Answer ICAP OPTIONS, RESPMOD and REQMOD: 204 for clean content, 200 with "
                    "X-Infection-Found and a 403 page for detected content.")
    _add(icap, _ENGINE, "engine")
    _add(icap, _COMMON, "listener")
    _add(icap, _ICAP, "listener")
    icap.add_argument("--service", dest="listener_services", action="append", default=None, metavar="NAME",
                      help="service name in the ICAP URI (repeatable; default maldoc)")
    icap.set_defaults(func=icap_handler)


def _given(args: argparse.Namespace, prefix: str) -> dict:
    return {k[len(prefix) + 1:]: v for k, v in vars(args).items() if k.startswith(prefix + "_") and v is not None}


def _build(args: argparse.Namespace, listener_cls):
    from .settings import Settings

    listener = _given(args, "listener")
    if listener.pop("no_tcp", False):
        listener["port"] = None
    return Settings(**_given(args, "engine")), listener_cls(**listener)


def _main(args: argparse.Namespace, command: str) -> int:
    from pydantic import ValidationError

    from . import gateway

    if command == "clamd":
        from .clamd import ClamdServer as Server
        from .clamd import ClamdSettings as ListenerSettings
    else:
        from .icap import IcapServer as Server
        from .icap import IcapSettings as ListenerSettings
    try:
        settings, listener = _build(args, ListenerSettings)
    except ValidationError as exc:
        print(f"maldoc {command}: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = asyncio.Event()

    async def start(service):
        server = Server(service, listener, shutdown=stop.set)
        return await server.start()

    try:
        asyncio.run(gateway.run(settings, start, metrics_port=listener.metrics_port, host=listener.host,
                                stop_event=stop))
    except OSError as exc:
        print(f"maldoc {command}: {exc}", file=sys.stderr)
        return 2
    return 0


def clamd_handler(args: argparse.Namespace) -> int:
    return _main(args, "clamd")


def icap_handler(args: argparse.Namespace) -> int:
    return _main(args, "icap")
