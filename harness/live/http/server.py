"""The harness's own HTTP server on 127.0.0.1: Fiks IO's send API, the catalogue's key
lookup, the document store's downloads and a Maskinporten-like token endpoint.

The standard library's `ThreadingHTTPServer` serves it: four small routes, one
request a thread, no framework between the request and the history. Multipart
bodies are parsed with the standard `email` parser. Decisions (what to answer, when
to strike a fault) are not made here: each request is handed to the run's `Routes`,
which takes it to the loop's thread.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

SEND_PATH = "/fiks-io/api/v1/send"
DOKUMENTLAGER_PATH = "/dokumentlager/nedlasting"
TOKEN_PATH = "/token"
CATALOGUE = re.compile(r"^/fiks-io/katalog/api/v1/kontoer/([^/]+)/offentligNokkel$")
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, value: Any) -> Answer:
        return cls(status, json.dumps(value, ensure_ascii=False).encode())


class Routes(Protocol):
    """None means: answer nothing and drop the connection (the client was killed)."""

    def send(
        self, metadata: dict[str, Any], data: bytes | None, auth: dict[str, str]
    ) -> Answer | None: ...
    def download(self, dokumentlager_id: str, auth: dict[str, str]) -> Answer | None: ...
    def token(self) -> Answer: ...
    def catalogue(self, account: str) -> Answer: ...


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = BytesParser(policy=HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise ValueError("the body is not multipart/form-data")
    parts: dict[str, bytes] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = payload if isinstance(payload, bytes) else b""
    return parts


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests go into the history, not onto stderr

    def _auth(self) -> dict[str, str]:
        return {
            k: self.headers.get(k, "")
            for k in ("Authorization", "IntegrasjonId", "IntegrasjonPassord")
        }

    def _answer(self, answer: Answer | None) -> None:
        if answer is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(answer.body)

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if not 0 <= length <= MAX_BODY:
            return None
        return self.rfile.read(length)

    def do_POST(self) -> None:
        routes = self.server.routes
        path = self.path.split("?", 1)[0]
        body = self._body()
        if body is None:
            self._answer(Answer.json(400, {"error": "a Content-Length of at most 16 MiB"}))
            return
        if path == TOKEN_PATH:
            self._answer(routes.token())
            return
        if path != SEND_PATH:
            self._answer(Answer.json(404, {"error": f"no route POST {path}"}))
            return
        try:
            parts = parse_multipart(self.headers.get("Content-Type", ""), body)
            metadata = json.loads(parts["metadata"])
            if not isinstance(metadata, dict):
                raise ValueError("metadata is not a JSON object")
        except (KeyError, ValueError) as exc:
            why = "no part named metadata" if isinstance(exc, KeyError) else str(exc)
            self._answer(Answer.json(400, {"error": f"a multipart body with metadata: {why}"}))
            return
        self._answer(routes.send(metadata, parts.get("data"), self._auth()))

    def do_GET(self) -> None:
        routes = self.server.routes
        path = self.path.split("?", 1)[0]
        if path.startswith(DOKUMENTLAGER_PATH + "/"):
            self._answer(routes.download(path[len(DOKUMENTLAGER_PATH) + 1 :], self._auth()))
            return
        match = CATALOGUE.match(path)
        if match:
            self._answer(routes.catalogue(match.group(1)))
            return
        self._answer(Answer.json(404, {"error": f"no route GET {path}"}))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: Routes


class FiksIoServer:
    """Started on a free loopback port; `stop()` closes it."""

    def __init__(self, routes: Routes) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.routes = routes
        self.port = int(self._server.server_address[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="harness-http", daemon=True
        )
        self._thread.start()

    @property
    def send_url(self) -> str:
        return self.base + SEND_PATH

    @property
    def dokumentlager_url(self) -> str:
        return self.base + DOKUMENTLAGER_PATH

    @property
    def token_url(self) -> str:
        return self.base + TOKEN_PATH

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
