"""The contract suite: a Hypothesis search per clause family, shrunk counterexamples.

Each family is searched on its own, so a counterexample is shrunk toward the
clauses of that family and is not displaced by a smaller failure elsewhere. A
family runs as SLICES independent slices (units of work for parallel workers):
the first runs the sweep (suite/sweep.py), each searches its share of the budget
with a seed of its own, and the first slice to find a counterexample ends the
family, exactly as one long search would stop at its first failure.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings, target
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from harness.checker.clauses import CheckResult, check
from harness.components.protocols import CaseSystemFactory
from harness.core.history import History
from harness.core.plan import Plan
from harness.sim.world import simulate, uses_http
from harness.suite.stable import without_local_constants
from harness.suite.strategies import plans
from harness.suite.sweep import sweep_plans

# Injection points every plan of a family carries: the rejection family is about
# bad input, and a damaged message is how bad input reaches the case system.
AIMED_AT: dict[str, tuple[str, ...]] = {"rejection": ("transport.deliver.corrupt",)}

FAMILIES: dict[str, tuple[str, ...]] = {
    "delivery": ("SOR-1", "SOR-2", "SOR-5", "SOR-7"),
    "integrity": ("SOR-3", "SOR-4", "SOR-8"),
    "rejection": ("SOR-6",),
}
DEFAULT_EXAMPLES = 100
# Four slices a family: twelve units of work, enough to keep two or four workers busy.
SLICES = 4


@dataclass
class Counterexample:
    family: str
    plan: Plan
    clauses: list[str]
    check: CheckResult
    history: History
    shrunk: bool = True
    live: dict[str, Any] | None = None  # a live run's service, broker and plan (live/run.py)


@dataclass
class FamilyResult:
    family: str
    examples: int = 0  # plans run and checked: the sweep's and the search's
    swept: int = 0  # of which the sweep's
    hung: bool = False  # the adapter hung: every later example would hang too
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
    on_found: Callable[[set[str]], None] | None = None,
    sweep: bool = True,
) -> FamilyResult:
    """Every slice of one family in turn, up to the first that finds a counterexample.
    `sweep=False` leaves the sweep out (benchmarks measure the search on its own)."""
    parts: list[FamilyResult] = []
    for index in range(SLICES):
        parts.append(
            search_slice(
                family,
                index,
                factory,
                seed=seed,
                examples=examples,
                options=options,
                on_found=on_found,
                sweep=sweep,
            )
        )
        if ends_family(parts[-1]):
            break
    return merge_slices(family, parts)


def search_slice(
    family: str,
    index: int,
    factory: CaseSystemFactory,
    *,
    seed: int,
    examples: int,
    options: dict[str, str] | None = None,
    on_found: Callable[[set[str]], None] | None = None,
    sweep: bool = True,
) -> FamilyResult:
    """Slice `index` of a family whose whole budget is `examples`. Its result depends
    on nothing but its arguments, so slices may run anywhere, in any order."""
    if family not in FAMILIES:
        raise ValueError(f"unknown clause family {family!r}; known: {', '.join(FAMILIES)}")
    if not 0 <= index < SLICES:
        raise ValueError(f"slice {index} of {family!r} does not exist; slices: 0-{SLICES - 1}")
    http = adapter_uses_http(factory, options)
    always = AIMED_AT.get(family, ())
    strategy = plans(invalid=family == "rejection", always=always, http=http)
    return search(
        family,
        strategy,
        set(FAMILIES[family]),
        factory,
        seed=slice_seed(seed, family, index),
        examples=examples // SLICES + (index < examples % SLICES),
        options=options,
        on_found=on_found,
        sweep=sweep_plans(http=http, always=always) if sweep and index == 0 else (),
    )


def ends_family(part: FamilyResult) -> bool:
    """Whether the slices after this one would change nothing: one long search stops at
    its first counterexample, and a hanging adapter would only hang again."""
    return part.counterexample is not None or part.hung


def slices_to_merge(parts: Mapping[int, FamilyResult]) -> list[FamilyResult] | None:
    """The slices a family's result is merged from, given those finished so far (by
    index, in any order): each in order up to the first that ends the family, or all
    of them; None while a slice not yet finished could still end it earlier."""
    merged_from = []
    for index in range(SLICES):
        if index not in parts:
            return None
        merged_from.append(parts[index])
        if ends_family(parts[index]):
            break
    return merged_from


def merge_slices(family: str, parts: Sequence[FamilyResult]) -> FamilyResult:
    """One family's result from its slices, in slice order; slices after the first that
    ends the family are ignored, so results never depend on how many ran."""
    out = FamilyResult(family)
    for part in parts:
        out.examples += part.examples
        out.swept += part.swept
        out.outcomes.update(part.outcomes)
        out.reached.update(part.reached)
        out.fired.update(part.fired)
        out.exercised |= part.exercised
        out.warnings.update(part.warnings)
        for clause, cx in part.also_failed.items():
            known = out.also_failed.get(clause)
            if known is None or cx.plan.size < known.plan.size:
                out.also_failed[clause] = cx
        if ends_family(part):
            out.counterexample = part.counterexample
            out.hung = part.hung
            break
    final = out.counterexample.clauses if out.counterexample else []
    out.also_failed = {c: cx for c, cx in sorted(out.also_failed.items()) if c not in final}
    return out


def adapter_uses_http(factory: CaseSystemFactory, options: Mapping[str, str] | None) -> bool:
    """uses_http, once a process for each adapter where it can be looked up again."""
    frozen = tuple(sorted((options or {}).items()))
    try:
        hash(factory)
    except TypeError:  # a callable object without __hash__
        return uses_http(factory, dict(frozen))
    return _uses_http_cached(factory, frozen)


@cache
def _uses_http_cached(factory: CaseSystemFactory, options: tuple[tuple[str, str], ...]) -> bool:
    return uses_http(factory, dict(options))


def search(
    label: str,
    strategy: st.SearchStrategy[Plan],
    clauses: set[str],
    factory: CaseSystemFactory,
    *,
    seed: int,
    examples: int,
    options: dict[str, str] | None = None,
    on_found: Callable[[set[str]], None] | None = None,
    sweep: Sequence[Plan] = (),
) -> FamilyResult:
    """Run the `sweep` plans, then search `strategy` for a plan breaking any of
    `clauses`, and shrink it; a sweep plan that breaks one ends it there, unshrunk
    (it is as small as a plan gets). `on_found` gets the clauses each failing plan
    broke, before shrinking (benchmarks time detection with it)."""
    out = FamilyResult(label)
    failures: list[Counterexample] = []  # the failing examples, shrinking included
    seen: dict[str, Counterexample] = {}  # every clause broken while searching: smallest example
    searching = True  # False once a failure was found and Hypothesis is shrinking it
    sweeping = False

    def run_plan(plan: Plan) -> None:
        nonlocal searching
        if out.hung:
            # A hanging adapter hangs again: do not spend the guard's seconds on it. Fail
            # every example alike, so Hypothesis' final replay agrees (no Flaky error).
            _hung()
        run = simulate(plan, factory, options=options)
        result = check(run.history, plan.resolution_bound)
        if searching or run.hung:
            out.add_run(run.reached, run.fired, result)
            if result.failed and on_found is not None:
                on_found(result.failed)
            found = None  # one object for every clause this plan is the smallest for
            for clause in result.failed:
                known = seen.get(clause)
                if known is None or plan.size < known.plan.size:
                    found = found or Counterexample(
                        label, plan, sorted(result.failed), result, run.history, shrunk=False
                    )
                    seen[clause] = found
        if run.hung:
            out.hung = True
            _hung()
        if not sweeping:  # Hypothesis runs the search, not the sweep
            # Steer toward plans whose faults actually fire (a fault aimed at an
            # occurrence the run never reaches tests nothing).
            target(float(sum(run.fired.values())), label="faults fired")
        broken = sorted(result.failed & clauses)
        if broken:
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
            sweeping = True
            for plan in sweep:
                out.swept += 1
                run_plan(plan)
            sweeping = False
            if examples > 0:
                prop()
        except _Violated:
            pass
        except BaseExceptionGroup as group:  # several failures at once: all ours, or re-raise
            if group.split(_Violated)[1] is not None:
                raise
    if failures:
        out.counterexample = failures[-1]  # Hypothesis ends by replaying its smallest example
    final = out.counterexample
    for clause, cx in sorted(seen.items()):
        if final is None or clause not in final.clauses:
            # The counterexample itself, when it is what broke this clause too (always so
            # for a sweep plan): one file, not the same plan twice.
            out.also_failed[clause] = final if final and cx.plan == final.plan else cx
    return out


def slice_seed(seed: int, family: str, index: int) -> int:
    """Each slice searches its own examples, reproducibly from the one run seed."""
    if index == 0:
        return family_seed(seed, family)
    return zlib.crc32(f"{seed}:{family}:{index}".encode())


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
        "swept": fam.swept,
        "hung": fam.hung,
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
        examples=int(raw["examples"]),
        swept=int(raw.get("swept", 0)),
        hung=bool(raw.get("hung", False)),
        outcomes=Counter(raw["outcomes"]),
        reached=Counter(raw["reached"]),
        fired=Counter(raw["fired"]),
        exercised=set(raw["exercised"]),
        warnings=Counter(raw["warnings"]),
        counterexample=cx_from(raw["counterexample"]),
    )
    for clause, data in raw["also_failed"].items():
        cx = cx_from(data)
        if cx is not None:
            fam.also_failed[clause] = cx
    return fam
