"""Allocates memory without end while handling a message."""

from __future__ import annotations

from typing import Any

from hostile_base import EXPECTS, Liar

__all__ = ["EXPECTS", "make_case_system"]


class Hog(Liar):
    def handle(self, message: Any, channel: Any) -> None:
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))


def make_case_system(env: Any) -> Hog:
    return Hog(env)
