"""Prints without end to stdout and stderr while handling a message."""

from __future__ import annotations

import sys
from typing import Any

from hostile_base import EXPECTS, Liar

__all__ = ["EXPECTS", "make_case_system"]


class Shouter(Liar):
    def handle(self, message: Any, channel: Any) -> None:
        line = "x" * 1000
        for _ in range(100_000):
            print(line)
            print(line, file=sys.stderr)
        super().handle(message, channel)


def make_case_system(env: Any) -> Shouter:
    return Shouter(env)
