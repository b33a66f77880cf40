"""The harness never crashes on the code it tests: whatever an adapter does is history."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from harness import (
    BEKYMRINGSMELDING_ID,
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    SERVERFEIL,
    CaseSystemEnv,
    Connection,
    Fault,
    IncomingMessage,
    Outcome,
    Plan,
    ReferenceCaseSystem,
    ReplyChannel,
    ReportSpec,
    RunResult,
    StoredRecord,
    check,
    simulate,
)
from harness.core.history import Event
from harness.errors import TargetError
from harness.target import REFERENCE_SPEC, load_target


def run(
    factory: Callable[[CaseSystemEnv], object],
    faults: Iterable[Fault] = (),
    reports: Iterable[ReportSpec] = (ReportSpec(0),),
    guard_seconds: float = 5.0,
) -> RunResult:
    plan = Plan(3, tuple(reports), tuple(faults))
    return simulate(plan, factory, guard_seconds=guard_seconds)  # type: ignore[arg-type]


def events(result: RunResult, component: str, kind: str, report: str | None = None) -> list[Event]:
    return [
        e
        for e in result.history
        if e.component == component and e.kind == kind and (report is None or e.report == report)
    ]


def only_report(result: RunResult) -> str:
    accepted = events(result, "portal", "accept")
    assert len(accepted) == 1
    report = accepted[0].report
    assert report is not None
    return report


def store(db: Connection, message: IncomingMessage, key: str | None = None) -> None:
    db.execute(
        "INSERT OR IGNORE INTO reports VALUES (?, ?, ?)",
        (
            key or message.headers[BEKYMRINGSMELDING_ID],
            message.files[REPORT_JSON],
            message.files[REPORT_PDF],
        ),
    )
    db.commit()


def assert_fell_back_after_dead_letter(result: RunResult, report: str) -> None:
    assert len(events(result, "transport", "deliver", report)) == 3
    assert len(events(result, "transport", "dead_letter", report)) == 1
    receipts = events(result, "portal", "receipt", report)
    assert [r.data["meldingstype"] for r in receipts] == [SERVERFEIL]
    assert [f.data["trigger"] for f in events(result, "portal", "fallback", report)] == [SERVERFEIL]
    last = events(result, "portal", "state", report)[-1]
    assert (last.data["state"], last.data.get("via")) == ("LEVERT", "print")


# -- adapters that raise -----------------------------------------------------
class RaisesInHandle(ReferenceCaseSystem):
    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        raise RuntimeError("handle exploded\nwith a second line")


def test_handle_raising_is_a_crash_and_the_report_falls_back() -> None:
    result = run(RaisesInHandle)
    assert result.completed and result.hung is None
    report = only_report(result)
    crashes = events(result, "case_system", "crash", report)
    assert len(crashes) == 3  # one per delivery
    for crash in crashes:
        assert crash.data["cause"] == "raised"
        detail = str(crash.data["detail"])
        assert detail.startswith("RuntimeError: handle exploded")
        assert "\n" not in detail
    assert len(events(result, "case_system", "start")) == 3  # rebuilt after every crash
    assert_fell_back_after_dead_letter(result, report)
    verdict = check(result.history)
    assert verdict.outcomes[report] is Outcome.FALLBACK
    assert verdict.failed == set()


def test_factory_raising_is_a_crash_and_nothing_escapes() -> None:
    calls: list[int] = []

    def factory(env: CaseSystemEnv) -> ReferenceCaseSystem:
        calls.append(1)
        raise ValueError("cannot connect to the case system")

    result = run(factory)
    report = only_report(result)
    crashes = events(result, "case_system", "crash", report)
    assert [c.data["cause"] for c in crashes] == ["raised"] * 3
    assert all("ValueError: cannot connect" in str(c.data["detail"]) for c in crashes)
    assert not events(result, "case_system", "start")
    assert not events(result, "case_system", "handle")
    assert_fell_back_after_dead_letter(result, report)
    # The reconciliation needs a fresh instance too: it cannot read the records.
    assert len(events(result, "harness", "reconcile_failed")) == 1
    assert len(calls) == 4  # three deliveries and the reconciliation
    verdict = check(result.history)
    assert "SOR-1" in verdict.failed
    assert verdict.outcomes[report] is Outcome.FALLBACK


def test_factory_returning_a_non_adapter_is_a_crash_in_simulate() -> None:
    result = run(lambda env: 42)
    report = only_report(result)
    crashes = events(result, "case_system", "crash", report)
    assert len(crashes) == 3
    assert all(c.data["cause"] == "raised" for c in crashes)
    assert_fell_back_after_dead_letter(result, report)
    assert events(result, "harness", "reconcile_failed")


# -- bare except -----------------------------------------------------------------
class SwallowsEverything(ReferenceCaseSystem):
    """Catches BaseException around the store, then carries on as if nothing happened."""

    swallowed: list[str] = []  # noqa: RUF012 -- shared across incarnations on purpose

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            store(self._db, message)
        except BaseException as exc:
            self.swallowed.append(type(exc).__name__)
        channel.reply(MOTTATT)
        channel.ack()


@pytest.fixture
def swallower() -> type[SwallowsEverything]:
    class Fresh(SwallowsEverything):
        swallowed: list[str] = []  # noqa: RUF012

    return Fresh


def test_bare_except_does_not_revive_a_crashed_case_system(
    swallower: type[SwallowsEverything],
) -> None:
    result = run(swallower, faults=[Fault("case_system.crash.after_commit")])
    assert swallower.swallowed == ["SimulatedCrash"]  # the adapter did swallow it
    report = only_report(result)
    crashes = events(result, "case_system", "crash", report)
    assert [(c.data["cause"], c.data["detail"]) for c in crashes] == [
        ("fault", "case_system.crash.after_commit")
    ]
    # The reply and the ack the adapter made after swallowing the crash never went out.
    crash_at = result.history.events.index(crashes[0])
    first_delivery = result.history.events[crash_at:]
    next_deliver = next(
        i for i, e in enumerate(first_delivery) if (e.component, e.kind) == ("transport", "deliver")
    )
    between = first_delivery[:next_deliver]
    assert not [e for e in between if e.component == "case_system" and e.kind in ("reply", "ack")]
    assert [e.data["why"] for e in between if e.kind == "requeue"] == ["consumer crashed"]
    assert len(events(result, "case_system", "start")) == 2
    assert len(events(result, "harness", "record", report)) == 1
    assert check(result.history).failed == set()


def test_bare_except_around_a_crash_after_reply_still_counts_as_crashed(
    swallower: type[SwallowsEverything],
) -> None:
    class SwallowsReply(swallower):  # type: ignore[valid-type,misc]
        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            try:
                store(self._db, message)
                channel.reply(MOTTATT)
            except BaseException as exc:
                self.swallowed.append(type(exc).__name__)
            channel.ack()

    result = run(SwallowsReply, faults=[Fault("case_system.crash.after_reply")])
    assert SwallowsReply.swallowed == ["SimulatedCrash"]
    report = only_report(result)
    assert len(events(result, "case_system", "crash", report)) == 1
    acks = events(result, "case_system", "ack", report)
    assert len(acks) == 1  # only the redelivery's ack: the dead process acked nothing
    assert len(events(result, "transport", "deliver", report)) == 2
    assert check(result.history).failed == set()


class WritesAfterItsCrash(ReferenceCaseSystem):
    """On any failure it "saves" the report again under its melding-id, inside a bare except."""

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            store(self._db, message)
        except BaseException:
            try:
                store(self._db, message, key=message.melding_id)
            except BaseException:
                return
        channel.reply(MOTTATT)
        channel.ack()


def test_dead_case_system_writes_nothing_durable() -> None:
    # Without a fault this adapter is correct: one record, no violations.
    clean = run(WritesAfterItsCrash)
    assert check(clean.history).failed == set()
    # A crash after the commit kills the process: the write its bare `except` attempts next
    # cannot happen in a dead process, so no record keyed on the melding-id may appear.
    result = run(WritesAfterItsCrash, faults=[Fault("case_system.crash.after_commit")])
    report = only_report(result)
    assert len(events(result, "case_system", "crash", report)) == 1
    recorded = {e.report for e in events(result, "harness", "record")}
    assert recorded == {report}
    assert check(result.history).failed == set()


# -- adapters that hang ----------------------------------------------------------
class HangsInHandle(ReferenceCaseSystem):
    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        while True:
            pass


def test_hanging_adapter_is_stopped_and_the_run_is_aborted() -> None:
    started = time.monotonic()
    result = run(HangsInHandle, guard_seconds=0.5)
    elapsed = time.monotonic() - started
    assert result.hung is not None and "0.5" in result.hung
    assert not result.completed
    report = only_report(result)
    hung = [c for c in events(result, "case_system", "crash") if c.data["cause"] == "hung"]
    assert len(hung) >= 1 and hung[0].report == report
    aborted = events(result, "harness", "aborted")
    assert len(aborted) >= 1
    end = events(result, "harness", "end")
    assert len(end) == 1 and end[0].data["completed"] is False
    # One hang is enough: the run is abandoned, not waited out delivery after delivery.
    assert len(hung) == 1, f"{len(hung)} hangs were waited out"
    assert len(aborted) == 1
    assert len(events(result, "transport", "deliver")) == 1
    assert elapsed < 1.4
    verdict = check(result.history)
    assert verdict.outcomes[report] is Outcome.UNRESOLVED
    assert "SOR-7" in verdict.failed


class HangsAfterMottatt(ReferenceCaseSystem):
    """Stores, replies `mottatt`, then spins (bounded, so a missed guard cannot hang the test)."""

    spin_seconds = 1.5

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        store(self._db, message)
        channel.reply(MOTTATT)
        deadline = time.monotonic() + self.spin_seconds
        while time.monotonic() < deadline:
            pass
        channel.ack()


def test_guard_still_fires_after_the_adapter_replied_mottatt() -> None:
    # Replying `mottatt` makes the harness probe durability through a nested guarded call;
    # the watchdog of the outer `handle` call must survive it.
    started = time.monotonic()
    result = run(HangsAfterMottatt, guard_seconds=0.3)
    elapsed = time.monotonic() - started
    report = only_report(result)
    assert events(result, "case_system", "reply", report)[0].data["durable"] is True
    hung = [c for c in events(result, "case_system", "crash") if c.data["cause"] == "hung"]
    assert hung, f"the 1.5 s spin ran to its end ({elapsed:.2f} s) under a 0.3 s guard"
    assert result.hung is not None


# -- adapters whose records cannot be read ------------------------------------------
class RecordsRaise(ReferenceCaseSystem):
    def records(self) -> Iterable[StoredRecord]:
        raise OSError("the archive is offline")


def test_records_raising_is_reconcile_failed_and_sor1() -> None:
    result = run(RecordsRaise)
    assert result.completed
    failed = events(result, "harness", "reconcile_failed")
    assert len(failed) == 1
    assert "OSError: the archive is offline" in str(failed[0].data["detail"])
    assert not events(result, "harness", "record")
    verdict = check(result.history)
    assert "SOR-1" in verdict.failed
    assert any("could not be read" in v.message for v in verdict.violations)


def test_records_as_a_failing_generator_is_reconcile_failed() -> None:
    class RecordsGeneratorRaises(ReferenceCaseSystem):
        def records(self) -> Iterable[StoredRecord]:
            yield from super().records()
            raise RuntimeError("cursor closed")

    result = run(RecordsGeneratorRaises)
    assert len(events(result, "harness", "reconcile_failed")) == 1
    assert "SOR-1" in check(result.history).failed


def test_records_of_the_wrong_shape_do_not_crash_the_harness() -> None:
    class RecordsAsTuples(ReferenceCaseSystem):
        def records(self) -> Iterable[StoredRecord]:
            return [(r.report_id, r.files) for r in super().records()]  # type: ignore[misc]

    result = run(RecordsAsTuples)  # must not raise AttributeError
    assert len(events(result, "harness", "reconcile_failed")) == 1
    assert "SOR-1" in check(result.history).failed


def test_records_holding_text_instead_of_bytes_do_not_crash_the_harness() -> None:
    class RecordsAsText(ReferenceCaseSystem):
        def records(self) -> Iterable[StoredRecord]:
            for r in super().records():
                text = {k: v.decode("latin-1") for k, v in r.files.items()}
                yield StoredRecord(r.report_id, text)  # type: ignore[arg-type]

    result = run(RecordsAsText)  # must not raise TypeError from the digest
    verdict = check(result.history)
    assert verdict.failed  # text is not the submitted bytes: never a clean pass
    assert events(result, "harness", "reconcile_failed") or events(result, "harness", "record")


# -- exotic exceptions ------------------------------------------------------------------
def _raise_system_exit() -> None:
    raise SystemExit(3)


@pytest.mark.parametrize(
    ("leave", "named"),
    # os._exit skips every handler: unguarded, it ended the harness with status 0 and
    # no report, which CI reads as a pass.
    [(_raise_system_exit, "SystemExit"), (lambda: os._exit(0), "os._exit(0)")],
    ids=["SystemExit", "os._exit"],
)
def test_an_exit_in_handle_is_a_crash_not_the_end_of_the_harness(
    leave: Callable[[], None], named: str
) -> None:
    class Exits(ReferenceCaseSystem):
        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            leave()

    real_exit = os._exit
    result = run(Exits)  # must not end the test process
    report = only_report(result)
    crashes = events(result, "case_system", "crash", report)
    assert len(crashes) == 3
    assert all(named in str(c.data["detail"]) for c in crashes)
    assert_fell_back_after_dead_letter(result, report)
    assert os._exit is real_exit, "restored after every adapter call"


def test_exception_with_a_broken_str_is_still_recorded() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise ValueError("no text for you")

    class RaisesUnprintable(ReferenceCaseSystem):
        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            raise Unprintable()

    result = run(RaisesUnprintable)  # describing the error must not raise in the harness
    crashes = events(result, "case_system", "crash")
    assert len(crashes) == 3
    assert all("Unprintable" in str(c.data["detail"]) for c in crashes)


def test_adapter_misusing_the_channel_does_not_crash_the_harness() -> None:
    class Chaotic(ReferenceCaseSystem):
        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            super().handle(message, channel)
            channel.ack()  # twice
            channel.nack()  # after the ack
            channel.nack_with_requeue()
            channel.reply("no.such.type.v1", b"\xff")

    result = run(Chaotic)
    report = only_report(result)
    assert len(events(result, "transport", "acked", report)) == 1
    ignored = {e.kind for e in result.history if e.kind.endswith("_ignored")}
    assert ignored == {"ack_ignored", "nack_ignored", "requeue_ignored"}
    assert len(events(result, "harness", "record", report)) == 1
    assert check(result.history).outcomes[report] is Outcome.STORED


# -- load_target ----------------------------------------------------------------------
ADAPTER_MODULE = textwrap.dedent(
    """
    from harness.components.case_system import ReferenceCaseSystem

    NOT_CALLABLE = 42

    def make_case_system(env):
        return ReferenceCaseSystem(env)

    def make_int(env):
        return 7

    def make_broken(env):
        raise RuntimeError("no database\\nconfigured")
    """
)


@pytest.fixture
def adapter_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_adapter.py"
    path.write_text(ADAPTER_MODULE, encoding="utf-8")
    return path


def assert_target_error(spec: str, *fragments: str) -> None:
    with pytest.raises(TargetError) as info:
        load_target(spec)
    message = str(info.value)
    assert "\n" not in message
    assert spec in message
    assert "a valid SPEC is" in message
    for fragment in fragments:
        assert fragment in message, message


def test_load_target_accepts_a_file_spec(adapter_file: Path) -> None:
    target = load_target(f"{adapter_file}:make_case_system")
    assert callable(target.factory)
    assert target.expects is None


def test_load_target_defaults_to_the_reference() -> None:
    assert load_target(None).spec == REFERENCE_SPEC


def test_load_target_missing_file(tmp_path: Path) -> None:
    assert_target_error(f"{tmp_path / 'nope.py'}:make_case_system", "no file")


def test_load_target_missing_module() -> None:
    assert_target_error("no_such_adapter_module_xyz:make_case_system", "no_such_adapter_module_xyz")


def test_load_target_missing_attribute(adapter_file: Path) -> None:
    assert_target_error(f"{adapter_file}:make_nothing", "make_nothing", "make_case_system")


def test_load_target_non_callable_attribute(adapter_file: Path) -> None:
    assert_target_error(f"{adapter_file}:NOT_CALLABLE", "int", "not a factory")


def test_load_target_factory_returning_a_non_adapter(adapter_file: Path) -> None:
    assert_target_error(f"{adapter_file}:make_int", "int", "handle", "records")


def test_load_target_factory_raising(adapter_file: Path) -> None:
    assert_target_error(f"{adapter_file}:make_broken", "RuntimeError: no database configured")


def test_load_target_spec_without_attr(adapter_file: Path) -> None:
    assert_target_error(str(adapter_file), "':attr'")


def test_load_target_module_that_fails_to_import(tmp_path: Path) -> None:
    path = tmp_path / "broken_adapter.py"
    path.write_text("raise ImportError('missing dependency')\n", encoding="utf-8")
    assert_target_error(f"{path}:make_case_system", "ImportError: missing dependency")


def test_a_hang_inside_the_durability_probe_is_a_hang_not_a_false_sor2() -> None:
    import threading

    from harness.components.case_system import ReferenceCaseSystem

    class SlowFind(ReferenceCaseSystem):
        def find(self, report_id: str):  # type: ignore[no-untyped-def]
            # A blocking wait (time.sleep would pass in virtual time); the probe runs
            # inside handle(), under handle's guard.
            threading.Event().wait(2)
            return super().find(report_id)

    def factory(env: CaseSystemEnv) -> SlowFind:
        return SlowFind(env)

    run = simulate(Plan(0, (ReportSpec(0),)), factory, guard_seconds=0.5)
    assert run.hung is not None
    assert not any(e.kind == "probe_failed" for e in run.history)
