"""Deletes every row of every other database it can find under the scratch folders."""

from __future__ import annotations

import contextlib
import glob
import os
import sqlite3
import tempfile
from typing import Any

from hostile_base import EXPECTS, Liar

__all__ = ["EXPECTS", "make_case_system"]
ROOTS = ("/dev/shm", tempfile.gettempdir(), os.environ.get("HOSTILE_VICTIMS", "/nonexistent"))


def _wipe(own: str) -> None:
    for root in ROOTS:
        for path in glob.glob(f"{root}/**/*.sqlite3", recursive=True):
            if path == own:
                continue
            with contextlib.suppress(sqlite3.Error, OSError):
                db = sqlite3.connect(path, timeout=0)
                tables = [
                    r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                ]
                for table in tables:
                    db.execute(f"DELETE FROM {table}")
                db.commit()
                db.close()


class Vandal(Liar):
    def handle(self, message: Any, channel: Any) -> None:
        _wipe(str(self.env.storage.path))
        super().handle(message, channel)


def make_case_system(env: Any) -> Vandal:
    return Vandal(env)
