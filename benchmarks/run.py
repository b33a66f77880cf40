"""Benchmarks: throughput, time to detect, scaling and memory, measured side by side.

    python benchmarks/run.py           # the full set (tens of minutes on 2 cores)
    python benchmarks/run.py --quick   # the same figures on smaller inputs (under 2 minutes)

Prints a table, then, as its last line, one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import (
    BY_PATH,
    buggy_examples,
    detect,
    detect_baseline,
    examples_per_second,
    median,
    soak_peak_rss_mb,
    throughput,
)

FULL = {
    "reports": 50_000,
    "faulted": 20_000,
    "seeds": 10,
    "soak": 1_000_000,
    "scaling": 300,
    "repeats": 3,
}
QUICK = {
    "reports": 5_000,
    "faulted": 3_000,
    "seeds": 2,
    "soak": 20_000,
    "scaling": 60,
    "repeats": 1,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, under two minutes")
    parser.add_argument("--skip-soak", action="store_true", help="leave out the memory soak")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    rows: list[tuple[str, str]] = []
    figures: dict[str, float] = {}

    def note(key: str, label: str, value: float, unit: str) -> None:
        figures[key] = round(value, 3)
        rows.append((label, f"{value:,.2f} {unit}"))
        print(f"  {label:<58} {value:>12,.2f} {unit}", file=sys.stderr, flush=True)

    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}",
        file=sys.stderr,
    )

    # Speeds are the median of `repeats` runs: on a shared machine one run can be
    # 20-30% off either way.
    def repeated(measure: Callable[[], float]) -> float:
        return median([measure() for _ in range(size["repeats"])])

    note(
        "reports_per_s",
        "raw throughput, no faults",
        repeated(lambda: throughput(size["reports"])),
        "reports/s",
    )
    note(
        "reports_per_s_faults",
        "raw throughput, standard fault mix",
        repeated(lambda: throughput(size["faulted"], 2)),
        "reports/s",
    )
    note(
        "reports_per_s_by_path",
        "raw throughput, a bundled adapter loaded by path, no faults",
        repeated(lambda: throughput(size["reports"], spec=BY_PATH)),
        "reports/s",
    )
    note(
        "examples_per_s",
        "contract suite, reference, default settings",
        repeated(examples_per_second),
        "examples/s",
    )

    ours, alone, base = [], [], []
    for spec in buggy_examples():
        for seed in range(size["seeds"]):
            ours.append(detect(spec, seed))
            alone.append(detect(spec, seed, sweep=False))
            base.append(detect_baseline(spec, seed))
    for key, label, runs in (
        ("", "", ours),
        ("search_only_", "search alone (no sweep): ", alone),
        ("baseline_", "random baseline: ", base),
    ):
        note(
            f"{key}detect_median_s",
            f"{label}time to detect, median over examples x seeds",
            median([d.detect_s for d in runs]),
            "s",
        )
        if runs is not base:  # a sweep plan needs no shrinking: 0 s, counted as such
            note(
                f"{key}shrink_median_s",
                f"{label}time to shrink, median over detections",
                median([d.shrink_s for d in runs if d.detected]),
                "s",
            )
        note(
            f"{key}detect_rate",
            f"{label}detection rate within the default budget",
            sum(d.detected for d in runs) / len(runs),
            "",
        )
    note(
        "baseline_ratio",
        "baseline median detection time / ours",
        figures["baseline_detect_median_s"] / max(figures["detect_median_s"], 1e-9),
        "x",
    )
    # The same comparison example by example (each one's median time over seeds, a
    # missed detection counting as the whole budget's time), then the median of those.
    ratios = [
        median([d.detect_s for d in base if d.example == name])
        / max(median([d.detect_s for d in ours if d.example == name]), 1e-9)
        for name in sorted({d.example for d in ours})
    ]
    note(
        "baseline_ratio_per_example",
        "baseline / ours, per example, median over examples",
        median(ratios),
        "x",
    )
    print(
        f"    {'example':<32} {'ours':>22} {'search alone':>22} {'baseline':>22}", file=sys.stderr
    )
    for name in sorted({d.example for d in ours}):
        cells = []
        for runs in (ours, alone, base):
            times = [d.detect_s if d.detected else float("inf") for d in runs if d.example == name]
            rate = sum(t != float("inf") for t in times) / len(times)
            cells.append(f"{rate:>5.0%} {median(times):>9.3f} s")
        print(f"    {name:<32} " + " ".join(f"{c:>22}" for c in cells), file=sys.stderr)

    ones, twos = [], []
    for _ in range(size["repeats"]):  # in turns, so a busy spell of the machine hits both
        ones.append(examples_per_second(size["scaling"], workers=1))
        twos.append(examples_per_second(size["scaling"], workers=2))
    note("scaling_2w", "examples/s with 2 workers over 1 worker", median(twos) / median(ones), "x")
    if not args.skip_soak:
        note(
            "soak_peak_rss_mb",
            f"peak RSS, {size['soak']:,}-report soak with faults",
            soak_peak_rss_mb(size["soak"], 2),
            "MB",
        )
    print()
    for label, value in rows:
        print(f"{label:<60} {value:>20}")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
