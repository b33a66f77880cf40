"""The contract suite: a Hypothesis search per clause family, shrunk counterexamples.

Each family is searched on its own, so a counterexample is shrunk toward the
clauses of that family and is not displaced by a smaller failure elsewhere.
"""

from __future__ import annotations

import contextlib
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from harness.checker.clauses import CheckResult, check
from harness.components.protocols import CaseSystemFactory
from harness.engine.history import History
from harness.engine.world import Plan, RunResult, simulate
from harness.suite.strategies import plans

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

    @property
    def failed(self) -> set[str]:
        found = set(self.also_failed)
        if self.counterexample:
            found.update(self.counterexample.clauses)
        return found


class _Violated(Exception):
    """Raised inside the property so that Hypothesis shrinks the example."""


def _clauses_broken(run: RunResult, result: CheckResult, family: str) -> list[str]:
    return sorted(result.failed & set(FAMILIES[family]))


def search_family(
    family: str,
    factory: CaseSystemFactory,
    *,
    seed: int,
    examples: int,
    options: dict[str, str] | None = None,
) -> FamilyResult:
    if family not in FAMILIES:
        raise ValueError(f"unknown clause family {family!r}; known: {', '.join(FAMILIES)}")
    out = FamilyResult(family)
    last: list[Counterexample] = []
    searching = True  # False once Hypothesis has found a failure and is shrinking

    def run_plan(plan: Plan) -> None:
        nonlocal searching
        if last and last[-1].history.events and _aborted(last[-1].history) and searching is False:
            raise _Violated("hung")  # a hang repeats itself; do not wait for it again
        run = simulate(plan, factory, options=options)
        result = check(run.history)
        broken = _clauses_broken(run, result, family)
        if searching:
            out.examples += 1
            out.outcomes.update(o.value for o in result.outcomes.values())
            out.reached.update(run.reached)
            out.fired.update(run.fired)
            out.exercised |= result.exercised
            out.warnings.update(w.clause for w in result.warnings)
        if broken:
            searching = False
            last.append(Counterexample(family, plan, broken, result, run.history))
            raise _Violated(", ".join(broken))

    prop = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        phases=(Phase.generate, Phase.shrink),
        print_blob=False,
    )(
        hypothesis_seed(family_seed(seed, family))(
            given(plans(invalid=family == "rejection"))(run_plan)
        )
    )
    with contextlib.suppress(_Violated):
        prop()
    if last:
        final = last[-1]
        out.counterexample = final
        for cx in sorted(last, key=lambda c: c.plan.size):
            for clause in cx.clauses:
                if clause not in final.clauses and clause not in out.also_failed:
                    cx.shrunk = False
                    out.also_failed[clause] = cx
    return out


def family_seed(seed: int, family: str) -> int:
    """Each family searches its own examples, reproducibly from the one run seed."""
    return zlib.crc32(f"{seed}:{family}".encode())


def _aborted(history: History) -> bool:
    return any(e.kind == "aborted" for e in history.events[-3:])


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
        return Counterexample(
            data["family"],
            Plan.from_json(data["plan"]),
            list(data["clauses"]),
            check(history),
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
