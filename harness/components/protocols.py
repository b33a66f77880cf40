"""The typed protocols of the slots. A vendor implements `CaseSystem` and a factory.

Wire names (headers, message types) are the protocol's own strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from harness.core.wire import (  # re-exported: the wire names belong to the core
    BEKYMRINGSMELDING_ID,
    DOKUMENTLAGER_ID,
    EPOCH,
    FEILET,
    KLIENTMELDING_ID,
    MELDING_ID,
    MOTTATT,
    OFFENTLIG_V1,
    OFFENTLIG_V2,
    PRIVAT_V1,
    PRIVAT_V2,
    REPORT_JSON,
    REPORT_PDF,
    REPORT_TYPES,
    SERVERFEIL,
    SVAR_TIL,
    TIDSAVBRUDD,
)
from harness.sim.storage import Storage


@dataclass(frozen=True)
class IncomingMessage:
    """A message as the transport hands it to a consumer."""

    melding_id: str
    meldingstype: str
    headers: Mapping[str, str]
    files: Mapping[str, bytes] = field(default_factory=dict)
    redelivered: bool = False


class ReplyChannel(Protocol):
    """What a consumer may do with one delivered message (as the Fiks IO client allows)."""

    def reply(self, meldingstype: str, body: bytes | None = None) -> None: ...
    def ack(self) -> None: ...
    def nack(self) -> None: ...
    def nack_with_requeue(self) -> None: ...


@dataclass(frozen=True)
class StoredRecord:
    """One durable record as the case system reports it at reconciliation."""

    report_id: str
    files: Mapping[str, bytes]


@runtime_checkable
class CaseSystem(Protocol):
    """The case-system slot.

    `handle` consumes one delivered message; `records` lists every durable record
    and is called on a *fresh* instance after the run, so state kept only in
    memory does not count. `find(report_id)` is optional: when present the
    harness uses it to check durability at the moment a `mottatt` is sent.
    """

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None: ...
    def records(self) -> Iterable[StoredRecord]: ...


def _epoch_clock() -> datetime:
    return EPOCH


class Timer:
    """A timer an adapter asked for with `env.call_later`; `cancel()` stops it firing."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def _no_timers(delay_ms: float, fn: Callable[[], object]) -> Timer:
    """Outside a run (the factory's trial build, say) a timer never fires."""
    timer = Timer()
    timer.cancel()
    return timer


@dataclass(frozen=True)
class HttpEndpoints:
    """Where an adapter that uses `requests` or `httpx` reaches the simulated world over HTTP.

    The hosts are fake and served inside the process: nothing goes on the network.
    `send_url` is the transport's send API (`POST`, multipart: a `metadata` part with
    `meldingType` and `svarPaMelding`, and an optional `data` part); `documents_url`
    is the document store: `GET {documents_url}/{dokumentlager-id}/{file name}`.
    """

    send_url: str = "http://fiks-io.sim/fiks-io/api/v1/send"
    documents_url: str = "http://dokumentlager.sim/dokumentlager/api/v1/dokumenter"


@dataclass(frozen=True)
class CaseSystemEnv:
    """What the harness hands a factory: faultable storage, the target's options,
    the case system's own clock (virtual local time; a fault may skew it), the
    URLs of the simulated HTTP APIs, for adapters that reply and download over HTTP,
    and timers for deferred work.

    `call_later(delay_ms, fn)` runs `fn()` once, `delay_ms` virtual milliseconds
    later, in the same incarnation (a flush of a write-behind buffer, a job that
    works an inbox table, an outbox relay, a batch flushed on idle); it returns a
    `Timer` whose `cancel()` stops it. For periodic work, arm the next timer from
    `fn`. The work runs like `handle`: under the hang guard, in virtual time, with
    every crash point and storage fault; what it raises is a crash. A timer of an
    incarnation that crashed, or of an instance the harness built only to read your
    records, never fires: a dead process runs nothing.
    """

    storage: Storage
    options: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] = _epoch_clock
    http: HttpEndpoints = field(default_factory=HttpEndpoints)
    call_later: Callable[[float, Callable[[], object]], Timer] = _no_timers


CaseSystemFactory = Callable[[CaseSystemEnv], CaseSystem]


def find_records(system: CaseSystem, report_id: str) -> Sequence[StoredRecord]:
    """Records for one report, through `find` when the adapter has it."""
    finder = getattr(system, "find", None)
    if callable(finder):
        return list(finder(report_id))
    return [r for r in system.records() if r.report_id == report_id]


__all__ = [
    "BEKYMRINGSMELDING_ID",
    "DOKUMENTLAGER_ID",
    "EPOCH",
    "FEILET",
    "KLIENTMELDING_ID",
    "MELDING_ID",
    "MOTTATT",
    "OFFENTLIG_V1",
    "OFFENTLIG_V2",
    "PRIVAT_V1",
    "PRIVAT_V2",
    "REPORT_JSON",
    "REPORT_PDF",
    "REPORT_TYPES",
    "SERVERFEIL",
    "SVAR_TIL",
    "TIDSAVBRUDD",
    "CaseSystem",
    "CaseSystemEnv",
    "CaseSystemFactory",
    "HttpEndpoints",
    "IncomingMessage",
    "ReplyChannel",
    "StoredRecord",
    "Timer",
    "find_records",
]
