"""A correct case system that backs off with `time.sleep` between retries.

When the database refuses a write it waits 5 s and tries again, three times in
all, before it says `feilet`, as a vendor's retry helper does. Inside a run,
`time.sleep` passes in the run's virtual time: the back-off shows on the
timeline (`sleep ms=5000`), the portal hears later, and the hang guard, which
keeps wall time, never counts it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence

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

EXPECTS: set[str] = set()
ATTEMPTS = 3
BACKOFF_S = 5


class BackoffCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS reports (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)"
        )

    def _store(self, report_id: str, body: bytes, pdf: bytes) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self.db:
                    self.db.execute(
                        "INSERT OR IGNORE INTO reports VALUES (?, ?, ?)", (report_id, body, pdf)
                    )
                return
            except sqlite3.Error:
                self.db.rollback()
                if attempt == ATTEMPTS:
                    raise
                time.sleep(BACKOFF_S)

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            body = message.files[REPORT_JSON]
            json.loads(body)
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            self._store(message.headers[BEKYMRINGSMELDING_ID], body, message.files[REPORT_PDF])
        except (KeyError, ValueError, sqlite3.Error) as exc:
            channel.reply(FEILET, feilmelding(str(exc)))
        else:
            channel.reply(MOTTATT)
        channel.ack()

    def find(self, report_id: str) -> Sequence[StoredRecord]:
        rows = self.db.execute("SELECT body, pdf FROM reports WHERE id = ?", (report_id,))
        return [StoredRecord(report_id, {REPORT_JSON: b, REPORT_PDF: p}) for b, p in rows]

    def records(self) -> Iterable[StoredRecord]:
        rows = self.db.execute("SELECT id, body, pdf FROM reports")
        return [StoredRecord(i, {REPORT_JSON: b, REPORT_PDF: p}) for i, b, p in rows]


def make_case_system(env: CaseSystemEnv) -> BackoffCaseSystem:
    return BackoffCaseSystem(env)
