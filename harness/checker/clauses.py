"""Per-clause verdicts: pure functions from a history to violations.

Each clause says when it was *exercised* (the run gave it something to judge)
and lists its violations with the moment and one line saying what broke.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from harness.checker.outcomes import LEGAL, Facts, Outcome, ReportFacts, gather, outcome_of
from harness.core.collector import paused_collector
from harness.core.history import Event
from harness.core.timing import Timing

CLAUSE_IDS = ("SOR-1", "SOR-2", "SOR-3", "SOR-4", "SOR-5", "SOR-6", "SOR-7", "SOR-8")
WARNING_IDS = ("W-1",)


@dataclass(frozen=True)
class Violation:
    clause: str
    report: str  # a readable label
    t: int
    message: str
    key: str | None = None  # the report's id in the history
    event: int | None = None  # index of the event where it broke, when one event shows it


@dataclass
class CheckResult:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    exercised: set[str] = field(default_factory=set)

    @property
    def failed(self) -> set[str]:
        return {v.clause for v in self.violations}

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(o.value for o in self.outcomes.values())
        return {o.value: c.get(o.value, 0) for o in Outcome}


def fmt_t(ms: int) -> str:
    """Virtual time as d+hh:mm:ss.mmm."""
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    return f"{d}+{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def default_resolution_bound(timing: Timing | None = None) -> int:
    return (timing or Timing()).resolution_bound


def _judge(r: ReportFacts, facts: Facts, bound: int) -> Iterator[tuple[str, int, str, int | None]]:
    """Every clause one report breaks: (clause, when, what, event index or None).

    Each clause is judged from the facts on its own, not from the report's single
    outcome label, so one violation never hides another.
    """
    end = r.terminal_at if r.terminal_at is not None else facts.end_at
    accepted = r.accepted_at is not None
    bad_records = [d for d in r.records if d != r.digest]
    if accepted and not r.records and r.terminal_at is not None and r.fallback_trigger is None:
        said = "the portal got `mottatt`" if r.got_mottatt else "the portal closed it as delivered"
        yield "SOR-1", end, f"{said}, yet no record exists at the end", None
    for t, index in r.mottatt_not_durable:
        yield "SOR-2", t, "`mottatt` was sent while no durable record existed", index
    if accepted and len(r.records) > 1:
        yield "SOR-3", facts.end_at, f"{len(r.records)} records for one bekymringsmelding-id", None
    if accepted and bad_records:
        yield "SOR-4", facts.end_at, "the stored content differs from what was submitted", None
    for t, index, replied_later in r.silent_acks:
        if replied_later:
            why = (
                "the case system acked a message before storing or answering it: a crash "
                "here leaves the portal to its own timer"
            )
        else:
            why = (
                "the case system acked a message it had not stored, without replying "
                "`feilet`: the portal hears nothing until its own timer fires"
            )
        yield "SOR-5", t, why, index
    if r.rejected_reason is not None:
        if not r.rejected_reason:
            yield "SOR-6", end, "refused without a reason", None
        if r.records:
            yield "SOR-6", facts.end_at, "a refused submission was stored", None
    if r.malformed_delivered:
        if r.crashed_on_malformed:
            yield "SOR-6", end, "a malformed message crashed the case system", None
        if r.damaged & set(r.records):
            yield "SOR-6", end, "a malformed message was stored", None
        if r.swallowed_malformed:
            yield "SOR-6", end, "a malformed message was taken without a `feilet` reply", None
    for t, index, why in r.unreadable_replies:
        yield "SOR-6", t, f"the portal could not read the case system's reply ({why})", index
    if accepted and r.terminal_at is None:
        why = f" ({facts.aborted})" if facts.aborted else ""
        yield "SOR-7", facts.end_at, f"not resolved when the run ended{why}", None
    elif accepted and r.terminal_at is not None and r.terminal_at - (r.accepted_at or 0) > bound:
        took = fmt_t(r.terminal_at - (r.accepted_at or 0))
        yield (
            "SOR-7",
            r.terminal_at,
            f"resolved after {took}, past the bound of {fmt_t(bound)}",
            None,
        )
    if not accepted and r.rejected_reason is None and r.records:
        yield "SOR-8", facts.end_at, "a record for a report the portal never accepted", None


def _exercised(r: ReportFacts) -> set[str]:
    """The clauses this report gave something to judge."""
    found = set()
    if r.accepted_at is not None:
        found |= {"SOR-1", "SOR-7"}
        if r.store_trouble or r.silent_acks:
            found.add("SOR-5")
    if r.records:
        found |= {"SOR-4", "SOR-8"}
    if r.deliveries > 1 or r.sends > 1:
        found.add("SOR-3")
    if r.sent_mottatt:
        found.add("SOR-2")
    if r.rejected_reason is not None or r.malformed_delivered or r.unreadable_replies:
        found.add("SOR-6")
    return found


def judge_report(key: str, r: ReportFacts, facts: Facts, bound: int) -> CheckResult | None:
    """One report's outcome, violations and warning; None for events about an id that
    nobody submitted and nothing stored (noise)."""
    outcome = outcome_of(r)
    if outcome is None:
        return None
    result = CheckResult({key: outcome}, exercised=_exercised(r))
    for clause, t, message, event in _judge(r, facts, bound):
        if event is None:
            event = r.terminal_event if t == r.terminal_at else facts.end_event
        result.violations.append(Violation(clause, r.label, t, message, key, event))
    if outcome is Outcome.STORED and r.fallback_trigger is not None:
        end = r.terminal_at if r.terminal_at is not None else facts.end_at
        result.warnings.append(
            Violation("W-1", r.label, end, "delivered twice: stored and also printed", key)
        )
    return result


def unreadable_records(facts: Facts) -> Violation | None:
    if facts.reconcile_failed is None:
        return None
    detail = facts.reconcile_failed or "no detail given"
    return Violation(
        "SOR-1",
        "all reports",
        facts.end_at,
        f"the case system's records could not be read: {detail}",
        None,
        facts.end_event,
    )


def check(events: Iterable[Event], resolution_bound: int | None = None) -> CheckResult:
    bound = default_resolution_bound() if resolution_bound is None else resolution_bound
    with paused_collector():  # a long history is walked once here, not at every collection
        facts = gather(events)
    result = CheckResult()
    for key, r in facts.reports.items():
        one = judge_report(key, r, facts, bound)
        if one is not None:
            result.outcomes.update(one.outcomes)
            result.exercised |= one.exercised
            result.violations += one.violations
            result.warnings += one.warnings
    unreadable = unreadable_records(facts)
    if unreadable is not None:
        result.violations.append(unreadable)
    result.exercised |= result.failed  # a clause that fails was, by definition, exercised
    result.violations.sort(key=lambda v: (v.t, v.clause, v.report))
    return result


__all__ = [
    "CLAUSE_IDS",
    "LEGAL",
    "WARNING_IDS",
    "CheckResult",
    "Facts",
    "Violation",
    "check",
    "fmt_t",
]
