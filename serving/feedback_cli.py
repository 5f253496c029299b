"""`maldoc feedback SHA256 --label benign|malicious`: record an analyst's label.

    maldoc feedback 3f5c...e1 --label malicious --note "macro drops a loader" --path /srv/quarantine/3f5c...e1
    maldoc feedback 3f5c...e1 --label benign --url http://maldoc:8080 --api-key KEY   (through the service)

Locally the record goes to the feedback store (`--db`, default $MALDOC_FEEDBACK_DB or the user
data folder); with `--url` it is posted to the service's `POST /v1/feedback`. The file itself is
never stored: `--path` says where the retraining pipeline finds it (the quarantine folder).
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("feedback", help="record an analyst's label for a file (retraining learns it)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sha256", metavar="SHA256", help="sha256 of the file")
    parser.add_argument("--label", required=True, choices=["benign", "malicious"], help="what the file really is")
    parser.add_argument("--note", default="", help="why (kept with the record)")
    parser.add_argument("--path", default="", metavar="PATH", help="where the file can be found (quarantine path)")
    parser.add_argument("--corrects", choices=["clean", "suspicious", "malicious", "error"],
                        help="the verdict this label corrects")
    parser.add_argument("--analyst", default=os.environ.get("USER", ""), help="who says so (default $USER)")
    parser.add_argument("--db", metavar="FILE",
                        help="feedback store (default $MALDOC_FEEDBACK_DB, else the user data dir)")
    parser.add_argument("--url", metavar="URL", help="post to a maldoc service instead of a local store")
    parser.add_argument("--api-key", default=os.environ.get("MALDOC_API_KEY"), metavar="KEY",
                        help="feedback or admin key for --url (default $MALDOC_API_KEY)")
    parser.set_defaults(func=handle)


def _post(url: str, key: str | None, body: dict) -> dict:
    import urllib.error
    import urllib.request

    from maldoc.cli import UsageError

    request = urllib.request.Request(url.rstrip("/") + "/v1/feedback", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"X-API-Key": key} if key else {})}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail")
        except ValueError:
            detail = exc.reason
        raise UsageError(f"{url}: HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UsageError(f"{url}: {getattr(exc, 'reason', exc)}") from None


def handle(args: argparse.Namespace) -> int:
    from maldoc.cli import UsageError
    from maldoc.serving.feedback import FeedbackError, FeedbackStore, default_db_path, normalize_sha256

    try:
        sha = normalize_sha256(args.sha256)
    except FeedbackError as exc:
        raise UsageError(str(exc)) from None
    body = {"sha256": sha, "label": args.label, "note": args.note, "location": args.path, "corrects": args.corrects,
            "analyst": args.analyst}
    if args.url:
        print(json.dumps(_post(args.url, args.api_key, body), indent=2))
        return 0
    db = args.db or str(default_db_path())
    try:
        with FeedbackStore(db) as store:
            record = store.add(sha, args.label, note=args.note, location=args.path, corrects=args.corrects or "",
                               analyst=args.analyst, source="cli")
    except FeedbackError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps({**record.as_dict(), "db": db}, indent=2))
    print(f"recorded: {sha} is {args.label} ({db})", file=sys.stderr)
    return 0
