"""Inside adapter calls the clocks and sleeps follow the run's virtual time."""

from __future__ import annotations

import sqlite3
import textwrap
import threading
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import tenacity

from harness import (
    BEKYMRINGSMELDING_ID,
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    CaseSystemEnv,
    Fault,
    IncomingMessage,
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
from harness.core.wire import EPOCH
from harness.target import load_target

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def events(run: RunResult, component: str, kind: str) -> list[Event]:
    return [e for e in run.history if e.component == component and e.kind == kind]


def test_a_sleep_backoff_is_virtual_time_on_the_timeline_not_a_hang() -> None:
    target = load_target(f"{EXAMPLES / 'sleep_backoff.py'}:make_case_system")
    plan = Plan(0, (ReportSpec(0),), (Fault("storage.execute.error", 0, 2),))
    started = time.monotonic()
    run = simulate(plan, target.factory, guard_seconds=1.0)
    assert time.monotonic() - started < 1.0  # ten seconds of back-off took no wall time
    assert run.hung is None and run.completed
    sleeps = events(run, "case_system", "sleep")
    assert [(e.t, e.data["ms"]) for e in sleeps] == [(5050, 5000), (10050, 5000)]
    (reply,) = events(run, "case_system", "reply")
    assert reply.t == 10050 and reply.data["durable"] is True
    assert not check(run.history).failed


class TenacityCaseSystem(ReferenceCaseSystem):
    """Retries the store with tenacity: a fixed 5 s wait, at most 20 s (a library's
    own clock reads and sleeps, not code written alongside the harness)."""

    def __init__(self, env: CaseSystemEnv) -> None:
        super().__init__(env)
        self.db = env.storage.connect()
        self.db.execute("CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)")

    @tenacity.retry(
        retry=tenacity.retry_if_exception_type(sqlite3.Error),
        wait=tenacity.wait_fixed(5),
        stop=tenacity.stop_after_delay(20),
        reraise=True,
    )
    def _store(self, report_id: str, body: bytes, pdf: bytes) -> None:
        try:
            with self.db:
                self.db.execute("INSERT OR IGNORE INTO t VALUES (?, ?, ?)", (report_id, body, pdf))
        except sqlite3.Error:
            self.db.rollback()
            raise

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        report = message.headers[BEKYMRINGSMELDING_ID]
        self._store(report, message.files[REPORT_JSON], message.files[REPORT_PDF])
        channel.reply(MOTTATT)
        channel.ack()

    def find(self, report_id: str) -> list[StoredRecord]:
        rows = self.db.execute("SELECT body, pdf FROM t WHERE id = ?", (report_id,))
        return [StoredRecord(report_id, {REPORT_JSON: b, REPORT_PDF: p}) for b, p in rows]

    def records(self) -> Iterable[StoredRecord]:
        rows = self.db.execute("SELECT id, body, pdf FROM t")
        return [StoredRecord(i, {REPORT_JSON: b, REPORT_PDF: p}) for i, b, p in rows]


def test_tenacity_backs_off_in_virtual_time_and_gives_up_by_its_virtual_deadline() -> None:
    plan = Plan(0, (ReportSpec(0),), (Fault("storage.execute.error", 0, 3),))
    run = simulate(plan, TenacityCaseSystem, guard_seconds=1.0)
    assert run.hung is None
    assert [e.data["ms"] for e in events(run, "case_system", "sleep")] == [5000] * 3
    (reply,) = events(run, "case_system", "reply")
    assert reply.t == 15050

    # Five failures in a row: tenacity's stop_after_delay(20) reads time.monotonic, which
    # follows the sleeps, so it gives up after its fourth wait and the handle raises.
    plan = Plan(0, (ReportSpec(0),), (Fault("storage.execute.error", 0, 5),))
    run = simulate(plan, TenacityCaseSystem, guard_seconds=1.0)
    assert run.hung is None
    crash = events(run, "case_system", "crash")[0]
    assert crash.data["cause"] == "raised" and crash.t == 20050


_CLOCKS = """
    import time
    from datetime import datetime, date
    from time import monotonic, sleep
    from harness import MOTTATT, StoredRecord

    SEEN = []

    class Clocks:
        def __init__(self, env):
            self.env = env

        def handle(self, message, channel):
            first = monotonic()
            sleep(1.5)
            SEEN.append((datetime.now(), self.env.clock(), time.time(), date.today(),
                         monotonic() - first, time.localtime().tm_hour))
            channel.reply(MOTTATT)
            channel.ack()

        def records(self):
            return []

    def make_case_system(env):
        return Clocks(env)
"""


def test_time_datetime_and_monotonic_follow_the_run_however_they_were_imported(
    tmp_path: Path,
) -> None:
    (tmp_path / "clocks.py").write_text(textwrap.dedent(_CLOCKS), encoding="utf-8")
    target = load_target(f"{tmp_path / 'clocks.py'}:make_case_system")
    copies: list[list[tuple[datetime, datetime, float, date, float, int]]] = []

    def factory(env: CaseSystemEnv) -> object:
        instance = target.factory(env)  # each in a fresh copy, with a SEEN of its own
        copies.append(instance.handle.__globals__["SEEN"])  # type: ignore[attr-defined]
        return instance

    plan = Plan(0, (ReportSpec(0),), (Fault("case_system.clock.skew", 0),))
    run = simulate(plan, factory)
    (seen,) = [found for found in copies if found]  # the incarnation that handled it
    (now, clock, wall, today, waited, hour) = seen[0]
    handled = EPOCH + timedelta(milliseconds=50 - 2 * 3_600_000 + 1500)  # skewed 2 h back
    assert now == clock == handled
    assert today == handled.date()
    assert hour == handled.hour  # local time is Norwegian
    assert wall == (handled - datetime(1970, 1, 1)).total_seconds() - 2 * 3600  # CEST: UTC+2
    assert waited == 1.5
    assert run.hung is None
    # After the run the real clocks are back.
    assert datetime.now().year >= 2025 and time.time() > 1.7e9
    assert time.sleep.__module__ == "time" and time.monotonic.__module__ == "time"


def test_the_harness_and_other_threads_keep_real_time() -> None:
    """Virtual time is for the adapter's own calls on the run's thread: a thread it starts,
    and the harness between calls, see the wall clock."""
    seen: dict[str, float] = {}

    class Threaded(ReferenceCaseSystem):
        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            def elsewhere() -> None:
                start = time.monotonic()
                time.sleep(0.05)
                seen["thread_waited"] = time.monotonic() - start

            worker = threading.Thread(target=elsewhere)
            worker.start()
            worker.join()
            super().handle(message, channel)

    start = time.perf_counter()
    simulate(Plan(0, (ReportSpec(0),)), Threaded)
    assert 0.05 <= seen["thread_waited"] < 5
    assert time.perf_counter() - start >= 0.05
