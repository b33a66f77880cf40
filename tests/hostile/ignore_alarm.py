"""Switches off SIGALRM, starts an interval timer of its own, and never returns."""

from __future__ import annotations

import signal
import time
from typing import Any

from hostile_base import EXPECTS, Liar

__all__ = ["EXPECTS", "make_case_system"]
signal.signal(signal.SIGALRM, signal.SIG_IGN)


class Stubborn(Liar):
    def handle(self, message: Any, channel: Any) -> None:
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
        while True:
            try:
                time.sleep(0.05)
            except BaseException:
                continue


def make_case_system(env: Any) -> Stubborn:
    return Stubborn(env)
