"""Deduplicates on `melding-id`, which the portal changes on every resend.

A redelivery (same melding-id) is caught, but when the portal resends a report
it never heard back about, the resend carries a new melding-id and becomes a
second case: the same child, two records.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from harness import (
    BEKYMRINGSMELDING_ID,
    FEILET,
    MELDING_ID,
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    CaseSystemEnv,
    IncomingMessage,
    ReplyChannel,
    StoredRecord,
    feilmelding,
)

EXPECTS = {"SOR-3"}


class MeldingIdCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS mottak (melding_id TEXT PRIMARY KEY, report_id TEXT,"
            " body BLOB, pdf BLOB)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            json.loads(message.files[REPORT_JSON])
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            self.db.execute(
                "INSERT OR IGNORE INTO mottak VALUES (?, ?, ?, ?)",  # the bug: the wrong key
                (
                    message.headers[MELDING_ID],
                    message.headers[BEKYMRINGSMELDING_ID],
                    message.files[REPORT_JSON],
                    message.files[REPORT_PDF],
                ),
            )
            self.db.commit()
        except (sqlite3.Error, KeyError, ValueError) as exc:
            self.db.rollback()
            channel.reply(FEILET, feilmelding(str(exc)))
        else:
            channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        for report_id, body, pdf in self.db.execute("SELECT report_id, body, pdf FROM mottak"):
            yield StoredRecord(report_id, {REPORT_JSON: body, REPORT_PDF: pdf})


def make_case_system(env: CaseSystemEnv) -> MeldingIdCaseSystem:
    return MeldingIdCaseSystem(env)
