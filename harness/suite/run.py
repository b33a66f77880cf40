"""Runs the contract suite for one target: every family, serially or on worker processes."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

from harness.contracts import Contract, load_contract
from harness.scenarios.model import load as load_scenario
from harness.scenarios.runner import run_scenario
from harness.suite.search import (
    DEFAULT_EXAMPLES,
    FAMILIES,
    Counterexample,
    FamilyResult,
    search_family,
)
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

    @property
    def units(self) -> tuple[str, ...]:
        """What the run consists of: clause families, or `scenario:NAME_OR_PATH` entries."""
        if self.scenarios:
            return tuple(f"{SCENARIO_PREFIX}{s}" for s in self.scenarios)
        return tuple(self.families)


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


def _search_one(family: str, config: SuiteConfig) -> FamilyResult:
    target = load_target(config.target, config.options)
    if family.startswith(SCENARIO_PREFIX):
        scenario = load_scenario(family.removeprefix(SCENARIO_PREFIX))
        return run_scenario(
            scenario,
            target.factory,
            reference=target.spec == REFERENCE_SPEC,
            options=dict(config.options),
        )
    return search_family(
        family,
        target.factory,
        seed=config.seed,
        examples=config.examples,
        options=dict(config.options),
    )


def run_suite(
    config: SuiteConfig, progress: Callable[[FamilyResult], None] | None = None
) -> SuiteResult:
    """Every family of `config`; `progress` is called as each one finishes (in any order)."""
    target = load_target(config.target, config.options)  # fails fast, before any worker starts
    for name in config.scenarios:
        load_scenario(name)  # a bad scenario file is exit 2 before anything runs
    units = config.units
    done: dict[str, FamilyResult] = {}
    if config.workers <= 1:
        for family in units:
            done[family] = _search_one(family, config)
            if progress:
                progress(done[family])
    else:
        # spawn: each worker imports the target afresh, with nothing inherited by accident.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(config.workers, mp_context=ctx) as pool:
            futures = {pool.submit(_search_one, f, config): f for f in units}
            for future in as_completed(futures):
                result = future.result()
                done[futures[future]] = result
                if progress:
                    progress(result)
    results = [done[f] for f in units]  # the config's order, however they finished
    return SuiteResult(config, target.spec, results, load_contract(), target.expects)
