"""A fake KFP API server on loopback (v2beta1: experiments, runs, recurring runs) that records
what it was sent; `required_token` makes it refuse (403) requests without that bearer token."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


class FakeKFP(BaseHTTPRequestHandler):
    """Just enough of KFP's v2beta1 REST API: experiments, runs, recurring runs."""

    requests: ClassVar[list[tuple[str, str, dict]]] = []
    tokens: ClassVar[list[str | None]] = []  # the Authorization header of every request
    required_token: ClassVar[str | None] = None  # when set, other requests get 403 (a refusing host)

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refused(self) -> bool:
        self.tokens.append(self.headers.get("Authorization"))
        if self.required_token and self.headers.get("Authorization") != f"Bearer {self.required_token}":
            data = b'{"error": "access denied", "code": 7}'
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return True
        return False

    def do_GET(self) -> None:
        if self._refused():
            return
        self.requests.append(("GET", self.path, {}))
        if self.path.startswith("/apis/v2beta1/healthz"):
            self._reply({"multi_user": False})
        elif self.path.startswith("/apis/v2beta1/experiments"):
            self._reply({})  # no experiment of that name yet
        else:
            self._reply({})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self._refused():
            return
        self.requests.append(("POST", self.path, body))
        if self.path == "/apis/v2beta1/experiments":
            self._reply({"experiment_id": "exp-1", "display_name": body.get("display_name")})
        elif self.path == "/apis/v2beta1/runs":
            self._reply({"run_id": "run-1", "display_name": body.get("display_name"), "experiment_id": "exp-1"})
        elif self.path == "/apis/v2beta1/recurringruns":
            self._reply({"recurring_run_id": "job-1", "display_name": body.get("display_name")})
        else:
            self.send_error(404)


@contextmanager
def serve_fake_kfp() -> Iterator[str]:
    FakeKFP.requests, FakeKFP.tokens, FakeKFP.required_token = [], [], None
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKFP)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)




def posted(path: str) -> list[dict]:
    return [b for m, p, b in FakeKFP.requests if m == "POST" and p == path]
