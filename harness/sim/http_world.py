"""HTTP as another door into the simulated world, served in-process.

While a run is simulated, every request an adapter makes with `requests` or with
`httpx` (sync) is answered here, inside the one event loop: nothing is sent onto
the network (http_doors.py puts each library's door in place). A reply POSTed to
the send API goes through the very channel `channel.reply` uses (durability
probe, routing by svar-til, the crash point after a reply), and a payload sent by
reference is downloaded from the document store. Faults of the plan strike at
`http.<endpoint>.<kind>`; every request is an event of the history, with its
method, path, outcome, fault, and whether the server had applied it. A URL the
harness does not serve is recorded and answered with an error that names it and
lists the endpoints that exist.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import unquote, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from harness.components.protocols import HttpEndpoints
from harness.core.history import HTTP
from harness.sim.context import Sim
from harness.sim.documents import DocumentStore
from harness.sim.http_api import Answer, Request, document, ok_json, parse_send, problem
from harness.sim.http_doors import DOORS, Refused, UnservedRequest, Wire, requests_timeout
from harness.sim.http_faults import Broken, strike_after, strike_before
from harness.sim.storage import SimulatedCrash

if TYPE_CHECKING:
    from harness.sim.case_slot import CaseSystemSlot

__all__ = ["HttpWorld", "UnservedRequest", "offline", "serve_with", "serving_handler"]


def _where(url: str) -> tuple[str, str]:
    """(scheme://host[:port], path) without user info, query or fragment (they may hold
    secrets, and the history keeps no secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}", parts.path or "/"


@contextlib.contextmanager
def offline(why: str) -> Iterator[None]:
    """No HTTP at all: every request fails with a ConnectionError that says `why`."""

    def refuse(wire: Wire) -> NoReturn:
        base, path = _where(wire.url)
        raise Refused(f"harness: {wire.method} {base}{path} was not sent: {why}")

    with DOORS.open(refuse):
        yield


class HttpWorld:
    def __init__(
        self, sim: Sim, slot: CaseSystemSlot, documents: DocumentStore, endpoints: HttpEndpoints
    ) -> None:
        self._sim = sim
        self._slot = slot
        self._documents = documents
        self.endpoints = endpoints
        self._send = _where(endpoints.send_url)
        self._docs = _where(endpoints.documents_url.rstrip("/"))
        self._sent = 0  # replies sent over HTTP: their ids never draw on the run's random source

    def serving(self) -> contextlib.AbstractContextManager[None]:
        """While open, `requests` and `httpx` calls are answered by this world, in-process."""
        return DOORS.open(self._answer)

    def _wait(self, wire: Wire) -> None:
        """A client's back-off before a retry: virtual time passes, and the timeline
        says so."""
        if wire.backoff is None:
            return
        ms, why = wire.backoff
        self._sim.loop.advance(ms)
        _, path = _where(wire.url)
        self._sim.record(
            HTTP, "backoff", self._slot.report, method=wire.method, path=path, waited_ms=ms, why=why
        )

    def describe(self) -> str:
        return (
            f"POST {self.endpoints.send_url} (the send API: replies) and "
            f"GET {self.endpoints.documents_url}/{{dokumentlager-id}}/{{file name}} "
            "(the document store: payloads sent by reference)"
        )

    # -- one request ---------------------------------------------------------
    def _answer(self, wire: Wire) -> Answer:
        slot = self._slot
        if slot.dead:  # a dead process sends nothing, even if it swallowed its crash
            raise SimulatedCrash("the case system is dead")
        self._wait(wire)
        method = wire.method
        base, path = _where(wire.url)
        if slot.probing:
            self._sim.record(HTTP, "refused", slot.report, method=method, url=base + path)
            raise Refused(
                f"harness: {method} {base}{path} was not sent: the instance the harness builds "
                "to read your records (durability check, reconciliation) gets no HTTP; read "
                "from storage only in find() and records()"
            )
        request = self._route(method, base, path, wire)
        if request is None:
            self._unserved(method, base + path)
        request.timeout = wire.timeout
        return self._serve(request)

    def _serve(self, request: Request) -> Answer:
        before = strike_before(self._sim, request, self._record)
        if before is not None:
            return before
        try:
            answer = request.apply()
        except SimulatedCrash:
            self._record(request, True, error="the client crashed")
            raise
        if not answer.applied:
            self._record(request, False, status=answer.status)
            return answer
        return strike_after(self._sim, request, answer, self._record)

    def _record(self, request: Request, applied: bool, **data: object) -> None:
        self._sim.record(
            HTTP,
            "request",
            request.report,
            method=request.method,
            path=request.path,
            server="applied" if applied else "not applied",
            **request.extra,
            **data,
        )

    def _unserved(self, method: str, url: str) -> NoReturn:
        self._sim.record(HTTP, "unserved", self._slot.report, method=method, url=url)
        raise Refused(
            f"harness: {method} {url} is not served inside the simulation, and nothing was "
            f"sent onto the network. It serves {self.describe()}. Take the URLs from "
            "env.http (CaseSystemEnv.http), not from your own configuration.",
            unserved=True,
        )

    # -- routing ---------------------------------------------------------------
    def _route(self, method: str, base: str, path: str, wire: Wire) -> Request | None:
        if (base, path.rstrip("/")) == (self._send[0], self._send[1].rstrip("/")):
            return self._send_request(method, path, wire)
        prefix = self._docs[1] + "/"
        if base == self._docs[0] and path.startswith(prefix):
            doc_id, _, name = unquote(path.removeprefix(prefix)).partition("/")
            shown = f"{prefix}{doc_id[:8]}…/{name}" if len(doc_id) > 9 else path  # a readable line
            return self._download_request(method, shown, doc_id, name)
        return None

    def _send_request(self, method: str, path: str, wire: Wire) -> Request:
        report = self._slot.report
        if method != "POST":
            answer = problem(405, "the send API takes POST", Allow="POST")
            return Request("send", method, path, report, lambda: answer)
        try:
            meta = parse_send(wire.content_type, wire.body)
        except ValueError as exc:
            answer = problem(400, str(exc))
            return Request("send", method, path, report, lambda: answer)
        channel = self._slot.channel_for(meta.svar_til)
        extra: dict[str, object] = {"meldingstype": meta.meldingstype}
        if channel is None:
            answer = problem(
                400,
                f"svarPaMelding {meta.svar_til!r} is not the melding-id of a message "
                "delivered to this account; a reply answers message.melding_id",
            )
            return Request("send", method, path, report, lambda: answer, extra=extra)

        def reply() -> Answer:
            channel.reply(meta.meldingstype, meta.body, via="http")
            self._sent += 1  # the send API makes a new message each time
            new_id = str(uuid.UUID(bytes=hashlib.sha256(b"%d" % self._sent).digest()[:16]))
            return ok_json(
                {
                    "meldingId": new_id,
                    "meldingType": meta.meldingstype,
                    "svarPaMelding": meta.svar_til,
                }
            )

        return Request("send", method, path, channel.report, reply, extra=extra)

    def _download_request(self, method: str, path: str, doc_id: str, name: str) -> Request:
        doc = self._documents.documents.get(doc_id)
        report = doc.report if doc is not None else self._slot.report
        if method != "GET":
            answer = problem(405, "the document store takes GET", Allow="GET")
        elif doc is None:
            answer = problem(
                404,
                f"no document {doc_id!r} in the document store; the id is "
                "message.headers['dokumentlager-id']",
            )
        elif name not in doc.files:
            answer = problem(
                404,
                f"document {doc_id!r} has no file {name!r}; its files: {', '.join(doc.files)}",
            )
        else:
            found = doc  # read when the request is applied: a fault may have damaged it
            return Request(
                "download", method, path, report, lambda: document(name, found.files[name])
            )
        return Request("download", method, path, report, lambda: answer)


# -- the process-isolation tier: requests handed across the process boundary ----------
# The adapter's process serves its own clients through the doors with a handler that
# forwards each try to the harness (serve_with); the harness answers it with the
# world's own handler (serving_handler). Across the boundary a request is a
# PreparedRequest and its outcome a `requests` exception, as isolation/ expects.
_Forward = Callable[[requests.PreparedRequest], tuple[int, dict[str, str], bytes]]
# A retry's back-off crosses the boundary in these headers, which the world removes.
_BACKOFF_MS, _BACKOFF_WHY = "X-Harness-Backoff-Ms", "X-Harness-Backoff-Why"


def serve_with(forward: _Forward) -> contextlib.AbstractContextManager[None]:
    """Answer every `requests` (and `httpx`) call of this process through `forward`
    while open (the adapter's process under `--isolation process`). The clients' own
    retries run here; each try is one forwarded request."""

    def handler(wire: Wire) -> Answer:
        prepared = requests.PreparedRequest()
        prepared.method, prepared.url, prepared.body = wire.method, wire.url, wire.body
        prepared.headers = CaseInsensitiveDict(wire.headers)
        if wire.backoff is not None:
            prepared.headers[_BACKOFF_MS] = str(wire.backoff[0])
            prepared.headers[_BACKOFF_WHY] = wire.backoff[1]
        connect, read = (None if t is None else t / 1000 for t in wire.timeout)
        prepared.req_kwargs = {"timeout": (connect, read)}  # type: ignore[attr-defined]
        try:
            status, headers, body = forward(prepared)
        except UnservedRequest as exc:
            raise Refused(str(exc), unserved=True) from None
        except requests.exceptions.ConnectTimeout as exc:
            raise Broken("connect_timeout", str(exc)) from None
        except requests.exceptions.ReadTimeout as exc:
            raise Broken("read_timeout", str(exc)) from None
        except requests.exceptions.ConnectionError as exc:
            text = str(exc)
            if "(injected: " not in text:
                raise Refused(text) from None
            applied = "after the server applied" in text
            raise Broken("reset" if applied else "connect_error", text) from None
        return Answer(status, body, dict(headers))

    return DOORS.open(handler)


def serving_handler() -> _Forward | None:
    """Who answers requests in this process now, as a function of a PreparedRequest
    (None: nobody, they would go out). Raises what a client would meet on one try."""
    if not DOORS.serving:
        return None
    handler = DOORS.current()

    def answer(prepared: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        timeout = getattr(prepared, "req_kwargs", {}).get("timeout")
        body = prepared.body if isinstance(prepared.body, bytes) else b""
        headers = CaseInsensitiveDict(prepared.headers)
        waited, why = headers.pop(_BACKOFF_MS, None), headers.pop(_BACKOFF_WHY, "")
        wire = Wire(
            str(prepared.method or "GET"),
            str(prepared.url),
            dict(headers),
            body,
            requests_timeout(timeout),
            None if waited is None or not waited.isdigit() else (int(waited), str(why)),
        )
        try:
            got = handler(wire)
        except Refused as refused:
            kind = UnservedRequest if refused.unserved else requests.exceptions.ConnectionError
            raise kind(str(refused), request=prepared) from None
        except Broken as broken:
            raise {
                "connect_timeout": requests.exceptions.ConnectTimeout,
                "read_timeout": requests.exceptions.ReadTimeout,
            }.get(broken.kind, requests.exceptions.ConnectionError)(
                str(broken), request=prepared
            ) from None
        return got.status, got.headers, got.body

    return answer
