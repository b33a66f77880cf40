"""Deferred work (timers the adapter asks for) and the transport's prefetch window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from harness import (
    CaseSystemEnv,
    Fault,
    IncomingMessage,
    Plan,
    ReferenceCaseSystem,
    ReplyChannel,
    ReportSpec,
    RunResult,
    StoredRecord,
    Timer,
    check,
    simulate,
)
from harness.core.history import Event
from harness.core.timing import SECOND, Timing
from harness.core.wire import EPOCH
from harness.target import load_target

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def events(run: RunResult, component: str, kind: str) -> list[Event]:
    return [e for e in run.history if e.component == component and e.kind == kind]


def at_once(n: int) -> tuple[ReportSpec, ...]:
    return tuple(ReportSpec(0) for _ in range(n))


class Later(ReferenceCaseSystem):
    """Stores at once, but replies and acks from a timer `DELAY` ms later."""

    DELAY = 100

    def __init__(self, env: CaseSystemEnv) -> None:
        super().__init__(env)
        self.env = env

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        super().handle(message, _Deferred(self.env, channel, self.DELAY))


class _Deferred:
    """A channel whose reply and ack go out `delay` ms later, from a timer."""

    def __init__(self, env: CaseSystemEnv, inner: ReplyChannel, delay: int) -> None:
        self.env, self.inner, self.delay = env, inner, delay
        self.todo: list[Callable[[], None]] = []

    def reply(self, meldingstype: str, body: bytes | None = None) -> None:
        self.todo.append(lambda: self.inner.reply(meldingstype, body))

    def ack(self) -> None:
        self.todo.append(self.inner.ack)
        todo = list(self.todo)
        self.env.call_later(self.delay, lambda: [do() for do in todo])

    def nack(self) -> None:
        self.inner.nack()

    def nack_with_requeue(self) -> None:
        self.inner.nack_with_requeue()


# -- timers -------------------------------------------------------------------------
def test_a_timer_runs_its_work_later_in_virtual_time() -> None:
    run = simulate(Plan(0, (ReportSpec(0),)), Later)
    (timer,) = events(run, "case_system", "timer")
    (ack,) = events(run, "case_system", "ack")
    assert timer.t == ack.t == 150
    assert not check(run.history).failed


def test_a_timer_of_a_dead_incarnation_never_fires() -> None:
    fired: list[int] = []

    class Arms(ReferenceCaseSystem):
        def __init__(self, env: CaseSystemEnv) -> None:
            super().__init__(env)
            self.env = env

        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            self.env.call_later(1000, lambda: fired.append(1))
            super().handle(message, channel)

    plan = Plan(0, (ReportSpec(0),), (Fault("case_system.crash.after_reply", 0),))
    run = simulate(plan, Arms)
    assert len(events(run, "case_system", "start")) == 2
    assert fired == [1]  # the restarted incarnation's timer only
    assert [e.t for e in events(run, "case_system", "timer")] == [6050]


def test_a_cancelled_timer_does_not_fire() -> None:
    fired: list[int] = []

    class Cancels(ReferenceCaseSystem):
        def __init__(self, env: CaseSystemEnv) -> None:
            super().__init__(env)
            timer: Timer = env.call_later(10, lambda: fired.append(1))
            timer.cancel()

    run = simulate(Plan(0, (ReportSpec(0),)), Cancels)
    assert fired == [] and not events(run, "case_system", "timer")


@pytest.mark.parametrize("delay", [-1, float("nan")])
def test_a_bad_delay_is_a_crash_that_says_what_is_wrong(delay: float) -> None:
    class Bad(ReferenceCaseSystem):
        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            self.env.call_later(delay, lambda: None)

        def __init__(self, env: CaseSystemEnv) -> None:
            super().__init__(env)
            self.env = env

    run = simulate(Plan(0, (ReportSpec(0),)), Bad)
    crash = events(run, "case_system", "crash")[0]
    assert "call_later needs a delay in ms >= 0" in crash.data["detail"]


def test_a_crash_inside_a_timer_requeues_what_the_process_held() -> None:
    """The batch consumer holds its messages unacked until its timer flushes them; a
    crash right after the flush's commit closes its channel, and the broker sends
    every held message again."""
    target = load_target(f"{EXAMPLES / 'write_behind_flush_first.py'}:make_case_system")
    plan = Plan(0, at_once(3), (Fault("case_system.crash.after_commit", 0),))
    run = simulate(plan, target.factory)
    (crash,) = events(run, "case_system", "crash")
    assert crash.t == 250  # in the timer's flush, 200 ms after the first delivery
    requeued = [e for e in events(run, "transport", "requeue") if e.t == crash.t]
    assert len(requeued) == 3 and {e.data["why"] for e in requeued} == {"consumer crashed"}
    assert not check(run.history).failed


def test_the_probe_instance_has_the_run_clock_and_no_timers() -> None:
    probe_clocks: list[datetime] = []
    probe_fired: list[int] = []

    class Watches(ReferenceCaseSystem):
        def __init__(self, env: CaseSystemEnv) -> None:
            super().__init__(env)
            self.env = env

        def find(self, report_id: str) -> list[StoredRecord]:
            probe_clocks.append(self.env.clock())
            self.env.call_later(1, lambda: probe_fired.append(1))
            return list(super().find(report_id))

    plan = Plan(0, (ReportSpec(0),), (Fault("case_system.clock.skew", 0),))
    run = simulate(plan, Watches)
    assert probe_clocks[0] == EPOCH + timedelta(milliseconds=50)  # not skewed, not frozen
    assert probe_fired == []
    assert not check(run.history).failed


def test_the_write_behind_buffer_confirmed_on_arrival_is_caught_and_its_twin_passes() -> None:
    buggy = load_target(f"{EXAMPLES / 'write_behind_timer.py'}:make_case_system")
    fixed = load_target(f"{EXAMPLES / 'write_behind_flush_first.py'}:make_case_system")
    plan = Plan(0, at_once(2), (Fault("case_system.crash.after_reply", 1),))
    assert {"SOR-1", "SOR-2"} <= check(simulate(plan, buggy.factory).history).failed
    assert not check(simulate(plan, fixed.factory).history).failed


# -- the prefetch window ------------------------------------------------------------
class BatchOutOfOrder(ReferenceCaseSystem):
    """Holds every delivery, and when the transport has gone quiet for 500 ms stores
    the batch and answers it last-in first-out: acks out of order."""

    def __init__(self, env: CaseSystemEnv) -> None:
        super().__init__(env)
        self.env = env
        self.held: list[tuple[IncomingMessage, ReplyChannel]] = []
        self.timer: Timer | None = None

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        self.held.append((message, channel))
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.env.call_later(500, self.flush)  # flush on idle

    def flush(self) -> None:
        batch, self.held, self.timer = self.held, [], None
        for message, channel in reversed(batch):
            ReferenceCaseSystem.handle(self, message, channel)


def _acked_order(run: RunResult) -> list[str]:
    return [str(e.report) for e in events(run, "transport", "acked")]


def test_a_batch_consumer_acking_out_of_order_passes() -> None:
    run = simulate(Plan(0, at_once(5)), BatchOutOfOrder)
    delivered = [str(e.report) for e in events(run, "transport", "deliver")]
    first_ack = events(run, "transport", "acked")[0].t
    assert all(e.t < first_ack for e in events(run, "transport", "deliver"))  # 5 held at once
    assert _acked_order(run) == delivered[::-1]
    assert not check(run.history).failed
    again = simulate(Plan(0, at_once(5)), BatchOutOfOrder)
    assert again.history.to_bytes() == run.history.to_bytes()


def test_the_window_holds_at_most_prefetch_unacked_deliveries() -> None:
    run = simulate(Plan(0, at_once(12)), BatchOutOfOrder)
    first_ack = events(run, "transport", "acked")[0].t
    early = [e for e in events(run, "transport", "deliver") if e.t < first_ack]
    assert len(early) == Timing().prefetch == 10
    assert len(events(run, "transport", "acked")) == 12  # the last two came after
    assert not check(run.history).failed


def test_prefetch_one_delivers_the_next_message_only_after_the_ack() -> None:
    plan = Plan(0, at_once(2))
    one = simulate(plan, Later, timing=replace(Timing(), prefetch=1))
    delivers = events(one, "transport", "deliver")
    acks = events(one, "transport", "acked")
    assert delivers[1].t == acks[0].t + Timing().latency
    unlimited = simulate(plan, Later, timing=replace(Timing(), prefetch=0))
    assert [e.t for e in events(unlimited, "transport", "deliver")] == [50, 50]
    assert not check(one.history).failed and not check(unlimited.history).failed


def test_a_crash_returns_every_held_delivery_at_once() -> None:
    """A crash while three are held: all come back after the restart delay, not after
    the 30-minute ack timeout."""
    plan = Plan(0, at_once(3), (Fault("case_system.crash.before_store", 2),))
    run = simulate(plan, BatchOutOfOrder)
    (crash,) = events(run, "case_system", "crash")
    requeued = [e for e in events(run, "transport", "requeue") if e.t == crash.t]
    assert len(requeued) == 3
    redelivered = [e for e in events(run, "transport", "deliver") if e.data["redelivered"]]
    assert {e.t for e in redelivered} == {crash.t + 5 * SECOND}
    assert not check(run.history).failed


def test_reports_in_a_batch_keep_their_ids() -> None:
    run = simulate(Plan(0, at_once(3)), BatchOutOfOrder)
    stored = sorted(str(e.report) for e in events(run, "harness", "record"))
    accepted = sorted(str(e.report) for e in events(run, "portal", "accept"))
    assert stored == accepted
