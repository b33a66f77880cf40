"""Runs the contract suite for one target: every family, serially or on worker processes."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from harness.contracts import Contract, load_contract
from harness.scenarios.model import load as load_scenario
from harness.scenarios.runner import run_scenario
from harness.suite.search import (
    DEFAULT_EXAMPLES,
    FAMILIES,
    SLICES,
    Counterexample,
    FamilyResult,
    merge_slices,
    search_family,
    search_slice,
    slices_to_merge,
)
from harness.suite.workers import Workers
from harness.target import REFERENCE_SPEC, load_target

SCENARIO_PREFIX = "scenario:"


@dataclass(frozen=True)
class SuiteConfig:
    target: str | None = None
    seed: int = 0
    examples: int = DEFAULT_EXAMPLES
    workers: int = 1
    options: Mapping[str, str] = field(default_factory=dict)
    families: Sequence[str] = tuple(FAMILIES)
    scenarios: Sequence[str] = ()  # names or paths; when given, they run instead of families
    isolation: str = "inprocess"  # "process": the adapter runs in processes of its own

    @property
    def units(self) -> tuple[str, ...]:
        """What the run consists of: clause families, or `scenario:NAME_OR_PATH` entries."""
        if self.scenarios:  # each once, however often it was named
            return tuple(dict.fromkeys(f"{SCENARIO_PREFIX}{s}" for s in self.scenarios))
        return tuple(dict.fromkeys(self.families))


@dataclass(frozen=True)
class ClauseVerdict:
    id: str
    verdict: str  # pass | fail | not-exercised
    counterexample: Counterexample | None


@dataclass
class SuiteResult:
    config: SuiteConfig
    target: str
    families: list[FamilyResult]
    contract: Contract
    expects: set[str] | None = None
    live: dict[str, Any] | None = None  # a live run: tier, service, broker, limits (live/run.py)

    @property
    def clauses(self) -> list[ClauseVerdict]:
        out = []
        exercised = set().union(*(f.exercised for f in self.families))
        for clause in self.contract.clauses:
            # Prefer a shrunk counterexample of the clause's own family, then any example.
            shrunk = [
                f.counterexample
                for f in self.families
                if f.counterexample and clause.id in f.counterexample.clauses
            ]
            unshrunk = [
                f.also_failed[clause.id] for f in self.families if clause.id in f.also_failed
            ]
            candidates = shrunk or sorted(unshrunk, key=lambda c: c.plan.size)
            cx = candidates[0] if candidates else None
            verdict = "fail" if cx else "pass" if clause.id in exercised else "not-exercised"
            out.append(ClauseVerdict(clause.id, verdict, cx))
        return out

    @property
    def failed(self) -> list[str]:
        return [c.id for c in self.clauses if c.verdict == "fail"]

    @property
    def problems(self) -> list[str]:
        """Scenario expectations that were not met."""
        return [p for f in self.families for p in f.problems]

    @property
    def verdict(self) -> str:
        return "fail" if self.failed or self.problems else "pass"

    def total(self, attr: str) -> Counter[str]:
        total: Counter[str] = Counter()
        for fam in self.families:
            total.update(getattr(fam, attr))
        return total

    @property
    def counterexamples(self) -> list[Counterexample]:
        seen: list[Counterexample] = []
        for c in self.clauses:
            if c.counterexample is not None and all(c.counterexample is not s for s in seen):
                seen.append(c.counterexample)
        return seen


def _search_one(config: SuiteConfig, unit: str, index: int | None = None) -> FamilyResult:
    """One unit of work: a scenario, a whole family, or slice `index` of a family."""
    target = load_target(config.target, config.options, isolation=config.isolation)
    if unit.startswith(SCENARIO_PREFIX):
        scenario = load_scenario(unit.removeprefix(SCENARIO_PREFIX))
        return run_scenario(
            scenario,
            target.factory,
            reference=target.spec == REFERENCE_SPEC,
            options=dict(config.options),
        )
    search = search_family if index is None else partial(search_slice, index=index)
    return search(
        unit,
        factory=target.factory,
        seed=config.seed,
        examples=config.examples,
        options=dict(config.options),
    )


def run_suite(
    config: SuiteConfig, progress: Callable[[FamilyResult], None] | None = None
) -> SuiteResult:
    """Every family of `config`; `progress` is called as each one finishes (in any order).
    The run's databases live in a private folder of its own, removed at the end, and with
    `isolation="process"` every process the adapter ran in is stopped by then."""
    from harness.sim.isolation.sandbox import private_scratch

    with private_scratch():
        try:
            return _run_suite(config, progress)
        finally:
            if config.isolation == "process":
                from harness.sim.isolation.proxy import shutdown

                shutdown()


def _run_suite(config: SuiteConfig, progress: Callable[[FamilyResult], None] | None) -> SuiteResult:
    # fails fast, before any worker starts
    target = load_target(config.target, config.options, isolation=config.isolation)
    for name in config.scenarios:
        load_scenario(name)  # a bad scenario file is exit 2 before anything runs
    units = config.units
    done: dict[str, FamilyResult] = {}
    one_job = len(units) == 1 and units[0].startswith(SCENARIO_PREFIX)
    if config.workers <= 1 or one_job:  # a single scenario has nothing to share out
        for unit in units:
            done[unit] = _search_one(config, unit)
            if progress:
                progress(done[unit])
    else:
        done = _run_parallel(config, units, progress)
    results = [done[f] for f in units]  # the config's order, however they finished
    return SuiteResult(config, target.spec, results, load_contract(), target.expects)


Job = tuple[str, int | None]  # (unit, slice of a family or None for a scenario)


def _run_parallel(
    config: SuiteConfig, units: Sequence[str], progress: Callable[[FamilyResult], None] | None
) -> dict[str, FamilyResult]:
    """Families in slices on `workers` processes, this one included. A family's result is
    merged from its slices in order, exactly as search_family would, so the number of
    workers changes how long a run takes and nothing else."""
    jobs: deque[Job] = deque()
    for unit in units:
        scenario = unit.startswith(SCENARIO_PREFIX)
        jobs += [(unit, None)] if scenario else [(unit, k) for k in range(SLICES)]
    parts: dict[str, dict[int, FamilyResult]] = {u: {} for u in units}
    done: dict[str, FamilyResult] = {}

    def take(back: bool = False) -> Job | None:
        """The next job whose family is still open. This process takes the front, where
        a family's first slice (and the sweep) may end it; workers, which take half a
        second to start, take the back."""
        while jobs:
            job = jobs.pop() if back else jobs.popleft()
            if job[0] not in done:
                return job
        return None

    def finish(job: Job, result: FamilyResult) -> None:
        unit, index = job
        if unit in done:
            return  # a slice after the one that ended its family: ignored, as in serial runs
        if index is None:
            done[unit] = result
        else:
            parts[unit][index] = result
            merged_from = slices_to_merge(parts[unit])
            if merged_from is None:
                return  # an earlier slice may still end the family: wait for it
            done[unit] = merge_slices(unit, merged_from)
        if progress:
            progress(done[unit])

    size = max(1, min(config.workers - 1, len(jobs) - 1))
    # A job is (unit, slice); the config goes to each worker once, with the function.
    workers = Workers(size, partial(_search_one, config), lambda: take(back=True), _describe)
    try:
        while len(done) < len(units):
            for job, result in workers.results(block=False):
                finish(job, result)
            if len(done) == len(units):
                break
            if (mine := workers.take_here(take)) is not None:  # this process is a worker too
                finish(mine, _search_one(config, *mine))
            elif workers.busy:
                for job, result in workers.results(block=True):
                    finish(job, result)
            else:  # every job ran, yet a family is open: a bug here, not a long wait
                open_units = [u for u in units if u not in done]
                raise RuntimeError(f"parallel run ended with {open_units} unfinished")
    finally:
        workers.stop()  # any slice still running is one no family needs
    return done


def _describe(job: Job) -> str:
    """A job as a person reads it (never the config, whose options may hold secrets)."""
    unit, index = job
    if index is None:
        return f"scenario {str(unit).removeprefix(SCENARIO_PREFIX)!r}"
    return f"slice {index} (of 0-{SLICES - 1}) of the {unit} family"
