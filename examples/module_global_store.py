"""A repository held in a module global: the in-memory fake left wired in.

The case system talks to its reports through a repository, as a DI container
would hand it out: `SqlRepository` over the database in production and
`MemoryRepository`, a module-level singleton, for the vendor's own unit tests.
The factory wires in the singleton (one line; `module_global_store_fixed.py`
wires in the database). Every instance in the process shares it, so the
process "finds" every report it confirmed, and a restart finds none.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Protocol

from harness import (
    BEKYMRINGSMELDING_ID,
    FEILET,
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    CaseSystemEnv,
    IncomingMessage,
    ReplyChannel,
    Storage,
    StoredRecord,
    feilmelding,
)

EXPECTS = {"SOR-1", "SOR-2"}


class Repository(Protocol):
    def add(self, report_id: str, files: dict[str, bytes]) -> None: ...
    def get(self, report_id: str) -> Sequence[StoredRecord]: ...
    def all(self) -> Iterable[StoredRecord]: ...


class MemoryRepository:
    """The unit tests' fake: a dict."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, bytes]] = {}

    def add(self, report_id: str, files: dict[str, bytes]) -> None:
        self._rows.setdefault(report_id, files)

    def get(self, report_id: str) -> Sequence[StoredRecord]:
        files = self._rows.get(report_id)
        return [] if files is None else [StoredRecord(report_id, files)]

    def all(self) -> Iterable[StoredRecord]:
        return [StoredRecord(id_, files) for id_, files in self._rows.items()]


class SqlRepository:
    def __init__(self, storage: Storage) -> None:
        self.db = storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS reports (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)"
        )

    def add(self, report_id: str, files: dict[str, bytes]) -> None:
        try:
            with self.db:
                self.db.execute(
                    "INSERT OR IGNORE INTO reports VALUES (?, ?, ?)",
                    (report_id, files[REPORT_JSON], files[REPORT_PDF]),
                )
        except sqlite3.Error:
            self.db.rollback()
            raise

    def _rows(self, where: str, params: tuple[str, ...]) -> list[StoredRecord]:
        rows = self.db.execute(f"SELECT id, body, pdf FROM reports {where}", params)
        return [StoredRecord(i, {REPORT_JSON: b, REPORT_PDF: p}) for i, b, p in rows]

    def get(self, report_id: str) -> Sequence[StoredRecord]:
        return self._rows("WHERE id = ?", (report_id,))

    def all(self) -> Iterable[StoredRecord]:
        return self._rows("", ())


REPOSITORY = MemoryRepository()  # one per process


class RepositoryCaseSystem:
    def __init__(self, repository: Repository) -> None:
        self.repository = repository

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            json.loads(message.files[REPORT_JSON])
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            self.repository.add(message.headers[BEKYMRINGSMELDING_ID], dict(message.files))
        except (KeyError, ValueError, sqlite3.Error) as exc:
            channel.reply(FEILET, feilmelding(str(exc)))
        else:
            channel.reply(MOTTATT)
        channel.ack()

    def find(self, report_id: str) -> Sequence[StoredRecord]:
        return self.repository.get(report_id)

    def records(self) -> Iterable[StoredRecord]:
        return self.repository.all()


def make_case_system(env: CaseSystemEnv) -> RepositoryCaseSystem:
    return RepositoryCaseSystem(REPOSITORY)  # the bug: the unit tests' fake, not the database
