"""Per-clause verdicts: pure functions from a history to violations.

Each clause says when it was *exercised* (the run gave it something to judge)
and lists its violations with the moment and one line saying what broke.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.checker.outcomes import LEGAL, Facts, Outcome, ReportFacts, gather, outcome_of
from harness.engine.context import Timing
from harness.engine.history import Event
from harness.engine.loop import MINUTE

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
    t = timing or Timing()
    return t.deadline + t.print_delay + MINUTE


def check(events: Iterable[Event], resolution_bound: int | None = None) -> CheckResult:
    bound = default_resolution_bound() if resolution_bound is None else resolution_bound
    facts = gather(events)
    result = CheckResult()
    for key, r in facts.reports.items():

        def add(
            clause: str, t: int, message: str, r: ReportFacts = r, event: int | None = None
        ) -> None:
            if event is None:
                event = r.terminal_event if t == r.terminal_at else facts.end_event
            result.violations.append(Violation(clause, r.label, t, message, r.key, event))

        outcome = outcome_of(r)
        result.outcomes[key] = outcome
        end = r.terminal_at if r.terminal_at is not None else facts.end_at
        if r.accepted_at is not None:
            result.exercised.update({"SOR-1", "SOR-7"})
        if r.records:
            result.exercised.update({"SOR-4", "SOR-8"})
        if r.deliveries > 1 or r.sends > 1:
            result.exercised.add("SOR-3")
        if r.sent_mottatt:
            result.exercised.add("SOR-2")
        if r.store_trouble and r.accepted_at is not None:
            result.exercised.add("SOR-5")
        if r.rejected_reason is not None or r.malformed_delivered:
            result.exercised.add("SOR-6")

        if outcome is Outcome.LOST:
            add("SOR-1", end, "the portal got `mottatt`, yet no record exists at the end")
        if outcome is Outcome.DUPLICATED:
            add("SOR-3", facts.end_at, f"{len(r.records)} records for one bekymringsmelding-id")
        if outcome is Outcome.CORRUPTED:
            add("SOR-4", facts.end_at, "the stored content differs from what was submitted")
        if outcome is Outcome.PHANTOM:
            add("SOR-8", facts.end_at, "a record for a report the portal never accepted")
        for t, index in r.mottatt_not_durable:
            add("SOR-2", t, "`mottatt` was sent while no durable record existed", event=index)
        if (
            outcome is Outcome.FALLBACK
            and r.fallback_trigger == "deadline"
            and r.acked_by_case_system
            and not r.sent_feilet
        ):
            add(
                "SOR-5",
                end,
                "the case system acked it without storing it or replying `feilet`;"
                " the portal learned only from its own deadline",
            )
        if r.rejected_reason == "":
            add("SOR-6", end, "refused without a reason")
        if r.malformed_delivered and (r.crashed_raising or r.records):
            what = "was stored" if r.records else "crashed the case system"
            add("SOR-6", end, f"a malformed message {what}")
        if outcome is Outcome.UNRESOLVED:
            why = f" ({facts.aborted})" if facts.aborted else ""
            add("SOR-7", facts.end_at, f"not resolved when the run ended{why}")
        elif (
            r.accepted_at is not None
            and r.terminal_at is not None
            and r.terminal_at - r.accepted_at > bound
        ):
            add(
                "SOR-7",
                r.terminal_at,
                f"resolved after {fmt_t(r.terminal_at - r.accepted_at)},"
                f" past the bound of {fmt_t(bound)}",
            )
        if outcome is Outcome.STORED and r.fallback_trigger is not None:
            result.warnings.append(
                Violation("W-1", r.label, end, "delivered twice: stored and also printed", key)
            )
    if facts.reconcile_failed:
        result.violations.append(
            Violation(
                "SOR-1",
                "all reports",
                facts.end_at,
                f"the case system's records could not be read: {facts.reconcile_failed}",
            )
        )
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
