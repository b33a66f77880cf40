"""The doors through which an adapter's HTTP client reaches the simulated world.

While something serves (a run, say), the one method of each client library that
would open a connection is replaced by one that asks the world instead, and put
back afterwards, so the library is left alone outside a run:

- `requests`: `HTTPAdapter.send`. Everything above it (sessions, auth, cookies,
  redirects, `raise_for_status`) is the library's own code. The adapter's own
  `max_retries` (urllib3's `Retry`) decides what is retried, exactly as urllib3
  does against a real server: connection errors and connect timeouts by its
  `connect` count, a connection lost or a read timeout after the server applied
  the request only for idempotent methods (its `allowed_methods`: never a POST
  unless the adapter says so), statuses in `status_forcelist`, and 413/429/503
  with `Retry-After`; between tries it waits `Retry-After` or its back-off, in
  virtual time. What the client gets at the end is what requests raises
  (`ConnectionError`, `ConnectTimeout`, `ReadTimeout`, `RetryError`) or the last
  answer.
- `httpx` (sync): `HTTPTransport.handle_request`, behind which an
  `httpx.MockTransport` is the server. The adapter's `httpx.Client`, its own
  `HTTPTransport(retries=N)` and the module-level `httpx.get/post` all go through
  it. `retries` retries what httpcore retries, a failed connect (`ConnectError`,
  `ConnectTimeout`), after waiting 0 s, 0.5 s, 1 s, 2 s... of virtual time;
  nothing else. An `AsyncClient` is refused with an error that says so.
  httpx is optional: without it installed only `requests` is served.

Why our own door and not `responses` or `respx`: both replace the library at a
point above its retry logic (responses emulates urllib3's status retries but never
retries a connection error nor waits; respx patches httpcore's pool, whose
connection retries it never runs), and what a retry policy does under faults is
what this door is for. A URL the harness does not serve, and every request where
no HTTP is allowed, fails at once, whatever the retry policy: it is a mistake in
the adapter's configuration, not a fault of the run.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout

from harness.sim.http_api import Answer
from harness.sim.http_faults import Broken, ms


class UnservedRequest(requests.exceptions.ConnectionError):
    """A request to a URL the harness does not serve (nothing left the process)."""


class Refused(Exception):
    """No HTTP for this request: the URL is not served, or HTTP is not allowed here.
    Raised by the world's handler; each door raises it as its library's connection
    error, at once."""

    def __init__(self, message: str, *, unserved: bool = False) -> None:
        super().__init__(message)
        self.unserved = unserved


@dataclass(frozen=True)
class Wire:
    """A request as the client put it on the wire, whichever library sent it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    timeout: tuple[int | None, int | None]  # (connect, read) in ms; None: no timeout
    # A retry: the client waited this long (ms) before it, and why (its back-off).
    backoff: tuple[int, str] | None = None

    @property
    def content_type(self) -> str:
        for key, value in self.headers.items():
            if key.lower() == "content-type":
                return value
        return ""


# handler(wire) -> the answer, or raises Broken / Refused / SimulatedCrash; a wire
# with a back-off is a retry, and the handler lets that much virtual time pass first.
Handler = Callable[[Wire], Answer]


class Doors:
    """The doors of the process, open while at least one world (or an `offline`
    block) serves; the innermost handler answers."""

    def __init__(self) -> None:
        self._serving: list[Handler] = []
        self._undo: list[Callable[[], None]] = []

    @contextlib.contextmanager
    def open(self, handler: Handler) -> Iterator[None]:
        self._serving.append(handler)
        if len(self._serving) == 1:
            self._install()
        try:
            yield
        finally:
            self._serving.pop()
            if not self._serving:
                self._uninstall()

    @property
    def serving(self) -> bool:
        return bool(self._serving)

    def current(self) -> Handler:
        return self._serving[-1]

    def _install(self) -> None:
        self._swap(HTTPAdapter, "send", _requests_send)
        httpx = _httpx()
        if httpx is not None:
            self._swap(httpx.HTTPTransport, "handle_request", _httpx_handle)
            self._swap(httpx.AsyncHTTPTransport, "handle_async_request", _httpx_async_refused)

    def _swap(self, cls: type, name: str, replacement: Callable[..., Any]) -> None:
        original = cls.__dict__[name]
        setattr(cls, name, replacement)
        self._undo.append(lambda: setattr(cls, name, original))

    def _uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


DOORS = Doors()


# -- requests ------------------------------------------------------------------------
class _Pool:
    """Stands for urllib3's connection pool in error messages (no pool exists)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)

    def __str__(self) -> str:
        return f"HTTPConnectionPool(host={self.host!r}, port={self.port})"


def requests_timeout(timeout: Any) -> tuple[int | None, int | None]:
    if isinstance(timeout, Timeout):
        connect, read = timeout.connect_timeout, timeout.read_timeout
        return ms(connect if isinstance(connect, (int, float)) else None), ms(
            read if isinstance(read, (int, float)) else None
        )
    if isinstance(timeout, tuple):
        return ms(timeout[0]), ms(timeout[1])
    return ms(timeout), ms(timeout)


def _urllib3_error(broken: Broken, pool: _Pool, url: str) -> Exception:
    """What urllib3 would have met at this point of a real connection."""
    if broken.kind == "connect_error":
        return NewConnectionError(pool, str(broken))  # type: ignore[arg-type]
    if broken.kind == "connect_timeout":
        return ConnectTimeoutError(pool, str(broken))
    if broken.kind == "read_timeout":
        return ReadTimeoutError(pool, url, str(broken))  # type: ignore[arg-type]
    return ProtocolError("Connection aborted.", ConnectionResetError(104, str(broken)))


def _as_requests_error(err: Exception, request: requests.PreparedRequest) -> Exception:
    """The exception requests' HTTPAdapter.send raises for what urlopen raised."""
    if isinstance(err, MaxRetryError):
        reason = err.reason
        if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
            return requests.exceptions.ConnectTimeout(err, request=request)
        if isinstance(reason, ResponseError):
            return requests.exceptions.RetryError(err, request=request)
        return requests.exceptions.ConnectionError(err, request=request)
    if isinstance(err, (ProtocolError, OSError)):
        return requests.exceptions.ConnectionError(err, request=request)
    if isinstance(err, ReadTimeoutError):
        return requests.exceptions.ReadTimeout(err, request=request)
    return err  # urllib3 lets it through (a Retry with total=False): so does requests


def _body(request: requests.PreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes):
        return body
    if hasattr(body, "read"):
        data = body.read()
        return data.encode() if isinstance(data, str) else bytes(data)
    return b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in body)


def _urllib3_response(answer: Answer, request: requests.PreparedRequest) -> HTTPResponse:
    try:
        reason = HTTPStatus(answer.status).phrase
    except ValueError:
        reason = ""
    return HTTPResponse(
        body=io.BytesIO(answer.body),
        headers=answer.headers,
        status=answer.status,
        reason=reason,
        preload_content=False,
        decode_content=False,
        request_method=request.method,
        request_url=request.url,
    )


def _requests_send(
    adapter: HTTPAdapter,
    request: requests.PreparedRequest,
    stream: bool = False,
    timeout: Any = None,
    verify: Any = True,
    cert: Any = None,
    proxies: Any = None,
) -> requests.Response:
    handler = DOORS.current()
    method, url = str(request.method or "GET"), str(request.url)
    wire = Wire(method, url, dict(request.headers), _body(request), requests_timeout(timeout))
    retries: Retry = adapter.max_retries
    pool = _Pool(url)
    while True:
        try:
            answer = handler(wire)
        except Refused as refused:
            kind = UnservedRequest if refused.unserved else requests.exceptions.ConnectionError
            raise kind(str(refused), request=request) from None
        except Broken as broken:
            error = _urllib3_error(broken, pool, url)
            try:
                retries = retries.increment(method, url, error=error, _pool=pool)  # type: ignore[arg-type]
            except Exception as exc:  # exhausted, or not retried: what urllib3 raises
                raise _as_requests_error(exc, request) from None
            why = f"urllib3 Retry after {broken.kind}"
            wire = replace(wire, backoff=(_ms_of(retries.get_backoff_time()), why))
            continue
        response = _urllib3_response(answer, request)
        has_retry_after = bool(response.headers.get("Retry-After"))
        if not retries.is_retry(method, response.status, has_retry_after):
            return adapter.build_response(request, response)
        try:
            retries = retries.increment(method, url, response=response, _pool=pool)  # type: ignore[arg-type]
        except MaxRetryError as exc:
            if retries.raise_on_status:
                raise requests.exceptions.RetryError(exc, request=request) from None
            return adapter.build_response(request, response)
        after = retries.get_retry_after(response) if retries.respect_retry_after_header else None
        delay = after if after is not None else retries.get_backoff_time()
        why = f"urllib3 Retry after HTTP {answer.status}"
        wire = replace(wire, backoff=(_ms_of(delay), why))


def _ms_of(seconds: float) -> int:
    return max(0, int(seconds * 1000))


# -- httpx ---------------------------------------------------------------------------
_HTTPX: list[Any] = []  # [module or None], looked up once


def _httpx() -> Any:
    """The httpx module when it is installed, else None. Imported when a door first
    opens, so an adapter that imports it only inside `handle` is served too."""
    if not _HTTPX:
        try:
            _HTTPX.append(importlib.import_module("httpx"))
        except ImportError:
            _HTTPX.append(None)
    return _HTTPX[0]


# httpcore 1.x waits this long before each retry of a failed connect (seconds).
_HTTPCORE_BACKOFF_FACTOR = 0.5


def _httpcore_delays() -> Iterator[float]:
    yield 0.0
    for n in itertools.count():
        yield _HTTPCORE_BACKOFF_FACTOR * 2**n


def _httpx_error(httpx: Any, broken: Broken) -> Any:
    return {
        "connect_error": httpx.ConnectError,
        "connect_timeout": httpx.ConnectTimeout,
        "read_timeout": httpx.ReadTimeout,
        "reset": httpx.ReadError,
    }[broken.kind]


def _httpx_handle(transport: Any, request: Any) -> Any:
    httpx = _httpx()
    handler = DOORS.current()
    timeouts = request.extensions.get("timeout", {})
    wire = Wire(
        str(request.method),
        str(request.url),
        dict(request.headers),
        request.read(),
        (ms(timeouts.get("connect")), ms(timeouts.get("read"))),
    )
    # What the transport was built with: HTTPTransport(retries=N) keeps it on its pool.
    retries_left = int(getattr(getattr(transport, "_pool", None), "_retries", 0) or 0)
    delays = _httpcore_delays()

    def serve(request: Any) -> Any:
        nonlocal retries_left, wire
        while True:
            try:
                answer = handler(wire)
            except Refused as refused:
                raise httpx.ConnectError(str(refused), request=request) from None
            except Broken as broken:
                if broken.kind in ("connect_error", "connect_timeout") and retries_left > 0:
                    retries_left -= 1
                    why = f"httpx transport retry after {broken.kind}"
                    wire = replace(wire, backoff=(_ms_of(next(delays)), why))
                    continue
                raise _httpx_error(httpx, broken)(str(broken), request=request) from None
            return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    return httpx.MockTransport(serve).handle_request(request)


def _httpx_async_refused(transport: Any, request: Any) -> Any:
    httpx = _httpx()
    raise httpx.ConnectError(
        f"harness: {request.method} {request.url} was not sent: httpx.AsyncClient is not "
        "served inside the simulation (handle() is synchronous); use httpx.Client",
        request=request,
    )
