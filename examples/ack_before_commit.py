"""Acks the message first, then stores it.

The transport forgets a message once it is acked. Acking before the commit
means a crash or an error in between loses the message with nobody told: the
portal hears nothing until its own timer fires. The protocol's order is
store, reply, ack.
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

EXPECTS = {"SOR-5"}


class EagerAckCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS innkommende (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        channel.ack()  # the bug: "we have it now"
        try:
            json.loads(message.files[REPORT_JSON])
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            self.db.execute(
                "INSERT OR IGNORE INTO innkommende VALUES (?, ?, ?)",
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
            return
        channel.reply(MOTTATT)

    def records(self) -> Iterable[StoredRecord]:
        for id_, body, pdf in self.db.execute("SELECT id, body, pdf FROM innkommende"):
            yield StoredRecord(id_, {REPORT_JSON: body, REPORT_PDF: pdf})


def make_case_system(env: CaseSystemEnv) -> EagerAckCaseSystem:
    return EagerAckCaseSystem(env)
