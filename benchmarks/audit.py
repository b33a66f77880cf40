"""Benchmark: `harness audit` on a million-row pair of exports.

    python benchmarks/audit.py            # 1,000,000 portal rows (about a minute to make)
    python benchmarks/audit.py --rows N   # another size

Makes the Bergen example's exports at that size in a temporary folder (removed
after), then audits them in a fresh process and prints its wall time and peak
resident memory (VmHWM: the child's own peak, not its parent's), and the verdict.
The goal: a million rows in under 60 s and under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys
from pathlib import Path
from harness.cli import main
code = main(["audit", "--portal", sys.argv[1], "--case-system", sys.argv[2],
             "--report", sys.argv[3]])
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
print(json.dumps({"code": code, "hwm_kb": int(hwm[0].split()[1]) if hwm else None}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    from harness.audit.example import write_bergen

    folder = Path(tempfile.mkdtemp(prefix="harness-audit-bench-"))
    try:
        began = time.perf_counter()
        portal, case = write_bergen(folder / "exports", ordinary=args.rows)
        made = time.perf_counter() - began
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(portal), str(case), str(folder / "report")],
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.perf_counter() - began
        last = done.stdout.strip().splitlines()[-1]
        child = json.loads(last)
        report = json.loads((folder / "report" / "report.json").read_text(encoding="utf-8"))
        figures = {
            "portal_rows": report["inputs"]["portal"]["rows"],
            "case_rows": report["inputs"]["case_system"]["rows"],
            "make_exports_s": round(made, 1),
            "audit_s": round(took, 1),
            "rows_per_s": round(report["inputs"]["portal"]["rows"] / took),
            "peak_rss_mb": None if child["hwm_kb"] is None else round(child["hwm_kb"] / 1024),
            "violations": len(report["violations"]),
            "exit": child["code"],
        }
        print(
            f"audit of {figures['portal_rows']:,} portal rows and {figures['case_rows']:,} "
            f"records: {figures['audit_s']} s, peak {figures['peak_rss_mb']} MB, "
            f"{figures['violations']} violations (exit {figures['exit']})"
        )
        print(json.dumps(figures))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
