"""The report folder, checked before a run starts: a long run must not end unable to write.

`harness run --report DIR` (and `merge OUT_DIR`, and pytest's `--harness-report`)
replaces a previous report in DIR, counterexample files included. So DIR must be
a folder (or not exist yet, under a folder), writable, and either empty of
counterexample files or a report folder already (it holds a report.json): a
folder of someone else's `counterexample-*.json` files is never emptied.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from harness.errors import UsageError


def _writable(folder: Path, flag: str, shown: str) -> None:
    mode = folder.stat().st_mode
    # The mode bits first: as root os.access says yes to anything, but a folder
    # someone made read-only (chmod a-w) is a folder they do not want written.
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(folder, os.W_OK):
        raise UsageError(
            f"{flag} {shown}: the folder {str(folder)!r} is read-only (mode "
            f"{stat.filemode(mode)}); make it writable or give another folder"
        )
    try:  # a read-only file system, a full disk, ...
        fd, probe = tempfile.mkstemp(prefix=".harness-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(
            f"{flag} {shown}: cannot write in {str(folder)!r} ({exc.strerror}); "
            "give a folder you can write to"
        ) from None


def check_writable_folder(path: Path, flag: str, example: str = "harness-report") -> None:
    """Raise a UsageError unless `path` is a writable folder, or can be made as one."""
    shown = repr(str(path))
    if not str(path).strip():
        raise UsageError(f"{flag} is empty; give a folder, e.g. {flag} {example}")
    if path.exists() and not path.is_dir():
        raise UsageError(
            f"{flag} {shown} is a file, not a folder; give a folder (it is created if missing)"
        )
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(
            f"{flag} {shown} lies under {str(existing)!r}, which is a file; give a folder path "
            "whose parents are folders"
        )
    _writable(existing, flag, shown)


def check_report_folder(path: Path, flag: str = "--report") -> None:
    """Raise a UsageError (one line: what is wrong, how to fix it) unless a report fits there."""
    check_writable_folder(path, flag)
    shown = repr(str(path))
    if path.is_dir():
        foreign = sorted(p.name for p in path.glob("counterexample-*.json"))
        if foreign and not (path / "report.json").is_file():
            raise UsageError(
                f"{flag} {shown} holds {foreign[0]} but no report.json: it is not a report "
                "folder, and a report replaces every counterexample file in its folder; give "
                "an empty or new folder"
            )
