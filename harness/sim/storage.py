"""Real SQLite storage that the harness can fault.

Adapters get a `Storage` and open connections with `connect()`. The connection
behaves like `sqlite3.Connection` (execute, commit, rollback, context manager),
but each write and each commit passes a hook where the fault plan may strike.
Injected errors are `sqlite3.OperationalError` subclasses, so an adapter
handles them exactly as it would handle a real failing database.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

# A memory-backed tmpfs where Linux has one: each run's database is created and
# deleted in about a millisecond less than on disk, and nothing is meant to persist.
_FAST_TMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
_scratch_root: str | None = None  # where databases go; None: the fast folder above


def scratch_folder() -> str | None:
    """The folder databases are made in (None: the system's temporary folder)."""
    return _scratch_root or _FAST_TMP


def use_scratch_root(directory: str | None) -> None:
    """Make every database of this process under `directory`: a worker process's own
    folder, which its parent removes even when it had to stop the worker mid-run, or
    a run's private folder (None: back to the default)."""
    global _scratch_root
    _scratch_root = directory


_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "WITH")


class StorageError(sqlite3.OperationalError):
    """An injected database error."""


class StorageTimeout(sqlite3.OperationalError):
    """An injected timeout: the statement did not complete."""


class ConnectionLost(StorageError):
    """An injected dropped connection: the open transaction is gone."""


class SimulatedCrash(BaseException):
    """Raised inside adapter code to kill the component at a step boundary.

    A BaseException, so that `except Exception` in adapter code cannot swallow it;
    the harness also notes the crash before raising, so even a bare `except:`
    does not bring the dead component back.
    """


class StorageHooks(Protocol):
    def before_write(self, sql: str) -> None: ...
    def after_write(self) -> None: ...
    def before_commit(self) -> None: ...
    def after_commit(self) -> None: ...


class _NoHooks:
    def before_write(self, sql: str) -> None:
        pass

    def after_write(self) -> None:
        pass

    def before_commit(self) -> None:
        pass

    def after_commit(self) -> None:
        pass


def _is_write(sql: str) -> bool:
    return sql.lstrip().upper().startswith(_WRITE_VERBS)


class Connection:
    """A faultable wrapper around one `sqlite3.Connection`."""

    def __init__(self, raw: sqlite3.Connection, owner: Storage) -> None:
        self._raw = raw
        self._owner = owner  # hooks are read through the owner: the world may set them later

    def _before_write(self, sql: str) -> None:
        try:
            self._owner.hooks.before_write(sql)
        except ConnectionLost:
            self._raw.rollback()  # a dropped connection takes its open transaction with it
            raise

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        if not _is_write(sql):
            return self._raw.execute(sql, params)
        self._before_write(sql)
        cursor = self._raw.execute(sql, params)
        self._owner.hooks.after_write()
        return cursor

    def executemany(self, sql: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        if not _is_write(sql):
            return self._raw.executemany(sql, rows)
        self._before_write(sql)
        cursor = self._raw.executemany(sql, rows)
        self._owner.hooks.after_write()
        return cursor

    def commit(self) -> None:
        if self._raw.in_transaction:
            try:
                self._owner.hooks.before_commit()
            except sqlite3.Error:
                self._raw.rollback()
                raise
            self._raw.commit()
            self._owner.hooks.after_commit()

    def rollback(self) -> None:
        self._raw.rollback()

    @property
    def in_transaction(self) -> bool:
        return self._raw.in_transaction

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.commit()
        elif not isinstance(exc, SimulatedCrash):
            self._raw.rollback()


class Storage:
    """One SQLite database file in WAL mode, shared by every incarnation of a component."""

    def __init__(self, directory: Path | None = None) -> None:
        self._own_dir = directory is None
        self.directory = (
            Path(tempfile.mkdtemp(prefix="harness-db-", dir=scratch_folder()))
            if directory is None
            else directory
        )
        self.path = self.directory / "case_system.sqlite3"
        self.hooks: StorageHooks = _NoHooks()
        self._open: list[sqlite3.Connection] = []
        self._spare: list[sqlite3.Connection] = []  # idle connections of this storage's views
        self._reuse = False
        boot = sqlite3.connect(self.path)
        # No fsync: a simulated crash kills the component, not the machine, so what is
        # committed survives it anyway; syncing would only make every run slower.
        boot.execute("PRAGMA synchronous=OFF")
        boot.execute("PRAGMA journal_mode=WAL")
        boot.close()

    def view(self) -> Storage:
        """The same database with its own connections and no fault hooks (for reads
        the harness makes: the durability probe and the reconciliation)."""
        other = Storage.__new__(Storage)
        other._own_dir = False
        other.directory = self.directory
        other.path = self.path
        other.hooks = _NoHooks()
        other._open = []
        other._spare = self._spare  # a view's connections go back to its owner's spares
        other._reuse = True
        return other

    def connect(self) -> Connection:
        if self._reuse and self._spare:
            raw = self._spare.pop()  # a clean connection: opening one costs more than a probe
        else:
            # timeout=0: a lock conflict fails at once instead of waiting on the wall clock.
            raw = sqlite3.connect(self.path, timeout=0)
            raw.execute("PRAGMA synchronous=OFF")
        self._open.append(raw)
        return Connection(raw, self)

    def close_all(self) -> None:
        """What a process crash does: every connection closes, uncommitted work is lost.
        A view's connections are rolled back and kept for the next view instead."""
        for raw in self._open:
            if self._reuse:
                raw.rollback()
                self._spare.append(raw)
            else:
                raw.close()
        self._open.clear()

    def destroy(self) -> None:
        self.close_all()
        for raw in self._spare:
            raw.close()
        self._spare.clear()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)
