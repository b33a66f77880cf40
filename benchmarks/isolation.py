"""Process isolation against in-process: examples per second on the bundled examples, and
what one restart of the adapter costs.

    python benchmarks/isolation.py           # every bundled example, 100 examples a family
    python benchmarks/isolation.py --quick   # five examples, 20 a family (about a minute)

Each suite runs in both modes in turns (so a busy spell of a shared machine hits both);
the figures are medians. Prints a table, then one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from harness.core.faults import Fault
from harness.core.plan import Plan
from harness.core.timing import SECOND
from harness.core.workload import ReportSpec
from harness.sim.isolation.proxy import shutdown
from harness.sim.world import simulate
from harness.suite.run import SuiteConfig, run_suite
from harness.target import REFERENCE_SPEC, load_target

REPO = Path(__file__).resolve().parent.parent
QUICK_EXAMPLES = ("familia_2023", "http_case_system", "memory_only", "silent_drop", "upsert_unique")


def specs(quick: bool) -> list[str]:
    paths = sorted((REPO / "examples").glob("*.py"))
    if quick:
        paths = [p for p in paths if p.stem in QUICK_EXAMPLES]
    return [REFERENCE_SPEC, *(f"{p}:make_case_system" for p in paths)]


def suite_seconds(spec: str, examples: int, isolation: str) -> tuple[float, int]:
    """Wall time of one `harness run` of the target (every family), and its examples."""
    start = time.perf_counter()
    result = run_suite(SuiteConfig(target=spec, examples=examples, isolation=isolation))
    return time.perf_counter() - start, sum(f.examples for f in result.families)


def restart_cost(isolation: str, reports: int) -> float:
    """Seconds one crash and restart adds: a run where every report crashes the adapter
    right after its commit, against the same run without the crashes."""
    target = load_target(None, isolation=isolation)
    workload = tuple(ReportSpec(i * SECOND) for i in range(reports))
    crashes = (Fault("case_system.crash.after_commit", 0, reports),)
    plain, crashy = Plan(0, workload), Plan(0, workload, crashes)
    simulate(plain, target.factory)  # warm: the template is up, caches are filled
    times: dict[str, list[float]] = {"plain": [], "crashy": []}
    for _ in range(3):
        for name, plan in (("plain", plain), ("crashy", crashy)):
            start = time.perf_counter()
            run = simulate(plan, target.factory)
            times[name].append(time.perf_counter() - start)
            if name == "crashy":
                restarts = sum(e.kind == "start" for e in run.history) - 1
    extra = statistics.median(times["crashy"]) - statistics.median(times["plain"])
    return extra / max(restarts, 1)


def template_start() -> float:
    start = time.perf_counter()
    load_target(None, isolation="process")
    took = time.perf_counter() - start
    shutdown()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="five examples, 20 a family")
    args = parser.parse_args()
    budget = 20 if args.quick else 100
    figures: dict[str, float] = {}
    totals = {"inprocess": [0.0, 0], "process": [0.0, 0]}
    print(f"{'example':<28} {'in-process':>14} {'process':>14} {'ratio':>7}", file=sys.stderr)
    try:
        for spec in specs(args.quick):
            name = Path(spec.split(":")[0]).stem if spec != REFERENCE_SPEC else "reference"
            seconds: dict[str, float] = {}
            for mode in ("inprocess", "process"):
                took, examples = suite_seconds(spec, budget, mode)
                seconds[mode] = took
                totals[mode][0] += took
                totals[mode][1] += examples
            print(
                f"{name:<28} {seconds['inprocess']:>12.2f} s {seconds['process']:>12.2f} s "
                f"{seconds['process'] / seconds['inprocess']:>6.2f}x",
                file=sys.stderr,
                flush=True,
            )
        for mode, (took, examples) in totals.items():
            figures[f"examples_per_s_{mode}"] = round(examples / took, 1)
        figures["process_over_inprocess"] = round(totals["process"][0] / totals["inprocess"][0], 2)
        figures["template_start_s"] = round(template_start(), 3)
        reports = 20 if args.quick else 60
        figures["restart_ms_process"] = round(1000 * restart_cost("process", reports), 2)
        figures["restart_ms_inprocess"] = round(1000 * restart_cost("inprocess", reports), 2)
    finally:
        shutdown()
    labels = {
        "examples_per_s_inprocess": "examples/s, in-process (all examples, sweep included)",
        "examples_per_s_process": "examples/s, process isolation",
        "process_over_inprocess": "wall time, process over in-process",
        "template_start_s": "starting the template (importing the target once), s",
        "restart_ms_process": "one crash and restart, process isolation, ms",
        "restart_ms_inprocess": "one crash and restart, in-process, ms",
    }
    print()
    for key, label in labels.items():
        print(f"{label:<60} {figures[key]:>12}")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
