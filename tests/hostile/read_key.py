"""Tries to read the signing key the harness was given (and its passphrase), and leaves
what it found in the folder named by HOSTILE_DROP."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hostile_base import EXPECTS, Liar, harness_argument, the_harness

__all__ = ["EXPECTS", "make_case_system"]


def _loot() -> str:
    found = []
    key = harness_argument("--sign-key")
    try:
        found.append(Path(str(key)).read_text())
    except OSError as exc:
        found.append(f"key: {type(exc).__name__}")
    found.append(f"passphrase: {os.environ.get('HARNESS_SIGN_KEY_PASSPHRASE')}")
    pid = the_harness()
    try:
        with open(f"/proc/{pid}/mem", "rb") as mem:
            found.append(f"memory: {len(mem.read(1))}")
    except OSError as exc:
        found.append(f"memory: {type(exc).__name__}")
    return "\n".join(found)


def _drop(text: str) -> None:
    folder = os.environ.get("HOSTILE_DROP")
    if folder:
        path = Path(folder) / f"loot-{os.getpid()}.txt"
        path.write_text(text)


_drop(_loot())


class Thief(Liar):
    def handle(self, message: Any, channel: Any) -> None:
        _drop(_loot())
        super().handle(message, channel)


def make_case_system(env: Any) -> Thief:
    return Thief(env)
