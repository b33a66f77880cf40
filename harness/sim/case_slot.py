"""The harness side of the case-system slot: runs the adapter, crashes and restarts it.

A crash drops the adapter object (its volatile state) and closes its database
connections (uncommitted work is lost); the next delivery rebuilds it from the
factory over the same durable storage. Anything the adapter raises is a crash
in the history, never an error of the harness.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from harness.components.protocols import (
    BEKYMRINGSMELDING_ID,
    MOTTATT,
    CaseSystem,
    CaseSystemEnv,
    CaseSystemFactory,
    IncomingMessage,
    ReplyChannel,
    StoredRecord,
    Timer,
    find_records,
)
from harness.core.digest import content_digest
from harness.core.history import CASE_SYSTEM, HARNESS
from harness.core.timing import HOUR
from harness.core.wire import local_time
from harness.sim.context import Sim
from harness.sim.fresh_modules import FreshFactory, ModuleCopy
from harness.sim.guard import AdapterHung, guarded
from harness.sim.storage import SimulatedCrash
from harness.sim.storage_faults import StorageFaults
from harness.sim.virtual_time import VirtualTime

T = TypeVar("T")
CHANNELS_KEPT = 4096  # messages a reply over HTTP may answer: the latest delivered


def describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:
        text = "<the exception could not be printed>"
    text = " ".join(f"{type(exc).__name__}: {text}".split())  # always one line
    return text[:300]


def _name_of(fn: object) -> str:
    """A short name for a timer's work on the timeline."""
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return str(name).replace(".<locals>", "")[:80]


def checked(rec: object) -> str:
    """The record's report id, or a TypeError that says what `records()` should yield."""
    if not isinstance(rec, StoredRecord):
        raise TypeError(f"records() yielded a {type(rec).__name__}; yield StoredRecord objects")
    if not isinstance(rec.report_id, str) or not all(
        isinstance(k, str) and isinstance(v, bytes) for k, v in rec.files.items()
    ):
        raise TypeError("a StoredRecord needs a str report_id and files as {name: bytes}")
    return rec.report_id


class _SlotChannel:
    """Wraps the transport's channel: records what the adapter does, and crashes on cue."""

    def __init__(self, slot: CaseSystemSlot, inner: ReplyChannel, report: str | None) -> None:
        self._slot = slot
        self._inner = inner
        self.report = report
        self._answered = False  # whether this delivery got any reply
        self._incarnation = slot.incarnation  # a channel dies with the process it was given to

    @property
    def _gone(self) -> bool:
        return self._slot.dead or self._incarnation != self._slot.incarnation

    def reply(self, meldingstype: str, body: bytes | None = None, *, via: str = "") -> None:
        """Also the send API's door (http_world.py): `via="http"` marks such replies."""
        slot = self._slot
        if self._gone:
            return  # a dead process sends nothing
        self._answered = True
        data: dict[str, object] = {"meldingstype": meldingstype}
        if meldingstype == MOTTATT and self.report:
            data["durable"] = slot.probe(self.report)
        if via:
            data["via"] = via
        slot.sim.record(CASE_SYSTEM, "reply", self.report, **data)
        self._inner.reply(meldingstype, body)
        slot.maybe_crash("case_system.crash.after_reply", self.report)

    def _settle(self, how: str, forward: Callable[[], None]) -> None:
        if self._gone:
            return
        data: dict[str, object] = {}
        if how == "ack" and not self._answered and self.report:
            # Acking without a word is fine only for a report already stored (a duplicate).
            data = {"answered": False, "durable": self._slot.probe(self.report)}
        self._slot.sim.record(CASE_SYSTEM, how, self.report, **data)
        forward()

    def ack(self) -> None:
        self._settle("ack", self._inner.ack)

    def nack(self) -> None:
        self._settle("nack", self._inner.nack)

    def nack_with_requeue(self) -> None:
        self._settle("nack_with_requeue", self._inner.nack_with_requeue)


class CaseSystemSlot:
    def __init__(
        self, sim: Sim, factory: CaseSystemFactory, env: CaseSystemEnv, guard_seconds: float
    ) -> None:
        self.sim = sim
        self._factory = factory
        self._guard = guard_seconds
        self._instance: CaseSystem | None = None
        self._modules: ModuleCopy | None = None  # the live instance's copy of its modules
        self.report: str | None = None  # the report being handled, for storage events
        self.probing = False
        self.skew = 0  # ms the current incarnation's clock is off by
        self.dead = False
        self.incarnation = 0  # counts the instances started; timers and channels carry theirs
        self.hung: str | None = None  # set when the guard had to stop a call
        self._channels: dict[str, _SlotChannel] = {}  # by melding-id: the latest delivery's
        env.storage.hooks = StorageFaults(self)
        self._env = CaseSystemEnv(env.storage, env.options, self.clock, env.http)
        self.time = VirtualTime(sim.loop, self._slept)
        self.on_lost: Callable[[], None] = lambda: None  # the process died outside a delivery

    # -- running the adapter ----------------------------------------------
    def _call(self, fn: Callable[[], T]) -> T:
        """Every call into adapter code: under the hang guard, in virtual time (the
        probe's fresh instance on the run's clock, an incarnation on its own)."""
        outer = self.time.enter(0 if self.probing else self.skew)
        try:
            return guarded(fn, self._guard)
        finally:
            self.time.leave(outer)

    def _slept(self, ms: int, count: int) -> None:
        if count == 1:
            self.sim.record(CASE_SYSTEM, "sleep", self.report, ms=ms)
        else:  # the sleeps of a long retry loop past the first few, summed
            self.sim.record(CASE_SYSTEM, "sleep", self.report, ms=ms, sleeps=count)

    def _failed_call(self, report: str | None, exc: BaseException) -> None:
        """What the adapter's exception means: a crash, or a hang that ends the run."""
        if isinstance(exc, AdapterHung):
            self.hung = describe(exc)
            self._crash(report, "hung", describe(exc))
            self.sim.record(HARNESS, "aborted", None, reason=self.hung)
            self.sim.loop.stop()  # one hang is enough: waiting out every redelivery takes minutes
        elif not isinstance(exc, SimulatedCrash):  # a SimulatedCrash was recorded where raised
            self._crash(report, "raised", describe(exc))

    def deliver(self, message: IncomingMessage, channel: ReplyChannel) -> bool:
        """Hand one delivery to the adapter. Returns True when the component crashed."""
        report = message.headers.get(BEKYMRINGSMELDING_ID)
        self.report = report
        self.dead = False
        try:
            if self._instance is None:
                self.skew = -2 * HOUR if self.sim.injector.hit("case_system.clock.skew") else 0
                self.incarnation += 1
                env = replace(self._env, call_later=self._timers(self.incarnation))
                self._instance, self._modules = self._build(env)
                self.sim.record(CASE_SYSTEM, "start", report)
            self.maybe_crash("case_system.crash.before_store", report)
            instance = self._instance
            wrapped = self._remember(message.melding_id, _SlotChannel(self, channel, report))
            self.sim.record(
                CASE_SYSTEM,
                "handle",
                report,
                melding_id=message.melding_id,
                redelivered=message.redelivered,
            )
            self._call(lambda: instance.handle(message, wrapped))
        except KeyboardInterrupt:
            raise  # the person at the keyboard, not the adapter
        except BaseException as exc:  # SystemExit too: an adapter cannot end the harness
            self._failed_call(report, exc)
        finally:
            self.report = None
        if self.dead:
            self.forget_instance()
        return self.dead

    # -- deferred work: timers the adapter asked for (env.call_later) ------------
    def _timers(self, incarnation: int) -> Callable[[float, Callable[[], object]], Timer]:
        """`env.call_later` for one incarnation: its timers die with it."""

        def call_later(delay_ms: float, fn: Callable[[], object]) -> Timer:
            if not callable(fn):
                raise TypeError(f"call_later needs a callable, not a {type(fn).__name__}")
            timer = Timer()
            if delay_ms != delay_ms or delay_ms < 0:  # NaN, or negative
                raise ValueError(f"call_later needs a delay in ms >= 0, not {delay_ms!r}")
            delay = math.ceil(delay_ms)
            self.sim.loop.call_later(delay, lambda: self._fire(incarnation, timer, fn))
            return timer

        return call_later

    def _fire(self, incarnation: int, timer: Timer, fn: Callable[[], object]) -> None:
        """A timer is due: run its work in the incarnation that asked, if it still lives."""
        if timer.cancelled or self.dead or incarnation != self.incarnation:
            return  # a dead process's timers never fire
        if self._instance is None:
            return
        self.sim.record(CASE_SYSTEM, "timer", None, name=_name_of(fn))
        try:
            self._call(fn)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            self._failed_call(None, exc)
        if self.dead:  # crash points apply inside deferred work too
            self.forget_instance()
            self.on_lost()  # its channel closed: the transport takes back what it held

    def _build(self, env: CaseSystemEnv) -> tuple[CaseSystem, ModuleCopy | None]:
        """A new instance from the factory. A target loaded by spec runs in a fresh copy
        of its own modules (sim/fresh_modules.py), installed in `sys.modules` until the
        instance is dropped: a restart forgets module globals and class attributes."""
        factory = self._factory
        if not isinstance(factory, FreshFactory):
            return self._call(lambda: factory(env)), None
        copy, fresh = self._call(factory.copy)
        copy.install()
        try:
            return self._call(lambda: fresh(env)), copy
        except BaseException:
            copy.uninstall()
            raise

    def _remember(self, melding_id: str, channel: _SlotChannel) -> _SlotChannel:
        self._channels[melding_id] = channel
        if len(self._channels) > CHANNELS_KEPT:  # a long run keeps no more than these
            del self._channels[next(iter(self._channels))]
        return channel

    def channel_for(self, melding_id: str) -> _SlotChannel | None:
        """The channel of the latest delivery of a message, for replies sent over HTTP
        (to one of the last CHANNELS_KEPT messages delivered)."""
        return self._channels.get(melding_id)

    def clock(self) -> datetime:
        """The running incarnation's clock (virtual local time, skewed by a fault)."""
        return local_time(self.sim.start, self.sim.loop.now + self.skew)

    def run_clock(self) -> datetime:
        """The run's own clock, for the instances the harness builds to read records."""
        return local_time(self.sim.start, self.sim.loop.now)

    def _crash(self, report: str | None, cause: str, detail: str) -> None:
        if not self.dead:
            self.dead = True
            self.sim.record(CASE_SYSTEM, "crash", report, cause=cause, detail=detail)

    def maybe_crash(self, point: str, report: str | None) -> None:
        if not self.probing and self.sim.injector.hit(point):
            self._crash(report, "fault", point)
            raise SimulatedCrash(point)

    # -- durability probe and reconciliation ------------------------------
    def fresh_read(self, read: Callable[[CaseSystem], list[StoredRecord]]) -> list[StoredRecord]:
        """Read through a fresh instance over a fresh connection: committed data only."""
        with self._fresh_instance() as fresh:
            return self._call(lambda: read(fresh))

    @contextmanager
    def _fresh_instance(self) -> Iterator[CaseSystem]:
        """A new adapter, as a restarted process would build it: fresh modules, over a
        view of the storage (clean connections, no fault hooks), for the durability
        probe and the reconciliation; dropped, with its modules, after the read."""
        self.probing = True
        storage = self._env.storage.view()
        copy = None
        try:
            # The run's clock, not a frozen one; timers of an instance that only reads
            # are never run (it is dropped right after the read).
            env = CaseSystemEnv(storage, self._env.options, self.run_clock, self._env.http)
            fresh, copy = self._build(env)
            yield fresh
        finally:
            if copy is not None:
                copy.uninstall()
            storage.close_all()
            self.probing = False

    def iter_fresh_records(self, batch: int = 1000) -> Iterator[StoredRecord]:
        """Every durable record through a fresh instance, read lazily (a streamed run may
        hold millions); the guard covers each batch, not the whole read."""
        with self._fresh_instance() as fresh:
            rows = self._call(lambda: iter(fresh.records()))
            while chunk := self._call(lambda: list(itertools.islice(rows, batch))):
                yield from chunk

    def probe(self, report: str) -> bool:
        try:
            return bool(self.fresh_read(lambda s: list(find_records(s, report))))
        except (KeyboardInterrupt, AdapterHung):
            raise  # a hang inside handle() is the adapter's hang, not a failed probe
        except BaseException as exc:
            self.sim.record(HARNESS, "probe_failed", report, detail=describe(exc))
            return False

    def forget_instance(self) -> None:
        """The adapter's process ends (a crash, or the run is over): its uncommitted work
        and its modules go with it."""
        self._instance = None
        self.incarnation += 1  # its timers and channels are void from now on
        if self._modules is not None:
            self._modules.uninstall()
            self._modules = None
        self._env.storage.close_all()

    def reconcile(self) -> None:
        """After the run: every durable record, read from a fresh instance."""
        self.forget_instance()
        try:
            records = self.fresh_read(lambda s: list(s.records()))
            rows = sorted(
                (checked(rec), content_digest(rec.files, self.sim.digests), sorted(rec.files))
                for rec in records
            )
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            self.sim.record(HARNESS, "reconcile_failed", None, detail=describe(exc))
            return
        for report_id, digest, files in rows:
            self.sim.record(HARNESS, "record", report_id, digest=digest, files=files)
