"""Keeps its reports in a module-level dict, and a module-level connection that never
commits: both survive a crash in-process, neither survives the end of a process."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from harness import BEKYMRINGSMELDING_ID, MOTTATT, REPORT_JSON, REPORT_PDF, StoredRecord

EXPECTS = {"SOR-1", "SOR-2"}
REPORTS: dict[str, dict[str, bytes]] = {}
_CONNECTION: list[sqlite3.Connection] = []


class GlobalMemory:
    def __init__(self, env: Any) -> None:
        if not _CONNECTION:
            db = sqlite3.connect(str(env.storage.path), isolation_level=None)
            db.execute("CREATE TABLE IF NOT EXISTS r (id TEXT PRIMARY KEY)")
            db.execute("BEGIN")  # and never COMMIT: visible to this connection only
            _CONNECTION.append(db)

    def handle(self, message: Any, channel: Any) -> None:
        report = message.headers[BEKYMRINGSMELDING_ID]
        REPORTS[report] = {
            REPORT_JSON: message.files[REPORT_JSON],
            REPORT_PDF: message.files[REPORT_PDF],
        }
        _CONNECTION[0].execute("INSERT OR IGNORE INTO r VALUES (?)", (report,))
        channel.reply(MOTTATT)
        channel.ack()

    def find(self, report_id: str) -> Iterable[StoredRecord]:
        return [r for r in self.records() if r.report_id == report_id]

    def records(self) -> Iterable[StoredRecord]:
        ids = (
            {row[0] for row in _CONNECTION[0].execute("SELECT id FROM r")} if _CONNECTION else set()
        )
        return [StoredRecord(k, v) for k, v in REPORTS.items() if k in ids]


def make_case_system(env: Any) -> GlobalMemory:
    return GlobalMemory(env)
