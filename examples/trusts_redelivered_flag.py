"""Skips redelivered messages: "we must have handled this one already".

A message comes back with the redelivered flag when the consumer did not ack
it, most often because it crashed before storing. Skipping it then confirms
exactly the reports that were never stored, and confirms a redelivery that
was damaged in transit without looking at it (SOR-6).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

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

EXPECTS = {"SOR-1", "SOR-2", "SOR-6"}


class TrustingCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute("CREATE TABLE IF NOT EXISTS inn (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)")

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        if message.redelivered:  # the bug: the flag says "not acked", not "stored"
            channel.reply(MOTTATT)
            channel.ack()
            return
        try:
            json.loads(message.files[REPORT_JSON])
            self.db.execute(
                "INSERT OR IGNORE INTO inn VALUES (?, ?, ?)",
                (
                    message.headers[BEKYMRINGSMELDING_ID],
                    message.files[REPORT_JSON],
                    message.files[REPORT_PDF],
                ),
            )
            self.db.commit()
        except (sqlite3.Error, ValueError) as exc:
            self.db.rollback()
            channel.reply(FEILET, feilmelding(str(exc)))
        else:
            channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        for id_, body, pdf in self.db.execute("SELECT id, body, pdf FROM inn"):
            yield StoredRecord(id_, {REPORT_JSON: body, REPORT_PDF: pdf})


def make_case_system(env: CaseSystemEnv) -> TrustingCaseSystem:
    return TrustingCaseSystem(env)
