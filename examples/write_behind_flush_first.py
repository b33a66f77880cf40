"""A correct batch consumer: buffer, flush on a timer, and only then reply and ack.

Messages wait in a buffer, unacknowledged (the transport's prefetch window holds
several at once), until a timer flushes them in one transaction, at most 200 ms
after the first one came, or at once when the batch is full. After the commit
each message gets `mottatt` and its ack; if the commit fails, `feilet`. A crash
loses the buffer, but nothing in it was acked: the transport delivers it again.
`write_behind_timer.py` is the same design with receipts sent on arrival.
"""

from __future__ import annotations

import json
import sqlite3
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
    Timer,
    feilmelding,
)

EXPECTS: set[str] = set()
LINGER_MS = 200
BATCH = 5


class WriteBehindCaseSystem:
    RECEIPT_ON_ARRIVAL: ClassVar[bool] = False  # True: `mottatt` before the flush (the bug)

    def __init__(self, env: CaseSystemEnv) -> None:
        self.env = env
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS reports (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)"
        )
        self.buffer: list[tuple[IncomingMessage, ReplyChannel]] = []
        self.timer: Timer | None = None

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            json.loads(message.files[REPORT_JSON])
            message.headers[BEKYMRINGSMELDING_ID]
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
        except (KeyError, ValueError) as exc:
            channel.reply(FEILET, feilmelding(str(exc)))
            channel.ack()
            return
        if self.RECEIPT_ON_ARRIVAL:
            channel.reply(MOTTATT)
            channel.ack()
        self.buffer.append((message, channel))
        if len(self.buffer) >= BATCH:
            self.flush()
        elif self.timer is None:
            self.timer = self.env.call_later(LINGER_MS, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.buffer = self.buffer, []
        rows = [
            (m.headers[BEKYMRINGSMELDING_ID], m.files[REPORT_JSON], m.files[REPORT_PDF])
            for m, _ in batch
        ]
        try:
            with self.db:
                self.db.executemany("INSERT OR IGNORE INTO reports VALUES (?, ?, ?)", rows)
        except sqlite3.Error as exc:
            self.db.rollback()
            answer: tuple[str, bytes | None] = (FEILET, feilmelding(str(exc)))
        else:
            answer = (MOTTATT, None)
        if self.RECEIPT_ON_ARRIVAL:
            return  # answered and acked on arrival
        for _, channel in batch:
            channel.reply(*answer)
            channel.ack()

    def find(self, report_id: str) -> Sequence[StoredRecord]:
        rows = self.db.execute("SELECT body, pdf FROM reports WHERE id = ?", (report_id,))
        return [StoredRecord(report_id, {REPORT_JSON: b, REPORT_PDF: p}) for b, p in rows]

    def records(self) -> Iterable[StoredRecord]:
        rows = self.db.execute("SELECT id, body, pdf FROM reports")
        return [StoredRecord(i, {REPORT_JSON: b, REPORT_PDF: p}) for i, b, p in rows]


def make_case_system(env: CaseSystemEnv) -> WriteBehindCaseSystem:
    return WriteBehindCaseSystem(env)
