"""The reference services of examples/services/ through the live tier, end to end.

Each correct service passes every fault of the default plan; each buggy one fails
the clauses its README names, on the smallest plan that shows it. Skipped, with
the reason, while examples/services/ is not there (or Node.js's packages are not
installed: `npm ci` in examples/services/node).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from live_support import POSTGRES_URL, REPO, node

from harness.live.amqp.broker import Endpoint
from harness.live.plan import LiveFault, LivePlan, LiveTiming, default_plan
from harness.live.run import LiveConfig, run_service

pytestmark = pytest.mark.blackbox
__all__ = ["node"]

SERVICES = Path(os.environ.get("HARNESS_TEST_SERVICES_DIR", REPO / "examples" / "services"))
FAST = LiveTiming(resend_after=2.0, deadline=6.0, settle=0.2)
EVERYTHING = LivePlan(0, default_plan(0).reports, default_plan(0).faults, FAST)


def one(*faults: LiveFault) -> LivePlan:
    return LivePlan(0, 1, faults, FAST)


STORAGE_DOWN = LiveFault("storage_down", 0, 1.0)
CASES = [
    ("python/case_service.py", EVERYTHING, set()),
    ("python/familia.py", one(STORAGE_DOWN), {"SOR-1", "SOR-2"}),
    ("python/ack_before_store.py", one(LiveFault("kill_at_download", 0)), {"SOR-5"}),
    ("python/keyed_on_melding_id.py", one(LiveFault("resend", 0)), {"SOR-3"}),
    ("python/mottatt_before_commit.py", one(), {"SOR-2"}),
    ("node/case_service.js", EVERYTHING, set()),
    ("node/familia.js", one(STORAGE_DOWN), {"SOR-1", "SOR-2"}),
]


def command(path: Path) -> str:
    if path.suffix == ".js":
        node_bin = shutil.which("node")
        if node_bin is None or not (path.parent / "node_modules").is_dir():
            pytest.skip("Node.js or the services' npm packages are missing (npm ci)")
        return f"{node_bin} {path}"
    return f"{sys.executable} {path}"


@pytest.mark.parametrize(("service", "plan", "clauses"), CASES, ids=[c[0] for c in CASES])
def test_a_reference_service_gets_the_verdict_its_readme_names(
    node: Endpoint, tmp_path: Path, service: str, plan: LivePlan, clauses: set[str]
) -> None:
    path = SERVICES / service
    if not path.exists():
        pytest.skip(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path} is absent")
    outcome = run_service(
        LiveConfig(command(path), postgres_url=POSTGRES_URL, plan=plan), tmp_path, node
    )
    assert outcome.check.failed == clauses, outcome.check.violations
