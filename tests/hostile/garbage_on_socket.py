"""Writes its own bytes onto every socket it holds (a huge frame length, then noise)."""

from __future__ import annotations

import contextlib
import os
import stat
from typing import Any

from hostile_base import EXPECTS, Liar

__all__ = ["EXPECTS", "make_case_system"]


class Saboteur(Liar):
    def handle(self, message: Any, channel: Any) -> None:
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.write(fd, b"\xff\xff\xff\xf0" + os.urandom(64))
        super().handle(message, channel)


def make_case_system(env: Any) -> Saboteur:
    return Saboteur(env)
