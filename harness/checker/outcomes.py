"""Per-report facts gathered from a history in one pass."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.core import history as h
from harness.core.history import Event
from harness.core.wire import FEILET, MOTTATT


class Outcome(StrEnum):
    STORED = "STORED"
    FALLBACK = "FALLBACK"
    REJECTED = "REJECTED"
    LOST = "LOST"
    DUPLICATED = "DUPLICATED"
    CORRUPTED = "CORRUPTED"
    UNRESOLVED = "UNRESOLVED"
    PHANTOM = "PHANTOM"


LEGAL = frozenset({Outcome.STORED, Outcome.FALLBACK, Outcome.REJECTED})
TERMINAL_STATES = frozenset({"LEVERT", "AVVIST_PRINT"})


@dataclass
class Delivery:
    """What the case system did with one delivery; judged when the delivery is over."""

    malformed: bool = False
    answered: bool = False  # `feilet`, or a `mottatt` backed by a record
    replied: bool = False  # any reply at all
    acked: bool = False
    silent_ack: tuple[int, int] | None = None  # (t, event): acked unanswered, nothing stored


@dataclass
class ReportFacts:
    key: str
    submission: int | None = None
    accepted_at: int | None = None
    digest: str | None = None
    rejected_reason: str | None = None
    state: str | None = None
    terminal_at: int | None = None
    fallback_trigger: str | None = None
    got_mottatt: bool = False
    deliveries: int = 0
    malformed_delivered: bool = False
    incomplete: bool = False  # accepted without a usable PDF: every delivery is malformed
    damaged: set[str] = field(default_factory=set)  # digests of its content as damaged in transit
    current: Delivery | None = None
    crashed_on_malformed: bool = False
    swallowed_malformed: bool = False  # a damaged delivery acked or confirmed without a record
    # (t, event, replied later): acked without a reply while no record existed
    silent_acks: list[tuple[int, int, bool]] = field(default_factory=list)
    store_trouble: bool = False  # a storage fault or a crash struck while it was handled
    mottatt_not_durable: list[tuple[int, int]] = field(default_factory=list)  # (t, event)
    terminal_event: int | None = None
    sent_mottatt: bool = False
    records: list[str] = field(default_factory=list)  # digests of its durable records
    # (t, event, why): a reply package the portal could not decrypt or verify (live tier)
    unreadable_replies: list[tuple[int, int, str]] = field(default_factory=list)
    sends: int = 0

    def end_delivery(self) -> None:
        d, self.current = self.current, None
        if d is None:
            return
        if d.silent_ack is not None:
            self.silent_acks.append((*d.silent_ack, d.replied))
        if d.malformed and d.acked and not d.answered:
            self.swallowed_malformed = True

    @property
    def label(self) -> str:
        if self.submission is not None:
            return f"report #{self.submission} ({self.key[:8]})"
        return f"record {self.key[:8]}"


@dataclass
class Facts:
    reports: dict[str, ReportFacts] = field(default_factory=dict)
    completed: bool = True
    end_at: int = 0
    end_event: int | None = None
    reconcile_failed: str | None = None
    aborted: str | None = None

    def get(self, key: str) -> ReportFacts:
        facts = self.reports.get(key)
        if facts is None:
            facts = self.reports[key] = ReportFacts(key)
        return facts


class FactsBuilder:
    """Takes a history one event at a time: the batch checker and the streaming one share it."""

    def __init__(self) -> None:
        self.facts = Facts()
        self.index = 0  # the next event's position in the history

    def feed(self, e: Event) -> None:
        i, facts = self.index, self.facts
        self.index += 1
        if e.report is None:
            if e.component == h.HARNESS and e.kind == "end":
                facts.completed = bool(e.data.get("completed", True))
                facts.end_at = e.t
                facts.end_event = i
            elif e.kind == "reconcile_failed":
                facts.reconcile_failed = str(e.data.get("detail", ""))
            elif e.kind == "aborted":
                facts.aborted = str(e.data.get("reason", ""))
            return
        r = facts.get(e.report)  # every event opens its report, even one of a kind skipped
        on = _ON.get((e.component, e.kind))
        if on is not None:
            on(r, e.t, e.data, i)

    def finish(self) -> Facts:
        for r in self.facts.reports.values():
            r.end_delivery()
        return self.facts


# What each kind of event tells about its report: (facts, t, data, event index).
# A table rather than a `match`: most events of a run are kinds the checker skips,
# and a look-up rules them out at once instead of after every pattern.
def _accept(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    r.submission, r.accepted_at, r.digest = d.get("submission"), t, d.get("digest")
    if d.get("incomplete"):  # invalid for the case system: storing it as sent is storing bad input
        r.incomplete = True
        r.damaged.add(str(r.digest))


def _reject(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    r.submission = d.get("submission")
    r.rejected_reason = str(d.get("reason") or "")


def _send(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    r.sends += 1


def _state(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    r.state = d.get("state")
    if r.state in TERMINAL_STATES and r.terminal_at is None:
        r.terminal_at, r.terminal_event = t, i


def _fallback(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    r.fallback_trigger = r.fallback_trigger or d.get("trigger")


def _receipt(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    if d.get("meldingstype") == MOTTATT:
        r.got_mottatt = True


def _deliver(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    r.end_delivery()
    r.deliveries += 1
    r.current = Delivery(malformed=bool(d.get("malformed")) or r.incomplete)
    r.malformed_delivered |= r.current.malformed


def _transport_fault(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    if "damaged_digest" in d:
        r.damaged.add(str(d["damaged_digest"]))


def _ack(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    now = r.current = r.current or Delivery()
    now.acked = True
    if d.get("answered") is False and d.get("durable") is False:
        now.silent_ack = (t, i)


def _reply(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    now = r.current = r.current or Delivery()
    kind, durable = d.get("meldingstype"), d.get("durable") is not False
    now.replied = True
    now.answered |= kind == FEILET or (kind == MOTTATT and durable)
    if kind == MOTTATT:
        r.sent_mottatt = True
        r.swallowed_malformed |= now.malformed and not durable
        if not durable:
            r.mottatt_not_durable.append((t, i))


def _crash(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    r.store_trouble = True
    malformed = r.current is not None and r.current.malformed
    r.crashed_on_malformed |= malformed and d.get("cause") in ("raised", "hung")
    r.end_delivery()


def _storage_fault(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    r.store_trouble = True


def _unreadable(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    r.unreadable_replies.append((t, i, f"{d.get('meldingstype')}: {d.get('detail')}"))


def _record(r: ReportFacts, t: int, d: Mapping[str, Any], i: int) -> None:
    r.records.append(str(d.get("digest")))


_ON: dict[tuple[str, str], Callable[[ReportFacts, int, Mapping[str, Any], int], None]] = {
    (h.PORTAL, "accept"): _accept,
    (h.PORTAL, "reject"): _reject,
    (h.PORTAL, "send"): _send,
    (h.PORTAL, "state"): _state,
    (h.PORTAL, "fallback"): _fallback,
    (h.PORTAL, "receipt"): _receipt,
    (h.TRANSPORT, "deliver"): _deliver,
    (h.TRANSPORT, "fault"): _transport_fault,
    (h.CASE_SYSTEM, "ack"): _ack,
    (h.CASE_SYSTEM, "reply"): _reply,
    (h.CASE_SYSTEM, "crash"): _crash,
    (h.CASE_SYSTEM, "reply_unreadable"): _unreadable,
    (h.STORAGE, "fault"): _storage_fault,
    (h.HARNESS, "record"): _record,
}


def gather(events: Iterable[Event]) -> Facts:
    builder = FactsBuilder()
    for e in events:
        builder.feed(e)
    return builder.finish()


def outcome_of(r: ReportFacts) -> Outcome | None:
    """One label per report, worst first. The clauses are judged separately (clauses.py)."""
    if r.rejected_reason is not None:
        return Outcome.REJECTED
    if r.accepted_at is None:
        return Outcome.PHANTOM if r.records else None
    if len(r.records) > 1:
        return Outcome.DUPLICATED
    if r.records and r.records[0] != r.digest:
        return Outcome.CORRUPTED
    if r.terminal_at is None:
        return Outcome.UNRESOLVED
    if r.records:
        return Outcome.STORED
    if r.fallback_trigger is not None:
        return Outcome.FALLBACK
    return Outcome.LOST
