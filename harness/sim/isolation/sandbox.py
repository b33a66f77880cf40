"""Who the adapter's processes run as, and where a run keeps its databases.

When the harness runs as root, the adapter's processes drop to a user of their own,
chosen per run (a uid in a range no account uses; the run's private folder is owned
by it, which is how the run's worker processes find it): they cannot read the
signing key (0600), the harness's memory, or another run's databases, and cannot
signal the harness. As
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
UID_BASE = 0x5A000000  # 1509949440: far above any account a system hands out
UID_SPAN = 1 << 24


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


_own_uid: list[int] = []  # this process's, for adapter processes outside any run's folder


def _fresh_uid() -> int:
    return UID_BASE + secrets.randbelow(UID_SPAN)


def _run_folder_uid() -> int | None:
    """The user of the run whose private folder this process works in (a worker's folder
    lies inside its run's): read from the folder's owner, never inherited otherwise."""
    folder = _storage.scratch_folder()
    if folder is None:
        return None
    for candidate in (Path(folder), Path(folder).parent):
        if candidate.name.startswith("harness-run-"):
            with contextlib.suppress(OSError):
                owner = candidate.stat().st_uid
                if UID_BASE <= owner < UID_BASE + UID_SPAN:
                    return owner
    return None


def sandbox_uid() -> int | None:
    """The uid the adapter's processes take, or None (they keep the harness's): the run's,
    chosen when its private folder was made, else one of this process's own."""
    if not running_as_root():
        return None
    found = _run_folder_uid()
    if found is not None:
        return found
    if not _own_uid:
        _own_uid.append(_fresh_uid())
    return _own_uid[0]


def undumpable() -> None:
    """Make this process's memory, open files and environment (/proc/PID/mem, fd,
    environ) unreadable to other processes of the same user, and ptrace refused (Linux
    PR_SET_DUMPABLE 0): what an adapter running as the harness's own user could read."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0)


_OURS = ("harness-run-", "harness-worker-", "harness-db-", "harness-template-")


def give(path: Path) -> None:
    """Let the sandbox's user use one folder the harness made for it (a database's, a
    run's, a worker's): chown it, and for a database's folder the files in it, to that
    user. Any other folder is refused: never a shared one such as /dev/shm."""
    if not path.name.startswith(_OURS):
        raise ValueError(f"refusing to hand {str(path)!r} to the adapter's user: not the harness's")
    uid = sandbox_uid()
    if uid is None:
        return
    items = [path, *(path.iterdir() if path.name.startswith("harness-db-") else ())]
    for item in items:
        with contextlib.suppress(FileNotFoundError):
            if not item.is_symlink() and item.stat().st_uid != uid:
                os.chown(item, uid, uid)


def template_folder() -> Path:
    """A private folder (0700) for a template outside any run's folder, given to the
    adapter's user: its trial build's database goes there."""
    folder = Path(tempfile.mkdtemp(prefix="harness-template-", dir=_storage.scratch_folder()))
    give(folder)
    return folder


def in_private_folder() -> bool:
    """Whether this process makes its databases in a run's (or a worker's) own folder."""
    folder = _storage.scratch_folder()
    return folder is not None and Path(folder).name.startswith(("harness-run-", "harness-worker-"))


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
    uid = _fresh_uid() if running_as_root() else None  # this run's alone
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
