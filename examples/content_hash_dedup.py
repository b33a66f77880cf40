"""Deduplicates on a hash of the report's content.

Content addressing looks safe: a resend has the same bytes. But two separate
reports can have the same bytes too (the same form sent twice by the same
school, say). The second is taken for a duplicate, confirmed, and not stored.
"""

from __future__ import annotations

import hashlib
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


class HashKeyCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS arkiv (sha TEXT PRIMARY KEY, report_id TEXT, body BLOB,"
            " pdf BLOB)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        body = message.files[REPORT_JSON]
        try:
            json.loads(body)
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            self.db.execute(
                "INSERT OR IGNORE INTO arkiv VALUES (?, ?, ?, ?)",  # the bug: content as key
                (
                    hashlib.sha256(body).hexdigest(),
                    message.headers[BEKYMRINGSMELDING_ID],
                    body,
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
        for report_id, body, pdf in self.db.execute("SELECT report_id, body, pdf FROM arkiv"):
            yield StoredRecord(report_id, {REPORT_JSON: body, REPORT_PDF: pdf})


def make_case_system(env: CaseSystemEnv) -> HashKeyCaseSystem:
    return HashKeyCaseSystem(env)
