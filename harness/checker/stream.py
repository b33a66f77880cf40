"""The checker for runs too long to keep: it judges each report once it has settled
and forgets it, so memory follows the reports in flight, not the length of the run.

A report settles when nothing more can happen to it (see world.py): the harness
then reads its records through a fresh instance and emits `record` events and a
`settled` event; this checker judges the report on the spot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.checker.clauses import (
    Violation,
    default_resolution_bound,
    judge_report,
    unreadable_records,
)
from harness.checker.outcomes import Facts, FactsBuilder, Outcome
from harness.core.history import HARNESS, Event

KEEP_VIOLATIONS = 100  # the first ones are kept whole; the rest are counted


@dataclass
class Summary:
    """What a streamed run leaves: counts, and the first violations."""

    counts: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)  # clause -> reports that broke it
    warnings: Counter[str] = field(default_factory=Counter)
    exercised: set[str] = field(default_factory=set)
    violations: list[Violation] = field(default_factory=list)
    peak_open: int = 0  # the most reports held at once: what memory follows


class StreamingCheck:
    def __init__(self, resolution_bound: int | None = None) -> None:
        self._bound = default_resolution_bound() if resolution_bound is None else resolution_bound
        self._builder = FactsBuilder()
        self.summary = Summary()

    def feed(self, e: Event) -> None:
        self._builder.feed(e)
        if e.component == HARNESS and e.kind == "settled" and e.report is not None:
            self._judge(e.report, e.t)
        open_now = len(self._builder.facts.reports)
        self.summary.peak_open = max(self.summary.peak_open, open_now)

    def _judge(self, key: str, now: int) -> None:
        facts = self._builder.facts
        r = facts.reports.pop(key, None)
        if r is None:
            return
        r.end_delivery()
        # A settled report is judged as if the run ended now: nothing more can happen to it.
        view = Facts(end_at=now, end_event=self._builder.index - 1, aborted=facts.aborted)
        one = judge_report(key, r, view, self._bound)
        if one is not None:
            self._add(one.outcomes.values(), one.violations, one.warnings, one.exercised)

    def _add(
        self,
        outcomes: Iterable[Outcome],
        violations: list[Violation],
        warnings: list[Violation],
        exercised: set[str],
    ) -> None:
        s = self.summary
        s.counts.update(o.value for o in outcomes)
        s.failed.update(v.clause for v in violations)
        s.warnings.update(w.clause for w in warnings)
        s.exercised |= exercised | {v.clause for v in violations}
        room = KEEP_VIOLATIONS - len(s.violations)
        s.violations += violations[: max(0, room)]

    def finish(self) -> Summary:
        facts = self._builder.finish()
        for key in list(facts.reports):
            self._judge(key, facts.end_at)
        unreadable = unreadable_records(facts)
        if unreadable is not None:
            self._add((), [unreadable], [], set())
        return self.summary
