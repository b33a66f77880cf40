"""Per-report facts gathered from a history in one pass."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from harness.components.protocols import FEILET, MOTTATT
from harness.engine import history as h
from harness.engine.history import Event


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
        r = facts.get(e.report)
        d = e.data
        match (e.component, e.kind):
            case (h.PORTAL, "accept"):
                r.submission, r.accepted_at, r.digest = d.get("submission"), e.t, d.get("digest")
            case (h.PORTAL, "reject"):
                r.submission = d.get("submission")
                r.rejected_reason = str(d.get("reason") or "")
            case (h.PORTAL, "send"):
                r.sends += 1
            case (h.PORTAL, "state"):
                r.state = d.get("state")
                if r.state in TERMINAL_STATES and r.terminal_at is None:
                    r.terminal_at, r.terminal_event = e.t, i
            case (h.PORTAL, "fallback"):
                r.fallback_trigger = r.fallback_trigger or d.get("trigger")
            case (h.PORTAL, "receipt") if d.get("meldingstype") == MOTTATT:
                r.got_mottatt = True
            case (h.TRANSPORT, "deliver"):
                r.end_delivery()
                r.deliveries += 1
                r.current = Delivery(malformed=bool(d.get("malformed")))
                r.malformed_delivered |= r.current.malformed
            case (h.TRANSPORT, "fault") if "damaged_digest" in d:
                r.damaged.add(str(d["damaged_digest"]))
            case (h.CASE_SYSTEM, "ack"):
                now = r.current = r.current or Delivery()
                now.acked = True
                if d.get("answered") is False and d.get("durable") is False:
                    now.silent_ack = (e.t, i)
            case (h.CASE_SYSTEM, "reply"):
                now = r.current = r.current or Delivery()
                kind, durable = d.get("meldingstype"), d.get("durable") is not False
                now.replied = True
                now.answered |= kind == FEILET or (kind == MOTTATT and durable)
                if kind == MOTTATT:
                    r.sent_mottatt = True
                    r.swallowed_malformed |= now.malformed and not durable
                    if not durable:
                        r.mottatt_not_durable.append((e.t, i))
            case (h.CASE_SYSTEM, "crash"):
                r.store_trouble = True
                malformed = r.current is not None and r.current.malformed
                r.crashed_on_malformed |= malformed and d.get("cause") in ("raised", "hung")
                r.end_delivery()
            case (h.STORAGE, "fault"):
                r.store_trouble = True
            case (h.HARNESS, "record"):
                r.records.append(str(d.get("digest")))

    def finish(self) -> Facts:
        for r in self.facts.reports.values():
            r.end_delivery()
        return self.facts


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
