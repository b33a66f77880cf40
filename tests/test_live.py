"""The black-box tier end to end: a real broker, PostgreSQL, a service process.

Each test drives a few reports through the tests' own tiny service (or one of its
one-flag bugs), so the harness's side is tested apart from the reference services.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from live_support import (
    POSTGRES_URL,
    database_exists,
    node,
    processes_with,
    tiny,
    vhost_exists,
)

from harness.cli import main
from harness.contracts import validate
from harness.core.history import Event
from harness.live.amqp.broker import Endpoint
from harness.live.plan import LiveFault, LivePlan, LiveTiming, default_plan
from harness.live.run import LiveConfig, LiveOutcome, run_service

pytestmark = pytest.mark.blackbox
__all__ = ["node"]  # the module's broker fixture

FAST = LiveTiming(resend_after=2.0, deadline=6.0, settle=0.2)


def live(
    endpoint: Endpoint,
    tmp_path: Path,
    bug: str = "",
    plan: LivePlan | None = None,
    reconcile: str = "http",
) -> tuple[LiveOutcome, str, str]:
    cmd, marker = tiny(bug)
    if reconcile == "sql":
        cmd += " --sql"
    run_id = secrets.token_hex(4)
    config = LiveConfig(cmd, reconcile, postgres_url=POSTGRES_URL, plan=plan, run_id=run_id)
    outcome = run_service(config, tmp_path, endpoint)
    return outcome, marker, run_id


def assert_clean(endpoint: Endpoint, marker: str, run_id: str) -> None:
    assert processes_with(marker) == []
    assert not database_exists(f"harness_run_{run_id}")
    assert not vhost_exists(endpoint, f"harness-{run_id}")


def kinds(events: list[Event], component: str, kind: str) -> list[Event]:
    return [e for e in events if e.component == component and e.kind == kind]


def test_a_correct_service_passes_every_fault_of_the_default_plan(
    node: Endpoint, tmp_path: Path
) -> None:
    plan = default_plan(0)
    outcome, marker, run_id = live(
        node, tmp_path, plan=LivePlan(0, plan.reports, plan.faults, FAST)
    )
    assert outcome.check.failed == set(), outcome.check.violations
    assert set(outcome.run.fired) == {f.point for f in plan.faults}
    events = outcome.run.history.events
    # The report whose store failed went to print (feilet); every other one is stored.
    assert outcome.check.counts["STORED"] == plan.reports - 1
    assert outcome.check.counts["FALLBACK"] == 1
    assert len(kinds(events, "harness", "record")) == plan.reports - 1
    assert kinds(events, "case_system", "crash")  # the kills happened
    assert outcome.run.service_starts == 4  # first start, two kills, the restart to reconcile
    redelivered = [e for e in kinds(events, "transport", "deliver") if e.data["redelivered"]]
    assert redelivered  # kill_at_reply and close_connection brought messages back
    assert (tmp_path / "service.log").read_text().count("stored") >= plan.reports
    assert_clean(node, marker, run_id)


def test_familia_replies_mottatt_without_storing_and_fails_sor_1(
    node: Endpoint, tmp_path: Path
) -> None:
    plan = LivePlan(0, 2, (LiveFault("storage_down", 1, 1.0),), FAST)
    outcome, marker, run_id = live(node, tmp_path, "familia", plan)
    assert outcome.check.failed == {"SOR-1", "SOR-2"}
    lost = next(v.key for v in outcome.check.violations if v.clause == "SOR-1")
    mine = [e for e in outcome.run.history.events if e.report == lost]
    said = [e.data["line"] for e in kinds(mine, "case_system", "log")]
    assert any("store failed" in line for line in said)  # as the service logged it
    reply = kinds(mine, "case_system", "reply")[0]
    assert reply.data["durable"] is False and reply.data["via"] == "http"
    assert kinds(mine, "harness", "reconciled")[0].data["rows"] == 0
    assert kinds(mine, "harness", "record") == []
    assert_clean(node, marker, run_id)


@pytest.mark.parametrize(
    ("bug", "fault", "clause"),
    [
        ("no-dedup", LiveFault("resend", 0), "SOR-3"),
        ("early-mottatt", None, "SOR-2"),
        ("ack-first", LiveFault("kill_at_download", 0), "SOR-5"),
    ],
)
def test_each_bug_fails_its_clause(
    node: Endpoint, tmp_path: Path, bug: str, fault: LiveFault | None, clause: str
) -> None:
    plan = LivePlan(0, 1, (fault,) if fault else (), FAST)
    outcome, marker, run_id = live(node, tmp_path, bug, plan)
    assert clause in outcome.check.failed
    assert_clean(node, marker, run_id)


def test_the_sql_view_is_read_like_the_api(node: Endpoint, tmp_path: Path) -> None:
    plan = LivePlan(0, 2, (LiveFault("kill_at_reply", 1),), FAST)
    outcome, marker, run_id = live(node, tmp_path, plan=plan, reconcile="sql")
    assert outcome.check.failed == set() and outcome.info["reconciliation"] == "sql"
    records = kinds(outcome.run.history.events, "harness", "record")
    accepted = kinds(outcome.run.history.events, "portal", "accept")
    assert sorted(e.data["digest"] for e in records) == sorted(e.data["digest"] for e in accepted)
    assert_clean(node, marker, run_id)


def test_the_same_seed_sends_the_same_reports_with_the_same_ids(
    node: Endpoint, tmp_path: Path
) -> None:
    plan = LivePlan(7, 2, (LiveFault("resend", 1),), FAST)

    def sent(outcome: LiveOutcome) -> list[tuple[str, str | None, str]]:
        return [
            (e.kind, e.report, json.dumps(dict(e.data), sort_keys=True))
            for e in outcome.run.history.events
            if (e.component, e.kind) in (("portal", "accept"), ("transport", "queue"))
            or (e.component, e.kind) == ("harness", "record")
        ]

    first = sent(live(node, tmp_path / "1", plan=plan)[0])
    second = sent(live(node, tmp_path / "2", plan=plan)[0])
    assert first == second
    assert len([s for s in first if s[0] == "queue"]) == 3  # two reports, one resent


def test_cli_passes_and_fails_with_a_report_and_a_timeline(
    node: Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cmd, marker = tiny("familia")
    report = tmp_path / "report"
    plan = LivePlan(0, 2, (LiveFault("storage_down", 1, 1.0),), FAST)
    (tmp_path / "plan.json").write_text(json.dumps(plan.to_json()))
    plan_file = str(tmp_path / "plan.json")
    args = ["run", "--service", cmd, "--report", str(report), "--postgres-url", POSTGRES_URL]
    code = main([*args, "--plan", plan_file])
    out = capsys.readouterr()
    assert code == 1, out.err
    assert "SOR-1   FAIL" in out.out and "reconciled rows=0" in out.out
    data = json.loads((report / "report.json").read_text())
    assert validate("report", data) == []
    assert data["tier"] == "live" and data["live"]["service"] == cmd
    assert data["live"]["broker"] == "private RabbitMQ node" and data["live"]["limits"]
    html = (report / "report.html").read_text()
    assert "A real service, judged from outside" in html and "cannot see inside it" in html
    assert main(["verify", str(report / "report.json")]) == 0  # digest and files hold
    cx = json.loads(next(report.glob("counterexample-live-*.json")).read_text())
    assert cx["tier"] == "live" and LivePlan.from_json(cx["live"]["plan"]) == plan
    assert "service.log" in out.err and (report / "service.log").exists()
    assert processes_with(marker) == []
    # What the service printed goes to its log; the timeline quotes it only as events.
    assert "consuming" not in (out.out + out.err).splitlines()
    assert "log line=consuming" in out.out
    # The plan is data: replay runs it again against the same command.
    again = ["--amqp-url", node.amqp_url, "--postgres-url", POSTGRES_URL]
    cx_file = next(report.glob("counterexample-live-*.json"))
    assert main(["replay", str(cx_file), *again]) == 1
    replayed = capsys.readouterr().out
    assert "verdict: FAIL (SOR-1, SOR-2)" in replayed and "store failed" in replayed


@pytest.mark.parametrize(
    ("bug", "says"),
    [
        ("no-ready", "never answered GET /harness/v1/ready"),
        ("no-consume", "never started consuming its queue"),
        ("exit", "the service exited at once"),
        ("bad-rows", "does not match contracts/schemas/reconciliation.json"),
    ],
)
def test_a_broken_service_is_exit_2_in_one_line_and_leaves_nothing(
    node: Endpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str], bug: str, says: str
) -> None:
    cmd, marker = tiny(bug)
    code = main(
        [
            "run",
            "--service",
            cmd,
            "--report",
            str(tmp_path),
            "--postgres-url",
            POSTGRES_URL,
            "--amqp-url",
            node.amqp_url,
            "--ready-timeout",
            "3",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert says in err[-1] and err[-1].startswith("harness: error: ")
    assert processes_with(marker) == []
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(node.amqp_url))
    try:
        ch = conn.channel()
        queues = {q for q in _queues(node) if q.startswith(("fiksio.konto.", "harness."))}
        assert queues == set()
        ch.close()
    finally:
        conn.close()


def _queues(node: Endpoint) -> list[str]:
    import requests

    from harness.live.amqp.broker import ADMIN

    assert node.management_url is not None
    r = requests.get(f"{node.management_url}/queues/%2F", auth=ADMIN, timeout=5)
    return [q["name"] for q in r.json()]


def test_pytest_runs_the_live_suite(node: Endpoint, pytester: pytest.Pytester) -> None:
    cmd, marker = tiny()
    plan = LivePlan(0, 2, (LiveFault("kill_at_download", 1),), FAST)
    (pytester.path / "plan.json").write_text(json.dumps(plan.to_json()))
    result = pytester.runpytest_subprocess(
        "--harness-live-plan",
        "plan.json",
        "--harness-service",
        cmd,
        "--harness-amqp-url",
        node.amqp_url,
        "--harness-postgres-url",
        POSTGRES_URL,
        "-m",
        "blackbox",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "harness-report" / "report.json").read_text())
    assert data["verdict"] == "pass" and data["tier"] == "live"
    assert processes_with(marker) == []


def live_crypto(
    endpoint: Endpoint, tmp_path: Path, bug: str, plan: LivePlan
) -> tuple[LiveOutcome, str, str]:
    cmd, marker = tiny(bug)
    run_id = secrets.token_hex(4)
    config = LiveConfig(cmd, postgres_url=POSTGRES_URL, plan=plan, run_id=run_id, crypto=True)
    return run_service(config, tmp_path, endpoint), marker, run_id


@pytest.mark.parametrize(
    ("bug", "failed"),
    [("", set()), ("familia", {"SOR-1", "SOR-2"}), ("feilet-wrong-key", {"SOR-6"})],
)
def test_crypto_mode_seals_every_report_and_opens_every_reply(
    node: Endpoint, tmp_path: Path, bug: str, failed: set[str]
) -> None:
    # the second report meets storage that refuses writes: a correct service says feilet
    # (for long enough that opening the package first cannot outlast the window)
    plan = LivePlan(0, 2, (LiveFault("storage_down", 1, 4.0),), FAST)
    outcome, marker, run_id = live_crypto(node, tmp_path, bug, plan)
    assert outcome.check.failed == failed, outcome.check.violations
    assert outcome.info["fiksio_crypto"] == "on"
    log = (tmp_path / "service.log").read_text()
    assert log.count("stored") >= 1  # it decrypted and stored what the harness sealed
    unreadable = kinds(outcome.run.history.events, "case_system", "reply_unreadable")
    if bug == "feilet-wrong-key":
        message = next(v.message for v in outcome.check.violations if v.clause == "SOR-6")
        assert "not encrypted to this account's key" in message and "\n" not in message
        assert len(unreadable) == 1
    else:
        assert unreadable == []
    if not bug:
        assert outcome.check.counts["STORED"] == 1 and outcome.check.counts["FALLBACK"] == 1
    assert_clean(node, marker, run_id)
