"""Running a scenario: its fixed schedule once, then (with a profile) a Hypothesis search."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from hypothesis import strategies as st

from harness.checker.clauses import CLAUSE_IDS, CheckResult, check
from harness.components.protocols import CaseSystemFactory
from harness.core.history import PORTAL, History
from harness.core.plan import Plan
from harness.scenarios.model import Scenario
from harness.sim.world import simulate
from harness.suite.search import Counterexample, FamilyResult, search
from harness.suite.strategies import faults


@dataclass(frozen=True)
class ReportLine:
    """One report of a scenario run, as a person looks it up: when, where, what became of it."""

    index: int
    sent: str
    district: str
    outcome: str


def base_plan(scenario: Scenario) -> Plan:
    return Plan(
        scenario.seed, scenario.reports, scenario.faults, scenario.windows, scenario.deadline
    )


def report_lines(scenario: Scenario, history: History, result: CheckResult) -> list[ReportLine]:
    keys = {
        int(e.data["submission"]): str(e.report)
        for e in history
        if e.component == PORTAL and e.kind in ("accept", "reject")
    }
    lines = []
    for index, spec in enumerate(scenario.reports):
        fields = dict(spec.fields)
        outcome = result.outcomes.get(keys.get(index, ""))
        lines.append(
            ReportLine(
                index,
                fields.get("sendingstidspunkt", ""),
                fields.get("bydelsnavn", ""),
                outcome.value if outcome else "NOT SUBMITTED",
            )
        )
    return lines


def _profile_plans(scenario: Scenario, plan: Plan) -> st.SearchStrategy[Plan]:
    assert scenario.profile is not None
    drawn = st.lists(faults(scenario.profile.points), max_size=scenario.profile.max_faults)
    return drawn.map(
        lambda extra: replace(plan, faults=tuple(dict.fromkeys((*plan.faults, *extra))))
    )


def expectation_problems(
    scenario: Scenario, result: FamilyResult, counts: Counter[str], reference: bool
) -> list[str]:
    expect = scenario.expect
    if expect is None or (expect.target == "reference" and not reference):
        return []
    problems = []
    verdict = "fail" if result.failed else "pass"
    if expect.verdict and expect.verdict != verdict:
        problems.append(
            f"scenario {scenario.name}: expected verdict {expect.verdict}, got {verdict}"
        )
    for outcome, wanted in sorted(expect.outcomes.items()):
        if counts[outcome] != wanted:
            problems.append(
                f"scenario {scenario.name}: expected {outcome} = {wanted}, got {counts[outcome]}"
            )
    return problems


def run_scenario(
    scenario: Scenario,
    factory: CaseSystemFactory,
    *,
    reference: bool,
    options: dict[str, str] | None = None,
) -> FamilyResult:
    label = f"scenario:{scenario.name}"
    plan = base_plan(scenario)
    run = simulate(plan, factory, options=options, max_steps=max(200_000, 200 * len(plan.reports)))
    result = check(run.history, plan.resolution_bound)
    if scenario.profile is not None:
        out = search(
            label,
            _profile_plans(scenario, plan),
            set(CLAUSE_IDS),
            factory,
            seed=scenario.seed,
            examples=scenario.profile.examples,
            options=options,
        )
    else:
        out = FamilyResult(label)
    out.add_run(run.reached, run.fired, result)
    if result.failed and out.counterexample is None:
        out.counterexample = Counterexample(
            label, plan, sorted(result.failed), result, run.history, shrunk=False
        )
    out.lines = report_lines(scenario, run.history, result)
    counts = Counter(o.value for o in result.outcomes.values())
    out.problems = expectation_problems(scenario, out, counts, reference)
    return out
