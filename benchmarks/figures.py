"""The measurements behind benchmarks/run.py, one function a figure.

Wall-clock time is read here, and only here: the simulation itself never sees it.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.checker.clauses import check
from harness.checker.stream import StreamingCheck
from harness.components.case_system import make_case_system
from harness.core.faults import CATALOGUE, Fault
from harness.core.hostile import DATA_PROFILES
from harness.core.plan import Plan
from harness.core.timing import SECOND
from harness.core.workload import ReportSpec, SteadyWorkload
from harness.sim.documents import DOKUMENTLAGER
from harness.sim.world import simulate
from harness.suite.run import SuiteConfig, run_suite
from harness.suite.search import DEFAULT_EXAMPLES, FAMILIES, adapter_uses_http, search_family
from harness.target import load_target

REPO = Path(__file__).resolve().parent.parent
CORE_POINTS = tuple(p.name for p in CATALOGUE if not p.name.startswith("http."))
ALL_POINTS = tuple(p.name for p in CATALOGUE)


def fault_mix(reports: int, faults_per_point: int, seed: int = 0) -> tuple[Fault, ...]:
    """The standard fault mix: each core injection point strikes `faults_per_point`
    times, at random occurrences among the first `reports`."""
    rng = random.Random(seed)
    faults = (
        Fault(point, rng.randrange(reports))
        for point in CORE_POINTS
        for _ in range(faults_per_point)
    )
    return tuple(dict.fromkeys(faults))


def steady_plan(reports: int, faults_per_point: int = 0, seed: int = 0) -> Plan:
    """Distinct reports, one a second, both forms, optionally the standard fault mix."""
    return Plan(seed, SteadyWorkload(reports, SECOND), fault_mix(reports, faults_per_point, seed))


# A correct vendor-style adapter of two modules, loaded by path as `--target` loads one: every
# incarnation and every durability probe runs in a fresh copy of its module.
BY_PATH = f"{REPO / 'examples' / 'module_global_store_fixed.py'}:make_case_system"


def throughput(reports: int, faults_per_point: int = 0, spec: str | None = None) -> float:
    """Reports per second through all three hops, reconciliation and check included;
    the reference unless `spec` names another target."""
    plan = steady_plan(reports, faults_per_point)
    factory = make_case_system if spec is None else load_target(spec).factory
    start = time.perf_counter()
    run = simulate(plan, factory, max_steps=200 * reports)
    verdict = check(run.history)
    elapsed = time.perf_counter() - start
    assert not verdict.failed, f"{spec or 'the reference'} broke {sorted(verdict.failed)}"
    return reports / elapsed


def examples_per_second(examples: int = DEFAULT_EXAMPLES, workers: int = 1) -> float:
    config = SuiteConfig(seed=0, examples=examples, workers=workers)
    start = time.perf_counter()
    result = run_suite(config)
    elapsed = time.perf_counter() - start
    assert not result.failed
    return sum(f.examples - f.swept for f in result.families) / elapsed  # the search's only


@dataclass
class Detection:
    example: str
    seed: int
    detected: bool  # every clause the example EXPECTS broke, within the budget
    detect_s: float  # until the first violating example (the whole run when none)
    shrink_s: float  # from then until that family's search ended


def detect(spec: str, seed: int, examples: int = DEFAULT_EXAMPLES, sweep: bool = True) -> Detection:
    """The suite, family after family, as `harness run` does it; timed from the start.
    Detection is the first plan breaking a clause the example EXPECTS (as for the
    baseline); shrinking is timed in the first family to find a counterexample, from
    its first failing plan to the end of its search. `sweep=False` times the
    Hypothesis search on its own."""
    target = load_target(spec)
    expects = target.expects or set()
    start = time.perf_counter()
    first: float | None = None
    shrink: float | None = None
    failed: set[str] = set()
    for family in FAMILIES:
        own: list[float] = []

        def seen(clauses: set[str], family: str = family, own: list[float] = own) -> None:
            nonlocal first
            now = time.perf_counter()
            if first is None and clauses & expects:
                first = now - start
            if clauses & set(FAMILIES[family]):
                own.append(now)

        result = search_family(
            family, target.factory, seed=seed, examples=examples, on_found=seen, sweep=sweep
        )
        failed |= result.failed
        if shrink is None and result.counterexample is not None and own:
            shrink = time.perf_counter() - own[0]
    total = time.perf_counter() - start
    return Detection(
        Path(spec).stem.split(":")[0],
        seed,
        expects <= failed,
        first if first is not None else total,
        shrink or 0.0,
    )


def random_plan(rng: random.Random, http: bool = False) -> Plan:
    """The baseline's example: uniformly random reports and faults from the same
    catalogue and data, no weights, no search, no shrinking. With `http` (an adapter
    that uses the simulated HTTP APIs, as the suite gives it), the HTTP points and
    reports sent by reference are drawn too."""
    points = ALL_POINTS if http else CORE_POINTS
    profiles = (None, *DATA_PROFILES, *((DOKUMENTLAGER,) if http else ()))
    reports = []
    at = 0
    for _ in range(rng.randint(1, 4)):
        at += rng.choice((0, SECOND, 10 * SECOND))
        reports.append(
            ReportSpec(
                at,
                rng.choice(("privat", "offentlig")),
                rng.choice((1, 2)),
                None,
                rng.choice(profiles),
            )
        )
    faults = tuple(
        Fault(rng.choice(points), rng.randint(0, 3), rng.choice((1, 2, 3)))
        for _ in range(rng.randint(0, 4))
    )
    return Plan(rng.randrange(2**16), tuple(reports), tuple(dict.fromkeys(faults)))


def detect_baseline(spec: str, seed: int, examples: int = DEFAULT_EXAMPLES) -> Detection:
    """Random testing with the same budget of examples as the whole suite."""
    target = load_target(spec)
    expects = target.expects or set()
    rng = random.Random(seed)
    start = time.perf_counter()
    http = adapter_uses_http(target.factory, None)  # the suite's own look-up, cached
    failed: set[str] = set()
    first = None
    for _ in range(examples * len(FAMILIES)):
        broken = check(simulate(random_plan(rng, http), target.factory).history).failed
        if broken & expects and first is None:
            first = time.perf_counter() - start
        failed |= broken
        if expects <= failed:
            break
    total = time.perf_counter() - start
    return Detection(
        Path(spec).stem, seed, expects <= failed, first if first is not None else total, 0.0
    )


def buggy_examples() -> list[str]:
    specs = []
    for path in sorted((REPO / "examples").glob("*.py")):
        spec = f"{path}:make_case_system"
        if load_target(spec).expects:
            specs.append(spec)
    return specs


def soak(reports: int, faults_per_point: int) -> tuple[float, int]:
    """A streamed soak with the fault mix, one report a minute: (reports/s, reports
    held at the peak). The checker and the world forget each report once it settles."""
    plan = Plan(0, SteadyWorkload(reports, 60 * SECOND), fault_mix(reports, faults_per_point))
    checker = StreamingCheck()
    start = time.perf_counter()
    simulate(plan, make_case_system, max_steps=100 * reports, stream=checker.feed)
    summary = checker.finish()
    elapsed = time.perf_counter() - start
    assert not summary.failed, f"the reference broke {dict(summary.failed)}"
    assert sum(summary.counts.values()) == reports
    return reports / elapsed, summary.peak_open


def soak_peak_rss_mb(reports: int, faults_per_point: int) -> float:
    """Peak RSS of a streamed soak with faults, in a child process so nothing else counts.

    Read as VmHWM from /proc where Linux has it: ru_maxrss survives exec on Linux, so
    a child started from a large parent would report the parent's peak instead."""
    code = (
        "import resource, sys\n"
        f"sys.path.insert(0, {str(REPO / 'benchmarks')!r})\n"
        "from figures import soak\n"
        f"rate, held = soak({reports}, {faults_per_point})\n"
        "try:\n"
        "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "    peak_kb = int(hwm.split()[1])\n"
        "except OSError:\n"
        "    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(rate, held, peak_kb)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO
    ).stdout
    rate, held, rss_kb = out.split()[-3:]
    print(
        f"    soak: {float(rate):,.0f} reports/s, at most {held} reports held at once",
        file=sys.stderr,
    )
    return int(rss_kb) / 1024


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
