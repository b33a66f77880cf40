"""Virtual time inside adapter calls: the adapter's clocks and sleeps follow the run's.

While a run is simulated, code called from the case-system slot (the factory,
`handle`, timers, `find`, `records`) sees the run's virtual time:

- `time.time`, `time.time_ns`, `datetime.now`, `datetime.utcnow`, `date.today`,
  `time.localtime`, `time.gmtime` and `time.strftime` through `time-machine`,
  which patches them at the C level, so they follow however they were imported
  (`from datetime import datetime` included). Local time is Norwegian
  (Europe/Oslo), as the case system's clock (`env.clock`) is; a skewed
  incarnation's clocks are skewed alike.
- `time.monotonic`, `time.monotonic_ns` and `time.sleep` by replacing them in the
  `time` module for the run (time-machine leaves them alone). They act only on
  the run's own thread and inside an adapter call; anywhere else (the harness's
  own reads, other threads) they are the real ones. A sleep advances the run's
  clock at once and is an event of the history, so a back-off shows on the
  timeline and never counts against the hang guard, which keeps wall time
  (SIGALRM), as benchmarks do (`time.perf_counter` is never touched).

Patching happens once per run, not per call: starting time-machine costs about
20 microseconds; moving its clock to the run's time costs a fraction of one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, tzinfo

import time_machine

from harness.core.wire import EPOCH
from harness.sim.loop import EventLoop

try:
    from zoneinfo import ZoneInfo

    _OSLO: tzinfo | None = ZoneInfo("Europe/Oslo")
except Exception:  # no time zone database: the instant is right, local time is the machine's
    _OSLO = None

_real_sleep = time.sleep
_real_monotonic = time.monotonic
_real_monotonic_ns = time.monotonic_ns
_MONOTONIC_BASE_MS = 10**9  # a monotonic clock starts anywhere: here, 11.6 days "since boot"

_running: VirtualTime | None = None  # the run whose adapter calls see virtual time
SLEEPS_SHOWN = 20  # sleeps of one adapter call recorded one by one; the rest as one event


class VirtualTime:
    """The adapter's view of the clock for one run (see the module's docstring)."""

    def __init__(self, loop: EventLoop, on_sleep: Callable[[int, int], None]) -> None:
        self._loop = loop
        self._on_sleep = on_sleep  # records (ms, how many sleeps) in the history
        self._sleeps = 0  # sleeps in the running outermost call
        self._unshown = (0, 0)  # (ms, count) of the sleeps past SLEEPS_SHOWN
        self._thread = threading.get_ident()
        self._depth = 0  # adapter calls running (a probe runs inside a reply inside handle)
        self._offset = 0  # ms the running call's clock is off by (a skewed incarnation)
        self._traveller: time_machine.Traveller | None = None
        self._shown = 0  # the ms since EPOCH that time-machine shows now

    # -- the run -------------------------------------------------------------------
    @contextmanager
    def running(self) -> Iterator[None]:
        """Patch the clocks for the whole run (nested runs keep the outer one's)."""
        global _running
        if _running is not None:
            yield
            return
        epoch = EPOCH if _OSLO is None else EPOCH.replace(tzinfo=_OSLO)
        travel = time_machine.travel(epoch, tick=False)
        self._traveller, self._shown = travel.start(), 0
        _running = self
        real = (time.sleep, time.monotonic, time.monotonic_ns)
        setattr(time, "sleep", _sleep)  # noqa: B010 - mypy refuses assigning a function
        setattr(time, "monotonic", _monotonic)  # noqa: B010
        setattr(time, "monotonic_ns", _monotonic_ns)  # noqa: B010
        try:
            yield
        finally:
            time.sleep, time.monotonic, time.monotonic_ns = real
            _running = None
            self._traveller = None
            travel.stop()

    # -- one adapter call ------------------------------------------------------------
    def enter(self, offset: int) -> tuple[int, int]:
        """An adapter call starts, its clock `offset` ms off; returns what `leave` restores."""
        outer = (self._depth, self._offset)
        if not self._depth:
            self._sleeps = 0
        self._depth += 1
        self._offset = offset
        self.sync()
        return outer

    def leave(self, outer: tuple[int, int]) -> None:
        self._depth, self._offset = outer
        if self._depth:
            self.sync()  # back in the outer call, whose clock may be skewed differently
        elif self._unshown[1]:  # a retry loop of many sleeps: the rest as one event
            ms, count = self._unshown
            self._unshown = (0, 0)
            self._on_sleep(ms, count)

    def sync(self) -> None:
        """Move time-machine's clock to the run's (the loop's time may have moved on)."""
        want = self._loop.now + self._offset
        if want != self._shown and self._traveller is not None:
            self._traveller.shift(timedelta(milliseconds=want - self._shown))
            self._shown = want

    def _inside(self) -> bool:
        return self._depth > 0 and threading.get_ident() == self._thread

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        ms = math.ceil(seconds * 1000)  # a sleep never ends early
        if ms:
            self._loop.advance(ms)
            self._sleeps += 1
            if self._sleeps <= SLEEPS_SHOWN:
                self._on_sleep(ms, 1)
            else:
                self._unshown = (self._unshown[0] + ms, self._unshown[1] + 1)
            self.sync()

    def monotonic_ms(self) -> int:
        return _MONOTONIC_BASE_MS + self._loop.now

    def now(self) -> datetime:
        """The running call's local time (what `datetime.now()` returns in it)."""
        return EPOCH + timedelta(milliseconds=self._loop.now + self._offset)


def _sleep(seconds: float) -> None:
    run = _running
    if run is None or not run._inside():
        _real_sleep(seconds)
    else:
        run.sleep(seconds)


def _monotonic() -> float:
    run = _running
    if run is None or not run._inside():
        return _real_monotonic()
    return run.monotonic_ms() / 1000


def _monotonic_ns() -> int:
    run = _running
    if run is None or not run._inside():
        return _real_monotonic_ns()
    return run.monotonic_ms() * 1_000_000
