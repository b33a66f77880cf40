"""Who the adapter's processes run as, and where a run keeps its databases.

When the harness runs as root, the adapter's processes drop to a user of their own,
chosen per run (a uid in a range no account uses, inherited by the run's worker
processes through the environment): they cannot read the signing key (0600), the
harness's memory, or another run's databases, and cannot signal the harness. As
any other user, the adapter's processes run as that same user, and these walls are
the ones that user has: see the README's trust model.

Each run makes its databases in a private folder (0700, unique), removed at the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness.sim import storage as _storage

PR_SET_DUMPABLE = 4
UID_ENV = "HARNESS_SANDBOX_UID"
UID_BASE = 0x5A000000  # 1509949440: far above any account a system hands out
UID_SPAN = 1 << 24


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def sandbox_uid() -> int | None:
    """The uid this run's adapter processes take, or None (they keep the harness's)."""
    if not running_as_root():
        return None
    text = os.environ.get(UID_ENV, "")
    if text.isdigit() and UID_BASE <= int(text) < UID_BASE + UID_SPAN:
        return int(text)
    uid = UID_BASE + secrets.randbelow(UID_SPAN)
    os.environ[UID_ENV] = str(uid)  # workers this run spawns take the same
    return uid


def undumpable() -> None:
    """Make this process's memory, open files and environment (/proc/PID/mem, fd,
    environ) unreadable to other processes of the same user, and ptrace refused (Linux
    PR_SET_DUMPABLE 0): what an adapter running as the harness's own user could read."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0)


def give(path: Path) -> None:
    """Let the sandbox's user use one database folder (and only it): chown it to that user."""
    uid = sandbox_uid()
    if uid is None:
        return
    for item in (path, *path.iterdir()):
        with contextlib.suppress(FileNotFoundError):
            if item.stat().st_uid != uid:
                os.chown(item, uid, uid)


def end_processes(uid: int) -> None:
    """Stop every process of the sandbox's user (what an adapter left running, detached
    or not): a helper becomes that user and signals everything it may."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


@contextlib.contextmanager
def private_scratch() -> Iterator[Path]:
    """A folder of this run's own (0700, unique) for every database it makes, owned by the
    sandbox's user when there is one; removed afterwards, with whatever is left in it."""
    previous = _storage.scratch_folder()
    saved = _storage._scratch_root  # restored as it was, None included
    own = previous is not None and Path(previous).name.startswith("harness-run-")
    if own:  # already inside a run's folder (a worker of the run, say): keep it
        yield Path(str(previous))
        return
    folder = Path(tempfile.mkdtemp(prefix="harness-run-", dir=previous))
    os.chmod(folder, 0o700)
    uid = sandbox_uid()
    if uid is not None:
        os.chown(folder, uid, uid)
    _storage.use_scratch_root(str(folder))
    try:
        yield folder
    finally:
        if uid is not None:
            end_processes(uid)
        _storage.use_scratch_root(saved)
        shutil.rmtree(folder, ignore_errors=True)
