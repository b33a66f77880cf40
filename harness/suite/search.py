"""The contract suite: a Hypothesis search per clause family, shrunk counterexamples.

Each family is searched on its own, so a counterexample is shrunk toward the
clauses of that family and is not displaced by a smaller failure elsewhere.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings, target
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from harness.checker.clauses import CheckResult, check
from harness.components.protocols import CaseSystemFactory
from harness.engine.history import History
from harness.engine.plan import Plan
from harness.engine.world import simulate, uses_http
from harness.suite.stable import without_local_constants
from harness.suite.strategies import plans

# Injection points every plan of a family carries: the rejection family is about
# bad input, and a damaged message is how bad input reaches the case system.
AIMED_AT: dict[str, tuple[str, ...]] = {"rejection": ("transport.deliver.corrupt",)}

FAMILIES: dict[str, tuple[str, ...]] = {
    "delivery": ("SOR-1", "SOR-2", "SOR-5", "SOR-7"),
    "integrity": ("SOR-3", "SOR-4", "SOR-8"),
    "rejection": ("SOR-6",),
}
DEFAULT_EXAMPLES = 100


@dataclass
class Counterexample:
    family: str
    plan: Plan
    clauses: list[str]
    check: CheckResult
    history: History
    shrunk: bool = True


@dataclass
class FamilyResult:
    family: str
    examples: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reached: Counter[str] = field(default_factory=Counter)
    fired: Counter[str] = field(default_factory=Counter)
    exercised: set[str] = field(default_factory=set)
    warnings: Counter[str] = field(default_factory=Counter)
    counterexample: Counterexample | None = None
    # Clauses broken by some example but not by the shrunk one: the smallest such example.
    also_failed: dict[str, Counterexample] = field(default_factory=dict)
    lines: list[Any] = field(default_factory=list)  # scenarios: one ReportLine per report
    problems: list[str] = field(default_factory=list)  # scenarios: expectations not met

    def add_run(self, reached: dict[str, int], fired: dict[str, int], result: CheckResult) -> None:
        """Count one simulated run into the totals."""
        self.examples += 1
        self.outcomes.update(o.value for o in result.outcomes.values())
        self.reached.update(reached)
        self.fired.update(fired)
        self.exercised |= result.exercised
        self.warnings.update(w.clause for w in result.warnings)

    @property
    def failed(self) -> set[str]:
        found = set(self.also_failed)
        if self.counterexample:
            found.update(self.counterexample.clauses)
        return found


def _hung() -> None:
    """One place that raises for a hang, so Hypothesis sees one failure, not two."""
    raise _Violated("the adapter hung")


class _Violated(Exception):
    """Raised inside the property so that Hypothesis shrinks the example."""


def search_family(
    family: str,
    factory: CaseSystemFactory,
    *,
    seed: int,
    examples: int,
    options: dict[str, str] | None = None,
    on_found: Callable[[], None] | None = None,
) -> FamilyResult:
    if family not in FAMILIES:
        raise ValueError(f"unknown clause family {family!r}; known: {', '.join(FAMILIES)}")
    strategy = plans(
        invalid=family == "rejection",
        always=AIMED_AT.get(family, ()),
        http=uses_http(factory, options),  # HTTP faults only for adapters that use HTTP
    )
    return search(
        family,
        strategy,
        set(FAMILIES[family]),
        factory,
        seed=family_seed(seed, family),
        examples=examples,
        options=options,
        on_found=on_found,
    )


def search(
    label: str,
    strategy: st.SearchStrategy[Plan],
    clauses: set[str],
    factory: CaseSystemFactory,
    *,
    seed: int,
    examples: int,
    options: dict[str, str] | None = None,
    on_found: Callable[[], None] | None = None,
) -> FamilyResult:
    """Search `strategy` for a plan breaking any of `clauses`, and shrink it.
    `on_found` is called once, when the first such plan turns up (benchmarks time it)."""
    out = FamilyResult(label)
    failures: list[Counterexample] = []  # the failing examples, shrinking included
    seen: dict[str, Counterexample] = {}  # every clause broken while searching: smallest example
    searching = True  # False once Hypothesis found a failure and is shrinking
    hung = False

    def run_plan(plan: Plan) -> None:
        nonlocal searching, hung
        if hung:
            # A hanging adapter hangs again: do not spend the guard's seconds on it. Fail
            # every example alike, so Hypothesis' final replay agrees (no Flaky error).
            _hung()
        run = simulate(plan, factory, options=options)
        result = check(run.history, plan.resolution_bound)
        if searching or run.hung:
            out.add_run(run.reached, run.fired, result)
            for clause in result.failed:
                known = seen.get(clause)
                if known is None or plan.size < known.plan.size:
                    seen[clause] = Counterexample(
                        label, plan, sorted(result.failed), result, run.history, shrunk=False
                    )
        if run.hung:
            hung = True
            _hung()
        # Steer toward plans whose faults actually fire (a fault aimed at an
        # occurrence the run never reaches tests nothing).
        target(float(sum(run.fired.values())), label="faults fired")
        broken = sorted(result.failed & clauses)
        if broken:
            if searching and on_found is not None:
                on_found()
            searching = False
            failures.append(Counterexample(label, plan, broken, result, run.history))
            raise _Violated(", ".join(broken))

    prop = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        phases=(Phase.generate, Phase.shrink),
        print_blob=False,
    )(hypothesis_seed(seed)(given(strategy)(run_plan)))
    with without_local_constants():
        try:
            prop()
        except _Violated:
            pass
        except BaseExceptionGroup as group:  # several failures at once: all ours, or re-raise
            if group.split(_Violated)[1] is not None:
                raise
    if failures:
        out.counterexample = failures[-1]  # Hypothesis ends by replaying its smallest example
    final = out.counterexample.clauses if out.counterexample else []
    out.also_failed = {c: cx for c, cx in sorted(seen.items()) if c not in final}
    return out


def family_seed(seed: int, family: str) -> int:
    """Each family searches its own examples, reproducibly from the one run seed."""
    return zlib.crc32(f"{seed}:{family}".encode())


# -- plain-data form, for xdist's workeroutput and for the report -----------------
def family_to_json(fam: FamilyResult) -> dict[str, object]:
    def cx_json(cx: Counterexample | None) -> dict[str, object] | None:
        if cx is None:
            return None
        return {
            "family": cx.family,
            "plan": cx.plan.to_json(),
            "clauses": cx.clauses,
            "shrunk": cx.shrunk,
            "history": [e.to_json() for e in cx.history.events],
        }

    return {
        "family": fam.family,
        "examples": fam.examples,
        "outcomes": dict(fam.outcomes),
        "reached": dict(fam.reached),
        "fired": dict(fam.fired),
        "exercised": sorted(fam.exercised),
        "warnings": dict(fam.warnings),
        "counterexample": cx_json(fam.counterexample),
        "also_failed": {k: cx_json(v) for k, v in fam.also_failed.items()},
    }


def family_from_json(raw: dict[str, Any]) -> FamilyResult:
    def cx_from(data: dict[str, Any] | None) -> Counterexample | None:
        if data is None:
            return None
        history = History.from_json(data["history"])
        plan = Plan.from_json(data["plan"])
        return Counterexample(
            data["family"],
            plan,
            list(data["clauses"]),
            check(history, plan.resolution_bound),
            history,
            bool(data["shrunk"]),
        )

    fam = FamilyResult(
        raw["family"],
        int(raw["examples"]),
        Counter(raw["outcomes"]),
        Counter(raw["reached"]),
        Counter(raw["fired"]),
        set(raw["exercised"]),
        Counter(raw["warnings"]),
        cx_from(raw["counterexample"]),
    )
    for clause, data in raw["also_failed"].items():
        cx = cx_from(data)
        if cx is not None:
            fam.also_failed[clause] = cx
    return fam
