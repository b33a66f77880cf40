"""A write-back cache on the class: reports wait in it, and it says `mottatt` meanwhile.

Reports go into a cache that writes a report to the database only when it
evicts it, to spare the database under load; `find` and `records` read through
the cache. The cache is a class attribute, so every instance in the process
shares it and the process "finds" every report it confirmed; a restart finds
only what was evicted. With `CAPACITY = 0` the cache writes through, before the
reply (`class_level_cache_write_through.py`, which changes that one line).
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import ClassVar

from harness import (
    BEKYMRINGSMELDING_ID,
    FEILET,
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    CaseSystemEnv,
    IncomingMessage,
    ReplyChannel,
    StoredRecord,
    feilmelding,
)

EXPECTS = {"SOR-1", "SOR-2"}


class WriteBackCaseSystem:
    CAPACITY: ClassVar[int] = 100  # the bug: reports wait here, unwritten, after `mottatt`
    _cache: ClassVar[OrderedDict[str, dict[str, bytes]]] = OrderedDict()

    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS reports (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)"
        )

    def _put(self, report_id: str, files: dict[str, bytes]) -> None:
        self._cache[report_id] = files
        while len(self._cache) > self.CAPACITY:
            oldest, kept = next(iter(self._cache.items()))
            try:
                with self.db:
                    self.db.execute(
                        "INSERT OR IGNORE INTO reports VALUES (?, ?, ?)",
                        (oldest, kept[REPORT_JSON], kept[REPORT_PDF]),
                    )
            except sqlite3.Error:
                self.db.rollback()
                del self._cache[report_id]  # not written: the caller says `feilet`
                raise
            del self._cache[oldest]

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            json.loads(message.files[REPORT_JSON])
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            self._put(message.headers[BEKYMRINGSMELDING_ID], dict(message.files))
        except (KeyError, ValueError, sqlite3.Error) as exc:
            channel.reply(FEILET, feilmelding(str(exc)))
        else:
            channel.reply(MOTTATT)
        channel.ack()

    def find(self, report_id: str) -> Sequence[StoredRecord]:
        cached = self._cache.get(report_id)
        if cached is not None:
            return [StoredRecord(report_id, cached)]
        rows = self.db.execute("SELECT body, pdf FROM reports WHERE id = ?", (report_id,))
        return [StoredRecord(report_id, {REPORT_JSON: b, REPORT_PDF: p}) for b, p in rows]

    def records(self) -> Iterable[StoredRecord]:
        rows = self.db.execute("SELECT id, body, pdf FROM reports")
        stored = {i: {REPORT_JSON: b, REPORT_PDF: p} for i, b, p in rows}
        stored.update(self._cache)
        return [StoredRecord(id_, files) for id_, files in stored.items()]


def make_case_system(env: CaseSystemEnv) -> WriteBackCaseSystem:
    return WriteBackCaseSystem(env)
