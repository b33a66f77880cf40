"""Behaviour of the simulated world (portal -> transport -> case system), read from the history."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest

from harness import (
    BEKYMRINGSMELDING_ID,
    KLIENTMELDING_ID,
    MELDING_ID,
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    SERVERFEIL,
    TIDSAVBRUDD,
    CaseSystemEnv,
    Fault,
    IncomingMessage,
    Outcome,
    Plan,
    ReferenceCaseSystem,
    ReplyChannel,
    ReportSpec,
    RunResult,
    Storage,
    StoredRecord,
    check,
    simulate,
)
from harness.components.case_system import make_case_system
from harness.components.protocols import FEILET
from harness.core.history import Event
from harness.core.timing import MINUTE, SECOND, Timing
from harness.core.workload import make_submission, synthetic_fnr

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LATENCY = Timing().latency


# -- helpers ---------------------------------------------------------------
def run(
    factory: Callable[[CaseSystemEnv], object] = make_case_system,
    faults: Iterable[Fault] = (),
    reports: Iterable[ReportSpec] = (ReportSpec(0),),
    seed: int = 1,
    timing: Timing | None = None,
) -> RunResult:
    plan = Plan(seed, tuple(reports), tuple(faults))
    return simulate(plan, factory, timing=timing)  # type: ignore[arg-type]


def events(result: RunResult, component: str, kind: str, report: str | None = None) -> list[Event]:
    return [
        e
        for e in result.history
        if e.component == component and e.kind == kind and (report is None or e.report == report)
    ]


def only_report(result: RunResult) -> str:
    accepted = events(result, "portal", "accept")
    assert len(accepted) == 1, accepted
    report = accepted[0].report
    assert report is not None
    return report


def portal_states(result: RunResult, report: str) -> list[str]:
    return [str(e.data["state"]) for e in events(result, "portal", "state", report)]


def final_state(result: RunResult, report: str) -> tuple[str, str | None]:
    last = events(result, "portal", "state", report)[-1]
    return str(last.data["state"]), last.data.get("via")


def records_of(result: RunResult, report: str) -> list[Event]:
    return events(result, "harness", "record", report)


def assert_stored_once_intact(result: RunResult, report: str) -> None:
    accept = events(result, "portal", "accept", report)[0]
    recs = records_of(result, report)
    assert len(recs) == 1, recs
    assert recs[0].data["digest"] == accept.data["digest"]
    assert recs[0].data["files"] == [REPORT_JSON, REPORT_PDF]


class Recording:
    """Wraps an adapter factory and keeps what each incarnation was handed (survives restarts)."""

    def __init__(self, inner: Callable[[CaseSystemEnv], ReferenceCaseSystem]) -> None:
        self.inner = inner
        self.messages: list[IncomingMessage] = []

    def __call__(self, env: CaseSystemEnv) -> _RecordingAdapter:
        return _RecordingAdapter(self.inner(env), self.messages)


class _RecordingAdapter:
    def __init__(self, inner: ReferenceCaseSystem, seen: list[IncomingMessage]) -> None:
        self._inner = inner
        self._seen = seen

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        self._seen.append(message)
        self._inner.handle(message, channel)

    def records(self) -> Iterable[StoredRecord]:
        return self._inner.records()


class Silent:
    """A consumer that never replies and never acks."""

    def __init__(self, env: CaseSystemEnv) -> None:
        self.env = env

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        return None

    def records(self) -> Iterable[StoredRecord]:
        return []


class Nacker(Silent):
    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        channel.nack()


class AlwaysRaises(Silent):
    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        raise RuntimeError("boom")


# -- determinism -------------------------------------------------------------
DET_PLAN = Plan(
    20230601,
    (
        ReportSpec(0),
        ReportSpec(10 * SECOND, "offentlig", 1),
        ReportSpec(20 * SECOND, "privat", 1, "not_json"),
        ReportSpec(30 * SECOND, "offentlig", 2),
    ),
    (
        Fault("transport.ack.lost", 0),
        Fault("case_system.crash.after_commit", 1),
        Fault("storage.execute.error", 3),
    ),
)

_CHILD = (
    "import hashlib, json, sys\n"
    "from harness import Plan, simulate\n"
    "from harness.components.case_system import make_case_system\n"
    "plan = Plan.from_json(json.loads(sys.argv[1]))\n"
    "data = simulate(plan, make_case_system).history.to_bytes()\n"
    "print(hashlib.sha256(data).hexdigest())\n"
)


def test_same_plan_gives_byte_identical_history() -> None:
    first = simulate(DET_PLAN, make_case_system).history.to_bytes()
    second = simulate(DET_PLAN, make_case_system).history.to_bytes()
    assert first == second
    assert len(first) > 1000  # a real history, not two empty ones


def test_history_is_identical_across_processes_and_hash_seeds() -> None:
    expected = hashlib.sha256(simulate(DET_PLAN, make_case_system).history.to_bytes()).hexdigest()
    plan_json = json.dumps(DET_PLAN.to_json())
    digests = []
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, plan_json],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            env=env,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        digests.append(proc.stdout.strip())
    assert digests == [expected, expected]


def test_different_seeds_give_different_histories() -> None:
    a = simulate(Plan(1, DET_PLAN.reports, DET_PLAN.faults), make_case_system)
    b = simulate(Plan(2, DET_PLAN.reports, DET_PLAN.faults), make_case_system)
    assert a.history.to_bytes() != b.history.to_bytes()
    ids_a = {e.report for e in events(a, "portal", "accept")}
    ids_b = {e.report for e in events(b, "portal", "accept")}
    assert ids_a.isdisjoint(ids_b)


def test_plan_json_round_trip() -> None:
    assert Plan.from_json(json.loads(json.dumps(DET_PLAN.to_json()))) == DET_PLAN


# -- the happy path ------------------------------------------------------------
def test_reference_without_faults_stores_every_report_once_and_delivers() -> None:
    specs = (
        ReportSpec(0, "privat", 1),
        ReportSpec(1 * SECOND, "privat", 2),
        ReportSpec(2 * SECOND, "offentlig", 1),
        ReportSpec(3 * SECOND, "offentlig", 2),
        ReportSpec(3 * SECOND, "privat", 2),
    )
    result = run(reports=specs)
    assert result.completed and result.hung is None
    accepted = events(result, "portal", "accept")
    assert [e.data["submission"] for e in accepted] == [0, 1, 2, 3, 4]
    for acc in accepted:
        assert acc.report is not None
        assert_stored_once_intact(result, acc.report)
        assert portal_states(result, acc.report) == ["AKSEPTERT", "SENDT_FAGSYSTEM", "LEVERT"]
        assert final_state(result, acc.report) == ("LEVERT", "fagsystem")
        replies = events(result, "case_system", "reply", acc.report)
        assert [(r.data["meldingstype"], r.data["durable"]) for r in replies] == [(MOTTATT, True)]
        assert not events(result, "portal", "fallback", acc.report)
    assert len(events(result, "harness", "record")) == len(specs)
    verdict = check(result.history)
    assert verdict.failed == set()
    assert set(verdict.outcomes.values()) == {Outcome.STORED}
    assert {"SOR-1", "SOR-2"} <= verdict.exercised


def test_message_types_follow_the_form_and_version() -> None:
    specs = (ReportSpec(0, "privat", 1), ReportSpec(0, "offentlig", 2))
    rec = Recording(make_case_system)
    run(rec, reports=specs)
    assert sorted(m.meldingstype for m in rec.messages) == [
        "no.ks.fiks.bekymringsmelding.offentlig.v2",
        "no.ks.fiks.bekymringsmelding.privat.v1",
    ]


# -- transport -------------------------------------------------------------------
def test_consumer_that_never_acks_is_dead_lettered_after_three_deliveries() -> None:
    result = run(Silent)
    report = only_report(result)
    delivered = events(result, "transport", "deliver", report)
    assert [e.data["delivery"] for e in delivered] == [1, 2, 3]
    assert [e.data["redelivered"] for e in delivered] == [False, True, True]
    ack_timeout = Timing().ack_timeout
    assert [e.t for e in delivered] == [LATENCY, LATENCY + ack_timeout, LATENCY + 2 * ack_timeout]
    dead = events(result, "transport", "dead_letter", report)
    assert len(dead) == 1 and dead[0].data["deliveries"] == 3
    receipts = events(result, "portal", "receipt", report)
    assert [r.data["meldingstype"] for r in receipts] == [SERVERFEIL]
    fallback = events(result, "portal", "fallback", report)
    assert [f.data["trigger"] for f in fallback] == [SERVERFEIL]
    assert portal_states(result, report)[-3:] == ["AVVIST_FAGSYSTEM", "SENDT_PRINT", "LEVERT"]
    assert final_state(result, report) == ("LEVERT", "print")
    verdict = check(result.history)
    assert verdict.outcomes[report] is Outcome.FALLBACK
    assert verdict.failed == set()


def test_nack_dead_letters_at_once_and_portal_gets_serverfeil() -> None:
    result = run(Nacker)
    report = only_report(result)
    assert len(events(result, "transport", "deliver", report)) == 1
    assert len(events(result, "transport", "nacked", report)) == 1
    dead = events(result, "transport", "dead_letter", report)
    assert len(dead) == 1 and dead[0].data["deliveries"] == 1
    assert [r.data["meldingstype"] for r in events(result, "portal", "receipt", report)] == [
        SERVERFEIL
    ]
    assert final_state(result, report) == ("LEVERT", "print")
    assert check(result.history).outcomes[report] is Outcome.FALLBACK


def test_nack_with_requeue_is_redelivered_and_then_stored() -> None:
    seen: list[bool] = []

    class RequeueFirst(ReferenceCaseSystem):
        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            seen.append(message.redelivered)
            if not message.redelivered:
                channel.nack_with_requeue()
                return
            super().handle(message, channel)

    result = run(RequeueFirst)
    report = only_report(result)
    assert seen == [False, True]
    assert len(events(result, "transport", "requeued", report)) == 1
    delivered = events(result, "transport", "deliver", report)
    assert delivered[1].t - delivered[0].t == Timing().redelivery_delay
    assert not events(result, "transport", "dead_letter", report)
    assert_stored_once_intact(result, report)
    assert final_state(result, report) == ("LEVERT", "fagsystem")
    assert check(result.history).failed == set()


def test_always_requeueing_consumer_is_dead_lettered_after_three_deliveries() -> None:
    class AlwaysRequeue(Silent):
        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            channel.nack_with_requeue()

    result = run(AlwaysRequeue)
    report = only_report(result)
    assert len(events(result, "transport", "deliver", report)) == 3
    assert events(result, "transport", "dead_letter", report)[0].data["deliveries"] == 3
    assert check(result.history).outcomes[report] is Outcome.FALLBACK


def test_lost_ack_is_redelivered_after_the_ack_timeout_and_stored_once() -> None:
    result = run(faults=[Fault("transport.ack.lost")])
    assert result.fired == {"transport.ack.lost": 1}
    report = only_report(result)
    delivered = events(result, "transport", "deliver", report)
    assert len(delivered) == 2
    assert delivered[1].t - delivered[0].t == Timing().ack_timeout
    assert delivered[1].data["redelivered"] is True
    requeue = events(result, "transport", "requeue", report)
    assert [r.data["why"] for r in requeue] == ["ack timeout"]
    assert len(events(result, "case_system", "handle", report)) == 2
    assert_stored_once_intact(result, report)
    assert final_state(result, report) == ("LEVERT", "fagsystem")
    assert check(result.history).failed == set()


@pytest.mark.parametrize("point", ["transport.deliver.duplicate", "transport.deliver.redeliver"])
def test_duplicate_or_redelivered_message_still_makes_one_record(point: str) -> None:
    rec = Recording(make_case_system)
    result = run(rec, faults=[Fault(point)])
    assert result.fired == {point: 1}
    report = only_report(result)
    assert len(events(result, "transport", "deliver", report)) == 2
    assert [m.redelivered for m in rec.messages] == [False, True]
    assert len({m.melding_id for m in rec.messages}) == 1  # the same message, twice
    assert_stored_once_intact(result, report)
    verdict = check(result.history)
    assert verdict.outcomes[report] is Outcome.STORED
    assert verdict.failed == set()
    assert "SOR-3" in verdict.exercised


def test_dropped_send_is_resent_with_a_new_melding_id_and_the_same_report_id() -> None:
    rec = Recording(make_case_system)
    result = run(rec, faults=[Fault("transport.send.drop")])
    report = only_report(result)
    sends = events(result, "portal", "send", report)
    assert [s.data["attempt"] for s in sends] == [1, 2]
    assert sends[1].t - sends[0].t == Timing().resend_after
    first_id, second_id = (str(s.data["melding_id"]) for s in sends)
    assert first_id != second_id
    assert [d.data["melding_id"] for d in events(result, "transport", "drop", report)] == [first_id]
    assert len(rec.messages) == 1  # the dropped one never reached the case system
    headers = rec.messages[0].headers
    assert headers[MELDING_ID] == rec.messages[0].melding_id == second_id
    assert headers[BEKYMRINGSMELDING_ID] == report
    assert headers[KLIENTMELDING_ID] not in (report, first_id, second_id)
    assert_stored_once_intact(result, report)
    assert final_state(result, report) == ("LEVERT", "fagsystem")
    assert check(result.history).failed == set()


def test_resend_keeps_klientmelding_id_and_bekymringsmelding_id() -> None:
    # The reply is lost, so the portal hears nothing and resends: the case system sees both.
    rec = Recording(make_case_system)
    result = run(rec, faults=[Fault("transport.reply.lost")])
    report = only_report(result)
    assert len(rec.messages) == 2
    first, second = (m.headers for m in rec.messages)
    assert first[MELDING_ID] != second[MELDING_ID]
    assert first[KLIENTMELDING_ID] == second[KLIENTMELDING_ID]
    assert first[BEKYMRINGSMELDING_ID] == second[BEKYMRINGSMELDING_ID] == report
    assert [m.redelivered for m in rec.messages] == [False, False]  # a resend is a new message
    assert [s.data["melding_id"] for s in events(result, "portal", "send", report)] == [
        first[MELDING_ID],
        second[MELDING_ID],
    ]
    assert_stored_once_intact(result, report)
    assert check(result.history).failed == set()


def test_receipts_are_routed_by_svar_til() -> None:
    result = run()
    report = only_report(result)
    sent = events(result, "portal", "send", report)[0].data["melding_id"]
    receipt = events(result, "portal", "receipt", report)[0]
    assert receipt.data["svar_til"] == sent
    assert receipt.t == LATENCY * 2
    assert not events(result, "portal", "receipt_unknown")


def test_message_still_queued_at_its_ttl_expires_with_tidsavbrudd() -> None:
    # The consumer crashes; the restart takes 5 s, the TTL is 3 s: the requeued message expires.
    timing = Timing(ttl=3 * SECOND)
    result = run(AlwaysRaises, timing=timing)
    report = only_report(result)
    assert len(events(result, "transport", "deliver", report)) == 1
    expired = events(result, "transport", "expire", report)
    assert len(expired) == 1 and expired[0].t == timing.ttl
    assert not events(result, "transport", "dead_letter", report)
    receipts = events(result, "portal", "receipt", report)
    assert [r.data["meldingstype"] for r in receipts] == [TIDSAVBRUDD]
    assert [f.data["trigger"] for f in events(result, "portal", "fallback", report)] == [
        TIDSAVBRUDD
    ]
    assert final_state(result, report) == ("LEVERT", "print")
    assert check(result.history).outcomes[report] is Outcome.FALLBACK


def test_unacked_message_past_its_ttl_expires_instead_of_being_redelivered() -> None:
    timing = Timing(ttl=10 * MINUTE)  # shorter than the 30 min ack timeout
    result = run(Silent, timing=timing)
    report = only_report(result)
    assert len(events(result, "transport", "deliver", report)) == 1
    expired = events(result, "transport", "expire", report)
    assert len(expired) == 1 and expired[0].t == LATENCY + timing.ack_timeout
    assert [r.data["meldingstype"] for r in events(result, "portal", "receipt", report)] == [
        TIDSAVBRUDD
    ]


# -- case-system crashes ---------------------------------------------------------
@pytest.mark.parametrize(
    "point",
    [
        "case_system.crash.before_store",
        "case_system.crash.after_commit",
        "case_system.crash.after_reply",
    ],
)
def test_crash_point_restarts_the_case_system_and_the_report_is_stored(point: str) -> None:
    result = run(faults=[Fault(point)])
    assert result.fired == {point: 1}
    report = only_report(result)
    crashes = events(result, "case_system", "crash", report)
    assert [(c.data["cause"], c.data["detail"]) for c in crashes] == [("fault", point)]
    starts = events(result, "case_system", "start")
    assert len(starts) == 2
    assert starts[1].t == crashes[0].t + Timing().restart_delay
    requeue = events(result, "transport", "requeue", report)
    assert [r.data["why"] for r in requeue] == ["consumer crashed"]
    assert_stored_once_intact(result, report)
    assert final_state(result, report) == ("LEVERT", "fagsystem")
    verdict = check(result.history)
    assert verdict.outcomes[report] is Outcome.STORED
    assert verdict.failed == set()


def test_crash_before_store_happens_before_the_adapter_is_called() -> None:
    rec = Recording(make_case_system)
    result = run(rec, faults=[Fault("case_system.crash.before_store")])
    assert len(rec.messages) == 1  # only the redelivery reached handle()
    assert rec.messages[0].redelivered is True
    assert len(events(result, "storage", "commit")) == 1


# -- storage faults --------------------------------------------------------------
@pytest.mark.parametrize(
    "point", ["storage.execute.error", "storage.execute.timeout", "storage.commit.error"]
)
def test_storage_fault_makes_the_reference_reply_feilet_and_the_portal_print(point: str) -> None:
    result = run(faults=[Fault(point)])
    assert result.fired == {point: 1}
    report = only_report(result)
    assert [f.data["fault"] for f in events(result, "storage", "fault", report)] == [point]
    assert not events(result, "storage", "commit", report)
    replies = events(result, "case_system", "reply", report)
    assert [r.data["meldingstype"] for r in replies] == [FEILET]
    assert len(events(result, "case_system", "ack", report)) == 1
    assert [f.data["trigger"] for f in events(result, "portal", "fallback", report)] == [FEILET]
    assert final_state(result, report) == ("LEVERT", "print")
    assert not records_of(result, report)
    verdict = check(result.history)
    assert verdict.outcomes[report] is Outcome.FALLBACK
    assert verdict.failed == set()
    assert "SOR-5" in verdict.exercised


@pytest.mark.parametrize("storage_timeout", [Timing().storage_timeout, 7 * SECOND])
def test_storage_timeout_advances_virtual_time(storage_timeout: int) -> None:
    timing = Timing(storage_timeout=storage_timeout)
    result = run(faults=[Fault("storage.execute.timeout")], timing=timing)
    report = only_report(result)
    handle = events(result, "case_system", "handle", report)[0]
    fault = events(result, "storage", "fault", report)[0]
    assert fault.t - handle.t == storage_timeout
    assert events(result, "case_system", "reply", report)[0].t == handle.t + storage_timeout


def test_storage_error_in_one_report_leaves_the_others_stored() -> None:
    specs = (ReportSpec(0), ReportSpec(SECOND), ReportSpec(2 * SECOND))
    result = run(faults=[Fault("storage.execute.error", 1)], reports=specs)
    verdict = check(result.history)
    assert sorted(verdict.outcomes.values()) == sorted(
        [Outcome.STORED, Outcome.FALLBACK, Outcome.STORED]
    )
    assert verdict.failed == set()


# -- crashes drop uncommitted work -------------------------------------------------
class ReplyBeforeCommit:
    """Writes, says `mottatt`, and only then commits (no primary key: a leftover row would show)."""

    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute("CREATE TABLE IF NOT EXISTS r (id TEXT, body BLOB, pdf BLOB)")

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        self.db.execute(
            "INSERT INTO r VALUES (?, ?, ?)",
            (
                message.headers[BEKYMRINGSMELDING_ID],
                message.files[REPORT_JSON],
                message.files[REPORT_PDF],
            ),
        )
        channel.reply(MOTTATT)
        self.db.commit()
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        for id_, body, pdf in self.db.execute("SELECT id, body, pdf FROM r"):
            yield StoredRecord(id_, {REPORT_JSON: body, REPORT_PDF: pdf})


def test_mottatt_before_commit_is_reported_as_sor2() -> None:
    result = run(ReplyBeforeCommit)
    report = only_report(result)
    reply = events(result, "case_system", "reply", report)
    assert [(r.data["meldingstype"], r.data["durable"]) for r in reply] == [(MOTTATT, False)]
    assert_stored_once_intact(result, report)  # committed a moment later
    verdict = check(result.history)
    assert verdict.failed == {"SOR-2"}
    assert verdict.outcomes[report] is Outcome.STORED


def test_crash_between_write_and_commit_drops_the_uncommitted_row() -> None:
    result = run(ReplyBeforeCommit, faults=[Fault("case_system.crash.after_reply")])
    report = only_report(result)
    assert len(events(result, "case_system", "crash", report)) == 1
    # Had the first, uncommitted INSERT survived the crash, the table (no key) would hold two rows.
    assert_stored_once_intact(result, report)
    assert len(events(result, "storage", "commit", report)) == 1
    verdict = check(result.history)
    assert verdict.failed == {"SOR-2"}
    assert sum(v.clause == "SOR-2" for v in verdict.violations) == 2


def test_crash_loses_the_report_when_the_redelivery_is_trusted() -> None:
    class TrustsRedelivered(ReplyBeforeCommit):
        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            if message.redelivered:  # "I must have stored it already"
                channel.reply(MOTTATT)
                channel.ack()
                return
            super().handle(message, channel)

    result = run(TrustsRedelivered, faults=[Fault("case_system.crash.after_reply")])
    report = only_report(result)
    assert not events(result, "harness", "record")
    assert not events(result, "storage", "commit")
    verdict = check(result.history)
    assert verdict.outcomes[report] is Outcome.LOST
    assert {"SOR-1", "SOR-2"} <= verdict.failed


def test_storage_close_all_discards_uncommitted_rows(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    try:
        writer = storage.connect()
        writer.execute("CREATE TABLE t (x INTEGER)")
        writer.execute("INSERT INTO t VALUES (1)")
        writer.commit()
        writer.execute("INSERT INTO t VALUES (2)")
        assert writer.in_transaction
        storage.close_all()
        reader = storage.connect()
        assert [row[0] for row in reader.execute("SELECT x FROM t")] == [1]
    finally:
        storage.destroy()
    assert tmp_path.is_dir()  # a directory it did not create is left in place


# -- invalid submissions ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("defect", "reason"),
    [
        ("missing_melding", "$.melding"),
        ("bad_kommunenummer", "$.kommunenummer"),
        ("not_json", "valid JSON"),
    ],
)
@pytest.mark.parametrize("form", ["privat", "offentlig"])
def test_invalid_submission_is_rejected_with_a_reason_and_never_sent(
    defect: str, reason: str, form: str
) -> None:
    specs = (ReportSpec(0, form, 2, defect), ReportSpec(SECOND))
    rec = Recording(make_case_system)
    result = run(rec, reports=specs)
    rejected = events(result, "portal", "reject")
    assert len(rejected) == 1
    assert rejected[0].report == "submission-0"
    assert rejected[0].data["submission"] == 0
    text = str(rejected[0].data["reason"])
    assert reason in text  # the reason names what is wrong
    assert "\n" not in text
    accepted = events(result, "portal", "accept")
    assert [a.data["submission"] for a in accepted] == [1]
    transport_reports = {e.report for e in result.history if e.component == "transport"}
    assert transport_reports == {accepted[0].report}
    assert len(rec.messages) == 1
    assert rec.messages[0].headers[BEKYMRINGSMELDING_ID] == accepted[0].report
    verdict = check(result.history)
    assert verdict.outcomes["submission-0"] is Outcome.REJECTED
    assert verdict.failed == set()
    assert "SOR-6" in verdict.exercised


def test_valid_submissions_pass_the_portal_checks() -> None:
    for index, (form, version) in enumerate(
        [("privat", 1), ("privat", 2), ("offentlig", 1), ("offentlig", 2)]
    ):
        sub = make_submission(index, ReportSpec(0, form, version), seed=5)
        body = json.loads(sub.files[REPORT_JSON])
        assert body["kommunenummer"] == "4601"
        assert f"{form}Melder" in body and f"{form}Barn" in body
        assert sub.files[REPORT_PDF].startswith(b"%PDF-")


# -- synthetic people -------------------------------------------------------------------
def _fnr_is_valid_synthetic(fnr: str) -> bool:
    if len(fnr) != 11 or not fnr.isdigit():
        return False
    digits = [int(c) for c in fnr]
    weights1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
    weights2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    k1 = (11 - sum(d * w for d, w in zip(digits[:9], weights1, strict=True)) % 11) % 11
    k2 = (11 - sum(d * w for d, w in zip(digits[:10], weights2, strict=True)) % 11) % 11
    return k1 != 10 and k2 != 10 and digits[9] == k1 and digits[10] == k2


def test_synthetic_fnr_has_eleven_digits_synthetic_month_and_valid_control_digits() -> None:
    rng = random.Random(42)
    numbers = [synthetic_fnr(rng) for _ in range(500)]
    for fnr in numbers:
        assert len(fnr) == 11 and fnr.isdigit(), fnr
        assert 81 <= int(fnr[2:4]) <= 92, fnr
        assert 1 <= int(fnr[:2]) <= 31, fnr
        assert _fnr_is_valid_synthetic(fnr), fnr
    assert len(set(numbers)) > 400  # not one number over and over
    months = {int(f[2:4]) for f in numbers}
    assert months == set(range(81, 93))


def test_synthetic_fnr_is_deterministic_for_a_seed() -> None:
    assert synthetic_fnr(random.Random(7)) == synthetic_fnr(random.Random(7))


def test_validity_check_rejects_a_wrong_control_digit() -> None:
    fnr = synthetic_fnr(random.Random(3))
    broken = fnr[:10] + str((int(fnr[10]) + 1) % 10)
    assert not _fnr_is_valid_synthetic(broken)


def test_offentlig_reports_carry_only_synthetic_fnr() -> None:
    for index in range(30):
        sub = make_submission(index, ReportSpec(0, "offentlig", 2), seed=11)
        children: list[Mapping[str, object]] = json.loads(sub.files[REPORT_JSON])["offentligBarn"]
        assert children
        for child in children:
            fnr = str(child["fnr"])
            assert _fnr_is_valid_synthetic(fnr), fnr
            assert int(fnr[2:4]) > 80


# -- the garbage collector ----------------------------------------------------------------
def _collector_watch(seen: list[bool]) -> Callable[[CaseSystemEnv], object]:
    def factory(env: CaseSystemEnv) -> object:
        inner = make_case_system(env)

        class Watching:
            def handle(self, message: object, channel: object) -> None:
                seen.append(gc.isenabled())
                inner.handle(message, channel)  # type: ignore[arg-type]

            def records(self) -> object:
                return inner.records()

        return Watching()

    return factory


def test_a_batch_run_pauses_the_collector_and_a_streamed_run_keeps_it() -> None:
    plan = Plan(0, (ReportSpec(0),))
    seen: list[bool] = []
    simulate(plan, _collector_watch(seen))  # type: ignore[arg-type]
    assert seen and not any(seen), "a batch run walks its history at every full collection"
    assert gc.isenabled(), "the collector is restored after the run"
    streamed: list[bool] = []
    simulate(plan, _collector_watch(streamed), stream=lambda event: None)  # type: ignore[arg-type]
    assert streamed and all(streamed), "a streamed run must stay flat in memory"


def test_a_collector_paused_by_the_caller_stays_paused() -> None:
    gc.disable()
    try:
        simulate(Plan(0, (ReportSpec(0),)), make_case_system)
        assert not gc.isenabled()
    finally:
        gc.enable()
