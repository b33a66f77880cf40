"""The black-box tier's figures: how long a private RabbitMQ node takes to start, and
a sequential run of N reports (no faults) through a service.

    python benchmarks/live.py                     # 100 reports, the reference service
    python benchmarks/live.py --reports 20 --service "python3 my_service.py"

Needs rabbitmq-server and PostgreSQL (127.0.0.1:5432, or --postgres-url). Prints the
figures, then one JSON object with them as its last line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.live.amqp.broker import PrivateNode  # noqa: E402
from harness.live.plan import LivePlan, LiveTiming  # noqa: E402
from harness.live.postgres import DEFAULT_ADMIN_URL  # noqa: E402
from harness.live.run import LiveConfig, run_service  # noqa: E402

REFERENCE = ROOT / "examples" / "services" / "python" / "service.py"
TINY = ROOT / "tests" / "live_services" / "tiny.py"


def default_service() -> str:
    """The reference service once it is there, else the tests' tiny one."""
    return f"{sys.executable} {REFERENCE if REFERENCE.exists() else TINY}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reports", type=int, default=100)
    parser.add_argument("--service", default=None)
    parser.add_argument("--postgres-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    service = args.service or default_service()

    node = PrivateNode()
    began = time.monotonic()
    endpoint = node.start()
    broker_s = time.monotonic() - began
    print(f"broker start (private RabbitMQ node, management API answering): {broker_s:.1f} s")
    try:
        plan = LivePlan(0, args.reports, (), LiveTiming(settle=0.2))
        with tempfile.TemporaryDirectory(prefix="harness-bench-live-") as folder:
            began = time.monotonic()
            outcome = run_service(
                LiveConfig(service, postgres_url=args.postgres_url, plan=plan),
                Path(folder),
                endpoint,
            )
            run_s = time.monotonic() - began
    finally:
        node.stop()
    events = outcome.run.history.events
    accepted = [e.t for e in events if e.kind == "accept"]
    closed = [e.t for e in events if e.kind == "state" and e.data.get("state") == "LEVERT"]
    per_report = (closed[-1] - accepted[0]) / max(1, len(accepted)) if accepted and closed else 0
    verdict = "FAIL " + ", ".join(sorted(outcome.check.failed)) if outcome.check.failed else "pass"
    print(f"service: {service}")
    print(
        f"sequential run of {args.reports} reports: {run_s:.1f} s in all "
        f"(service start, reconcile twice, teardown included); "
        f"{per_report:.0f} ms a report from accept to LEVERT; verdict {verdict}"
    )
    print(
        json.dumps(
            {
                "broker_start_s": round(broker_s, 2),
                "reports": args.reports,
                "run_s": round(run_s, 2),
                "ms_per_report": round(per_report, 1),
                "verdict": verdict,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
