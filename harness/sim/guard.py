"""A watchdog for adapter calls: one that never returns, or that ends the process.

`guarded` runs every adapter call. It turns os._exit into AdapterExited, which the
caller treats as a crash of the case system (unguarded, os._exit skips every
handler and ends the harness with exit status 0 and no report, as if all had
passed), and it stops a call that does not return in time.

This is the one place the harness looks at the wall clock: an adapter stuck in
a loop or a blocking call cannot be stopped in virtual time. The guard only
interrupts; a run it never fires in is unaffected, so determinism holds for
every adapter that returns. It uses SIGALRM, available in the main thread of a
POSIX process (pytest and xdist workers run tests there); elsewhere calls run
without the timer.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn, TypeVar

T = TypeVar("T")

_installed = False  # our handler is in place for a stretch of calls (see `installed`)
_covered = False  # a guarded call is running: its timer covers every call nested in it
_limit = 0.0  # seconds the running call was given


class AdapterHung(BaseException):
    """The adapter call did not return within the guard's limit."""


class AdapterExited(BaseException):
    """The adapter called os._exit: in the simulation, the case system's process died."""


def _refuse_exit(code: int) -> NoReturn:
    raise AdapterExited(f"the adapter called os._exit({code})")


def _can_guard() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _fire(signum: int, frame: FrameType | None) -> None:
    raise AdapterHung(f"the call did not return within {_limit:g} s")


@contextmanager
def installed() -> Iterator[None]:
    """Keep the handler in place for every guarded call inside (a whole run), so that
    each call only starts and stops the timer: swapping handlers through
    `signal.signal` costs about ten times more than the call it guards, often."""
    global _installed, _covered
    if _installed or not _can_guard() or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield  # someone else's timer is running: leave their handler alone
        return
    previous = signal.signal(signal.SIGALRM, _fire)
    _installed = True
    try:
        yield
    finally:
        _installed = _covered = False  # nothing of this run's stays armed after it
        signal.signal(signal.SIGALRM, previous)


def guarded(fn: Callable[[], T], seconds: float) -> T:
    real_exit = os._exit
    if real_exit is _refuse_exit:  # a call nested in one already covered
        return _timed(fn, seconds)
    setattr(os, "_exit", _refuse_exit)  # noqa: B010 - mypy refuses assigning a function
    try:
        return _timed(fn, seconds)
    finally:
        setattr(os, "_exit", real_exit)  # noqa: B010


def _timed(fn: Callable[[], T], seconds: float) -> T:
    global _covered, _limit
    # A guard already armed (a nested call, such as the durability probe inside a
    # reply inside `handle`, or someone else's timer) keeps covering the inner call:
    # do not re-arm or clear it.
    if _covered or seconds <= 0 or not _can_guard() or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        return fn()
    swap = not _installed
    previous = signal.signal(signal.SIGALRM, _fire) if swap else None
    _covered, _limit = True, seconds
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        try:  # the alarm may go off right here, as the call returns: still reset below
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            _covered = False
            if swap:
                signal.signal(signal.SIGALRM, previous)
