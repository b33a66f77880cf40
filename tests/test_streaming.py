"""Streamed runs: the same verdict as a kept history, with every report forgotten once settled."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.checker.clauses import check
from harness.checker.stream import StreamingCheck
from harness.core.faults import CATALOGUE, Fault
from harness.core.plan import Plan
from harness.core.timing import MINUTE, SECOND
from harness.core.workload import ReportSpec, SteadyWorkload
from harness.report.timeline import render
from harness.sim.world import simulate
from harness.target import load_target

REPO = Path(__file__).resolve().parent.parent
CORE = [p.name for p in CATALOGUE if not p.name.startswith("http.")]


def mixed_plan(reports: int, seed: int, every: int = SECOND) -> Plan:
    rng = random.Random(seed)
    faults = tuple(dict.fromkeys(Fault(p, rng.randrange(reports)) for p in CORE for _ in (0, 1)))
    return Plan(seed, SteadyWorkload(reports, every), faults)


@pytest.mark.parametrize(
    "example", [None, "familia_2023", "dedup_on_melding_id", "no_transaction", "silent_drop"]
)
def test_a_streamed_run_judges_exactly_as_a_kept_history(example: str | None) -> None:
    spec = None if example is None else f"{REPO / 'examples' / example}.py:make_case_system"
    factory = load_target(spec).factory
    for plan in (mixed_plan(120, 1), mixed_plan(120, 2, every=3 * 60 * MINUTE)):
        kept = check(simulate(plan, factory, max_steps=10**6).history)
        stream = StreamingCheck()
        run = simulate(plan, factory, max_steps=10**6, stream=stream.feed)
        summary = stream.finish()
        assert len(run.history) == 0  # nothing kept
        assert {k: v for k, v in kept.counts.items() if v} == dict(summary.counts)
        assert sorted(kept.failed) == sorted(summary.failed)
        assert {w.clause for w in kept.warnings} == set(summary.warnings)


def test_reports_are_forgotten_once_settled() -> None:
    """Reports three hours apart: each settles long before the last one is sent, so the
    checker holds a handful at a time however long the run is."""
    stream = StreamingCheck()
    simulate(
        mixed_plan(200, 3, every=3 * 60 * MINUTE),
        load_target(None).factory,
        max_steps=10**6,
        stream=stream.feed,
    )
    summary = stream.finish()
    assert sum(summary.counts.values()) == 200 and not summary.failed
    assert summary.peak_open < 20


def test_steady_workload_makes_reports_on_demand() -> None:
    work = SteadyWorkload(1_000_000, MINUTE)
    assert len(work) == 1_000_000
    assert work[999_999] == ReportSpec(999_999 * MINUTE, "privat", 1)
    assert [s.form for s in work[:2]] == ["offentlig", "privat"]
    with pytest.raises(IndexError):
        work[1_000_000]


def test_a_focused_timeline_marks_the_right_lines() -> None:
    target = load_target(f"{REPO / 'examples' / 'memory_only.py'}:make_case_system")
    plan = Plan(0, tuple(ReportSpec(i * SECOND) for i in range(5)))
    run = simulate(plan, target.factory)
    result = check(run.history)
    lines = render(run.history.events, result.violations)
    assert "(only #0 of 5 reports shown" in lines[-1]
    for i, line in enumerate(lines):
        if "^^^" in line and "SOR-2" in line:
            assert "reply" in lines[i - 1] and "durable=False" in lines[i - 1]
        if "^^^" in line and "SOR-1" in line:
            assert "LEVERT" in lines[i - 1]
