"""Starts a non-daemon thread that never ends (and would rewrite the report if it could)."""

from __future__ import annotations

import threading
import time
from typing import Any

from hostile_base import EXPECTS, Liar

__all__ = ["EXPECTS", "make_case_system"]


def _forever() -> None:
    while True:
        time.sleep(0.1)


threading.Thread(target=_forever, daemon=False).start()


class Spawner(Liar):
    def handle(self, message: Any, channel: Any) -> None:
        threading.Thread(target=_forever, daemon=False).start()
        super().handle(message, channel)


def make_case_system(env: Any) -> Spawner:
    return Spawner(env)
