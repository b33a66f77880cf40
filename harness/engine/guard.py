"""A watchdog for adapter calls that never return.

This is the one place the harness looks at the wall clock: an adapter stuck in
a loop or a blocking call cannot be stopped in virtual time. The guard only
interrupts; a run it never fires in is unaffected, so determinism holds for
every adapter that returns. It uses SIGALRM, available in the main thread of a
POSIX process (pytest and xdist workers run tests there); elsewhere calls run
unguarded.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

T = TypeVar("T")


class AdapterHung(BaseException):
    """The adapter call did not return within the guard's limit."""


def _can_guard() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def guarded(fn: Callable[[], T], seconds: float) -> T:
    # A guard already armed (a nested call, such as the durability probe inside a
    # reply inside `handle`) keeps covering the inner call: do not re-arm or clear it.
    if seconds <= 0 or not _can_guard() or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        return fn()

    def _fire(signum: int, frame: FrameType | None) -> None:
        raise AdapterHung(f"the call did not return within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
