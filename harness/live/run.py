"""`harness run --service`: one live plan against a service, judged by the same checker,
reported by the same code as the simulated tier.

The run is one "family" named `live` in the report: its clauses are judged from the
live history with the live world's own SOR-7 bound (the portal's deadline in
seconds). A failure becomes a counterexample file whose `live` block holds the plan
and the service command, so `harness replay` runs the same plan again.
"""

from __future__ import annotations

import contextlib
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.checker.clauses import CheckResult, check
from harness.contracts import load_contract
from harness.core.history import History
from harness.core.plan import Plan
from harness.live.amqp.broker import Endpoint, PrivateNode, given_broker, redact_url
from harness.live.plan import LivePlan, default_plan
from harness.live.postgres import DEFAULT_ADMIN_URL
from harness.live.world import LiveResult, ServiceSpec, run_live
from harness.suite.run import SuiteConfig, SuiteResult
from harness.suite.search import Counterexample, FamilyResult

FAMILY = "live"
LOG_NAME = "service.log"
LIMITS = (
    "The harness sees the service only from outside: the broker (publishes, deliveries, "
    "dead letters), its own HTTP endpoints (replies, downloads, tokens), the process it "
    "started, and the reconciliation rows the service reports; it cannot see inside it.",
    "Acks are not observed directly: an ack is inferred when a killed consumer's message "
    "does not return to the queue.",
    "Timing faults are approximate: the run is in wall-clock time, the portal's hours "
    "are scaled down to seconds, and the same plan can meet a different interleaving.",
    "The transport is a faithful local Fiks IO only as far as the public clients and "
    "documentation go (plain mode: no encryption or signatures yet).",
)


@dataclass(frozen=True)
class LiveConfig:
    service: str
    reconcile: str = "http"  # http | sql | http://127.0.0.1:PORT
    amqp_url: str | None = None
    run_id: str | None = None  # names the run's database, role and vhost (tests)
    postgres_url: str = DEFAULT_ADMIN_URL
    seed: int = 0
    plan: LivePlan | None = None
    ready_timeout: float | None = None  # seconds the service may take to consume
    crypto: bool = False  # --fiksio-crypto on: packages sealed as Fiks IO seals them


@dataclass
class LiveOutcome:
    suite: SuiteResult
    run: LiveResult
    plan: LivePlan
    check: CheckResult
    broker_started_in: float | None
    info: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def broker_for(config: LiveConfig) -> Iterator[tuple[Endpoint, PrivateNode | None]]:
    """A private node for the run (stopped after), or the broker the config names."""
    if config.amqp_url:
        yield given_broker(config.amqp_url), None
        return
    node = PrivateNode()
    try:
        yield node.start(), node
    finally:
        node.stop()


def run_service(
    config: LiveConfig,
    report_dir: Path,
    endpoint: Endpoint | None = None,
) -> LiveOutcome:
    """Run the config's plan against its service. With `endpoint`, on that broker (a
    test session's private node); else on a private node of its own, or --amqp-url."""
    report_dir.mkdir(parents=True, exist_ok=True)
    log = report_dir / LOG_NAME
    with contextlib.suppress(FileNotFoundError):
        log.unlink()
    if endpoint is not None:
        return _run(config, endpoint, None, log)
    with broker_for(config) as (ep, node):
        return _run(config, ep, node, log)


def _run(
    config: LiveConfig, endpoint: Endpoint, node: PrivateNode | None, log: Path
) -> LiveOutcome:
    plan = config.plan or default_plan(config.seed, management=endpoint.private)
    if config.ready_timeout is not None:
        plan = replace(plan, timing=replace(plan.timing, ready_timeout=config.ready_timeout))
    spec = ServiceSpec(config.service, config.reconcile, log, crypto=config.crypto)
    run = run_live(plan, spec, endpoint, config.postgres_url, config.run_id)
    result = check(run.history, plan.timing.resolution_bound)
    broker = "private RabbitMQ node" if endpoint.private else redact_url(endpoint.amqp_url)
    info = {
        "tier": "live",
        "service": config.service,
        "broker": broker,
        "reconciliation": run.reconcile_form,
        "mode": "sequential",
        "fiksio_crypto": "on" if config.crypto else "off",
        "service_starts": run.service_starts,
        "service_log": LOG_NAME,
        "limits": list(LIMITS),
        "notes": list(run.notes),
        "plan": plan.to_json(),
    }
    suite = _suite(config, plan, run, result, info)
    return LiveOutcome(suite, run, plan, result, node.started_in if node else None, info)


def _suite(
    config: LiveConfig, plan: LivePlan, run: LiveResult, result: CheckResult, info: dict[str, Any]
) -> SuiteResult:
    fam = FamilyResult(FAMILY)
    fam.add_run(run.reached, run.fired, result)
    if result.violations:
        fam.counterexample = Counterexample(
            FAMILY,
            Plan(plan.seed, plan.specs()),
            sorted(result.failed),
            result,
            History(list(run.history.events)),
            shrunk=False,
            live=info,
        )
    cfg = SuiteConfig(target=config.service, seed=plan.seed, examples=1)
    return SuiteResult(cfg, config.service, [fam], load_contract(), live=info)


def fired_total(outcome: LiveOutcome) -> Counter[str]:
    return Counter(outcome.run.fired)


def clean_report_dir(path: Path) -> None:
    """Remove a report folder the harness made for a run that could not start."""
    shutil.rmtree(path, ignore_errors=True)
