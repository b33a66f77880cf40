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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import (
    buggy_examples,
    detect,
    detect_baseline,
    examples_per_second,
    median,
    soak_peak_rss_mb,
    throughput,
)

FULL = {"reports": 50_000, "faulted": 20_000, "seeds": 10, "soak": 1_000_000, "scaling": 300}
QUICK = {"reports": 5_000, "faults": 2, "faulted": 3_000, "seeds": 2, "soak": 20_000, "scaling": 60}


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
    note("reports_per_s", "raw throughput, no faults", throughput(size["reports"]), "reports/s")
    note(
        "reports_per_s_faults",
        "raw throughput, standard fault mix",
        throughput(size["faulted"], 2),
        "reports/s",
    )
    note(
        "examples_per_s",
        "contract suite, reference, default settings",
        examples_per_second(),
        "examples/s",
    )

    ours, base = [], []
    for spec in buggy_examples():
        for seed in range(size["seeds"]):
            ours.append(detect(spec, seed))
            base.append(detect_baseline(spec, seed))
    note(
        "detect_median_s",
        "time to detect, median over examples x seeds",
        median([d.detect_s for d in ours]),
        "s",
    )
    note("shrink_median_s", "time to shrink, median", median([d.shrink_s for d in ours]), "s")
    note(
        "detect_rate",
        "detection rate within the default budget",
        sum(d.detected for d in ours) / len(ours),
        "",
    )
    note(
        "baseline_detect_median_s",
        "random baseline: time to detect, median",
        median([d.detect_s for d in base]),
        "s",
    )
    note(
        "baseline_detect_rate",
        "random baseline: detection rate",
        sum(d.detected for d in base) / len(base),
        "",
    )
    note(
        "baseline_ratio",
        "baseline median detection time / ours",
        figures["baseline_detect_median_s"] / max(figures["detect_median_s"], 1e-9),
        "x",
    )
    per_example: dict[str, list[float]] = {}
    for d in ours:
        per_example.setdefault(d.example, []).append(d.detect_s if d.detected else float("inf"))
    for name, times in sorted(per_example.items()):
        rate = sum(t != float("inf") for t in times) / len(times)
        print(
            f"    {name:<32} detected {rate:>5.0%}  median {median(times):.3f} s", file=sys.stderr
        )

    one = examples_per_second(size["scaling"], workers=1)
    two = examples_per_second(size["scaling"], workers=2)
    note("scaling_2w", "examples/s with 2 workers over 1 worker", two / one, "x")
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
