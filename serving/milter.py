"""`maldoc milter`: a content filter for Postfix and Sendmail speaking the milter protocol.

    maldoc milter --socket inet:9900@127.0.0.1 --policy quarantine --fail-open

Registering the command imports nothing heavy: pymilter (the `milter` extra, built against
libmilter-dev) is imported by the handler only, so `maldoc --help` works without it. The policy
lives in `milter_policy`, the scanners in `milter_scan`, the libmilter callbacks in `milter_app`.
"""

from __future__ import annotations

import argparse
import logging
import os

from maldoc.serving.milter_policy import CONFIGURABLE, Action, Policy

DEFAULT_SOCKET = "inet:9900@127.0.0.1"

EPILOG = """Postfix main.cf:
  smtpd_milters = inet:127.0.0.1:9900
  non_smtpd_milters = $smtpd_milters
  milter_default_action = accept   (or tempfail: what Postfix does when the milter is down)

Every delivered message gets X-Maldoc-Verdict and X-Maldoc-Score headers. --policy is what
happens to malicious mail: tag (deliver with the headers), quarantine (Postfix hold queue;
release with `postsuper -H QUEUEID`), reject (550 5.7.1). On a scan error or timeout,
--fail-open delivers the message tagged 'error'; --fail-closed answers 451 4.7.1 so the
sender retries (552 5.3.4 for a message over --max-bytes, which a retry cannot fix).
--max-bytes is the largest message scanned, --timeout-s the hard limit per message; keep it
under Postfix's milter_content_timeout (300 s)."""


def register(subparsers) -> None:
    from maldoc.cli import add_limit_arguments

    choices = [a.value for a in CONFIGURABLE]
    parser = subparsers.add_parser("milter", help="run as a milter (Postfix / Sendmail content filter)",
                                   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--socket", default=DEFAULT_SOCKET, metavar="SPEC",
                        help=f"libmilter socket: inet:PORT@HOST or unix:/path (default {DEFAULT_SOCKET})")
    parser.add_argument("--name", default="maldoc", help="milter name reported to the MTA")
    parser.add_argument("--policy", choices=choices, default=Action.TAG.value,
                        help="action on a malicious message (default tag)")
    parser.add_argument("--suspicious-policy", choices=choices, default=Action.TAG.value,
                        help="action on a suspicious message (default tag)")
    parser.add_argument("--threshold", type=float, default=None, metavar="SCORE",
                        help="message score from which it counts as malicious (default: the model's)")
    parser.add_argument("--suspicious-threshold", type=float, default=None, metavar="SCORE",
                        help="message score from which it counts as suspicious (default: the model's)")
    fail = parser.add_mutually_exclusive_group()
    fail.add_argument("--fail-open", dest="fail_open", action="store_true", default=True,
                      help="deliver (tagged 'error') when a message cannot be scanned (default)")
    fail.add_argument("--fail-closed", dest="fail_open", action="store_false",
                      help="refuse with a temporary error when a message cannot be scanned")
    parser.add_argument("--rest-url", metavar="URL",
                        help="scan through a maldoc service (POST URL/v1/scan/email) instead of in-process")
    parser.add_argument("--api-key", default=os.environ.get("MALDOC_API_KEY"), metavar="KEY",
                        help="API key for --rest-url (default: $MALDOC_API_KEY)")
    parser.add_argument("--model", metavar="BUNDLE", help="model bundle folder, or 'rules' (in-process scans)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N", help="scan worker processes (in-process)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="serve Prometheus /metrics on this port (default: off; 0 picks a free one)")
    parser.add_argument("--metrics-host", default="127.0.0.1", metavar="ADDR",
                        help="address of the /metrics listener (default 127.0.0.1)")
    add_limit_arguments(parser)
    parser.set_defaults(func=handle)


def policy_from_args(args: argparse.Namespace) -> Policy:
    from maldoc.cli import UsageError

    try:
        return Policy(malicious=Action(args.policy), suspicious=Action(args.suspicious_policy),
                      fail_open=args.fail_open, threshold=args.threshold,
                      suspicious_threshold=args.suspicious_threshold)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def build_scanner(args: argparse.Namespace, limits):
    from maldoc.serving.milter_scan import InProcessScanner, RestScanner

    if args.rest_url:
        return RestScanner(args.rest_url, api_key=args.api_key, timeout_s=limits.timeout_s)
    from maldoc.cli import load_model

    return InProcessScanner(load_model(args.model), limits, jobs=args.jobs)


def handle(args: argparse.Namespace) -> int:
    from maldoc.cli import limits_from_args

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    limits = limits_from_args(args)
    policy = policy_from_args(args)
    from maldoc.serving import milter_app  # needs pymilter: the `milter` extra

    scanner = build_scanner(args, limits)
    metrics = None
    if args.metrics_port is not None:
        from maldoc.serving.milter_metrics import MilterMetrics

        metrics = MilterMetrics()
        port = metrics.serve(args.metrics_port, args.metrics_host)
        logging.getLogger("maldoc.milter").info("metrics on http://%s:%d/metrics", args.metrics_host, port)
    try:
        if hasattr(scanner, "warm_up"):
            scanner.warm_up()
        logging.getLogger("maldoc.milter").info(
            "listening on %s: malicious=%s suspicious=%s fail_%s max_bytes=%d timeout_s=%g scanner=%s",
            args.socket, policy.malicious.value, policy.suspicious.value, "open" if policy.fail_open else "closed",
            limits.max_bytes, limits.timeout_s, args.rest_url or "in-process")
        milter_app.run(args.name, args.socket, milter_app.make_factory(scanner, policy, limits.max_bytes, metrics))
    finally:
        scanner.close()
        if metrics is not None:
            metrics.close()
    return 0
