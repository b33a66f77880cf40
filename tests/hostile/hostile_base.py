"""What every hostile adapter here shares: the incident's bug, plus tools to attack with.

The bug: `mottatt` for every report, and nothing stored (SOR-1, SOR-2). Each attack
then tries to make that verdict PASS (or to end the run with no report, or to hurt
another run). These adapters are the harness's own test material, not examples for
vendors.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from harness import MOTTATT, CaseSystemEnv, IncomingMessage, ReplyChannel, StoredRecord

EXPECTS = {"SOR-1", "SOR-2"}


class Liar:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.env = env

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        channel.reply(MOTTATT)  # stored nothing
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        return []


def ancestors() -> list[int]:
    """This process's parent, its parent, and so on (as far as /proc shows them)."""
    out, pid = [], os.getpid()
    while pid > 1:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            break
        pid = int(status.split("PPid:")[1].split()[0])
        if pid > 1:
            out.append(pid)
    return out


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def the_harness() -> int | None:
    """The nearest ancestor that is not the isolation's template: the harness itself."""
    for pid in ancestors():
        if not any("isolation.server" in part for part in cmdline(pid)):
            return pid
    return None


def harness_argument(flag: str) -> str | None:
    """The value the harness was given for `flag` (e.g. --report), read from its cmdline."""
    for pid in [os.getpid(), *ancestors()]:
        args = cmdline(pid)
        if flag in args and args.index(flag) + 1 < len(args):
            return args[args.index(flag) + 1]
    return None
