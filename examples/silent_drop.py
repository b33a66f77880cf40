"""A case system that drops what it cannot parse: no reply, just an ack.

A real pattern in consumer code: `except ValueError: log and move on`. The
message is acked, so the transport forgets it; no `feilet` goes back, so the
portal learns nothing until its own deadline, days later, and the letter
goes out late. Everything else here is done right.
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

EXPECTS = {"SOR-5", "SOR-6"}


class SilentDropCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS saker (id TEXT PRIMARY KEY, json BLOB, pdf BLOB)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            json.loads(message.files[REPORT_JSON])
        except ValueError:
            channel.ack()  # the bug: unreadable, so "nothing to do"
            return
        try:
            self.db.execute(
                "INSERT OR IGNORE INTO saker VALUES (?, ?, ?)",
                (
                    message.headers[BEKYMRINGSMELDING_ID],
                    message.files[REPORT_JSON],
                    message.files[REPORT_PDF],
                ),
            )
            self.db.commit()
        except sqlite3.Error as exc:
            self.db.rollback()
            channel.reply(FEILET, feilmelding(str(exc)))
        else:
            channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        for id_, body, pdf in self.db.execute("SELECT id, json, pdf FROM saker"):
            yield StoredRecord(id_, {REPORT_JSON: body, REPORT_PDF: pdf})


def make_case_system(env: CaseSystemEnv) -> SilentDropCaseSystem:
    return SilentDropCaseSystem(env)
