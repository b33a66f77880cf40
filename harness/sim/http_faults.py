"""Where the fault plan strikes an HTTP request: before the server sees it, or after
the server applied it. Waiting happens in virtual time (the loop's clock moves on)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import requests

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


def _ms(seconds: Any) -> int | None:
    return None if seconds is None else int(float(seconds) * 1000)


def timeouts(timeout: Any) -> tuple[int | None, int | None]:
    """(connect, read) in ms from what the client passed as `timeout=`."""
    if isinstance(timeout, tuple):
        return _ms(timeout[0]), _ms(timeout[1])
    return _ms(timeout), _ms(timeout)


def _message(request: Request, what: str, point: str) -> str:
    return f"harness: {request.method} {request.path}: {what} (injected: {point})"


def strike_before(
    sim: Sim, request: Request, prepared: requests.PreparedRequest, record: Record
) -> Answer | None:
    """A fault before the server applies anything: raises, or answers, or None."""
    for kind in BEFORE:
        point = f"http.{request.endpoint}.{kind}"
        if not sim.injector.hit(point):
            continue
        if kind == "connect_error":
            record(request, False, error="ConnectionError", fault=point)
            raise requests.exceptions.ConnectionError(
                _message(request, "connection refused; the server never saw it", point),
                request=prepared,
            )
        if kind == "timeout_before":
            waited = timeouts(request.timeout)[0] or NO_TIMEOUT_WAIT
            sim.loop.advance(waited)
            record(request, False, error="ConnectTimeout", fault=point, waited_ms=waited)
            raise requests.exceptions.ConnectTimeout(
                _message(request, "connect timed out; the server never saw it", point),
                request=prepared,
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


def strike_after(
    sim: Sim, request: Request, answer: Answer, prepared: requests.PreparedRequest, record: Record
) -> Answer:
    """A fault after the server applied the request; the answer the client gets."""
    kinds = AFTER + (ON_DOWNLOAD if request.endpoint == "download" else ())
    for kind in kinds:
        point = f"http.{request.endpoint}.{kind}"
        if not sim.injector.hit(point):
            continue
        read = timeouts(request.timeout)[1]
        if kind == "response_lost":
            record(request, True, error="ConnectionError", fault=point)
            raise requests.exceptions.ConnectionError(
                _message(request, "connection reset after the server applied the request", point),
                request=prepared,
            )
        if kind == "timeout_after" or (kind == "slow" and read is not None and read < SLOW):
            waited = read if read is not None else NO_TIMEOUT_WAIT
            sim.loop.advance(waited)
            record(request, True, error="ReadTimeout", fault=point, waited_ms=waited)
            raise requests.exceptions.ReadTimeout(
                _message(request, "read timed out after the server applied the request", point),
                request=prepared,
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
