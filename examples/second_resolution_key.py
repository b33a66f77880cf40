"""Deduplicates on municipality + `sendingstidspunkt`, a timestamp to the second.

The idea was to catch resends without trusting any id. But two different
reports sent to one municipality in the same second share the key: the second
is taken for a duplicate, confirmed, and never stored.
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

EXPECTS = {"SOR-1", "SOR-2"}


class TimestampKeyCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS bm (nokkel TEXT PRIMARY KEY, report_id TEXT,"
            " body BLOB, pdf BLOB)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            body = json.loads(message.files[REPORT_JSON])
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            key = f"{body['kommunenummer']}/{body['sendingstidspunkt']}"  # the bug
            self.db.execute(
                "INSERT OR IGNORE INTO bm VALUES (?, ?, ?, ?)",
                (
                    key,
                    message.headers[BEKYMRINGSMELDING_ID],
                    message.files[REPORT_JSON],
                    message.files[REPORT_PDF],
                ),
            )
            self.db.commit()
        except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
            self.db.rollback()
            channel.reply(FEILET, feilmelding(str(exc)))
        else:
            channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        for report_id, body, pdf in self.db.execute("SELECT report_id, body, pdf FROM bm"):
            yield StoredRecord(report_id, {REPORT_JSON: body, REPORT_PDF: pdf})


def make_case_system(env: CaseSystemEnv) -> TimestampKeyCaseSystem:
    return TimestampKeyCaseSystem(env)
