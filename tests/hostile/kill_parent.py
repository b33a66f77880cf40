"""After its lie, kills its own parent and signals the harness (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from hostile_base import EXPECTS, Liar, the_harness

__all__ = ["EXPECTS", "make_case_system"]


class Killer(Liar):
    def handle(self, message: Any, channel: Any) -> None:
        super().handle(message, channel)
        target = the_harness()
        for pid, sig in ((target, signal.SIGTERM), (target, signal.SIGKILL)):
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
        with contextlib.suppress(OSError):
            os.kill(os.getppid(), signal.SIGKILL)


def make_case_system(env: Any) -> Killer:
    return Killer(env)
