"""Where the fault plan strikes an HTTP request: before the server sees it, or after
the server applied it. Waiting happens in virtual time (the loop's clock moves on).

Nothing here knows the client library: a broken connection is a `Broken` with its
kind, and each door (http_doors.py) raises it as its library would, after that
library's own retries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

from harness.core.timing import SECOND
from harness.sim.context import Sim
from harness.sim.http_api import Answer, Request, problem

BEFORE = ("connect_error", "timeout_before", "server_error", "rate_limited")
AFTER = ("response_lost", "timeout_after", "slow")
ON_DOWNLOAD = ("truncated", "corrupt")
SLOW = 20 * SECOND  # how long a slow answer takes
NO_TIMEOUT_WAIT = 60 * SECOND  # a client without a timeout waits this long, till a proxy cuts it
RETRY_AFTER = "30"

# record(request, applied, **data): one history event for the request
Record = Callable[..., None]


Breakage = Literal["connect_error", "connect_timeout", "reset", "read_timeout"]


class Broken(Exception):
    """The connection failed: before the server saw the request (`connect_error`,
    `connect_timeout`: a client may retry it) or after it applied it (`reset`,
    `read_timeout`). The door turns it into its library's exception."""

    def __init__(self, kind: Breakage, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def ms(seconds: Any) -> int | None:
    return None if seconds is None else int(float(seconds) * 1000)


def _message(request: Request, what: str, point: str) -> str:
    return f"harness: {request.method} {request.path}: {what} (injected: {point})"


def strike_before(sim: Sim, request: Request, record: Record) -> Answer | None:
    """A fault before the server applies anything: raises, or answers, or None."""
    for kind in BEFORE:
        point = f"http.{request.endpoint}.{kind}"
        if not sim.injector.hit(point):
            continue
        if kind == "connect_error":
            record(request, False, error="ConnectionError", fault=point)
            raise Broken(
                "connect_error",
                _message(request, "connection refused; the server never saw it", point),
            )
        if kind == "timeout_before":
            waited = request.timeout[0] or NO_TIMEOUT_WAIT
            sim.loop.advance(waited)
            record(request, False, error="ConnectTimeout", fault=point, waited_ms=waited)
            raise Broken(
                "connect_timeout",
                _message(request, "connect timed out; the server never saw it", point),
            )
        if kind == "server_error":
            answer = problem(503, "service unavailable (injected); nothing was applied")
        else:
            answer = problem(
                429,
                "too many requests (injected); nothing was applied",
                **{"Retry-After": RETRY_AFTER},
            )
        record(request, False, status=answer.status, fault=point)
        return answer
    return None


def _damaged(body: bytes) -> bytes:
    mid = len(body) // 2
    return body[:mid] + bytes(b ^ 0xFF for b in body[mid : mid + 16]) + body[mid + 16 :]


def strike_after(sim: Sim, request: Request, answer: Answer, record: Record) -> Answer:
    """A fault after the server applied the request; the answer the client gets."""
    kinds = AFTER + (ON_DOWNLOAD if request.endpoint == "download" else ())
    for kind in kinds:
        point = f"http.{request.endpoint}.{kind}"
        if not sim.injector.hit(point):
            continue
        read = request.timeout[1]
        if kind == "response_lost":
            record(request, True, error="ConnectionError", fault=point)
            raise Broken(
                "reset",
                _message(request, "connection reset after the server applied the request", point),
            )
        if kind == "timeout_after" or (kind == "slow" and read is not None and read < SLOW):
            waited = read if read is not None else NO_TIMEOUT_WAIT
            sim.loop.advance(waited)
            record(request, True, error="ReadTimeout", fault=point, waited_ms=waited)
            raise Broken(
                "read_timeout",
                _message(request, "read timed out after the server applied the request", point),
            )
        if kind == "slow":
            sim.loop.advance(SLOW)
            record(request, True, status=answer.status, fault=point, took_ms=SLOW)
            return answer
        whole = answer.body
        if kind == "truncated":
            body, detail = (
                whole[: len(whole) // 2],
                f"cut to {len(whole) // 2} of {len(whole)} bytes",
            )
        else:
            body, detail = _damaged(whole), f"{min(16, len(whole) - len(whole) // 2)} bytes flipped"
        record(request, True, status=answer.status, fault=point, body=detail)
        return replace(answer, body=body)
    record(request, True, status=answer.status)
    return answer
