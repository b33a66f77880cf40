"""Writes the report and its PDF in two separate transactions.

Each write is committed on its own, so a crash or an error between them
leaves a report without its PDF. On redelivery the half-written report is
found, taken for complete, and confirmed: a partial record counts as stored.
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

EXPECTS = {"SOR-4"}


class TwoStepCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute("CREATE TABLE IF NOT EXISTS sak (id TEXT PRIMARY KEY, body BLOB)")
        self.db.execute("CREATE TABLE IF NOT EXISTS vedlegg (id TEXT PRIMARY KEY, pdf BLOB)")

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        report_id = message.headers[BEKYMRINGSMELDING_ID]
        try:
            json.loads(message.files[REPORT_JSON])
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            if not self.db.execute("SELECT 1 FROM sak WHERE id = ?", (report_id,)).fetchone():
                self.db.execute(
                    "INSERT INTO sak VALUES (?, ?)", (report_id, message.files[REPORT_JSON])
                )
                self.db.commit()  # the bug: the case is committed before its attachment
                self.db.execute(
                    "INSERT INTO vedlegg VALUES (?, ?)", (report_id, message.files[REPORT_PDF])
                )
                self.db.commit()
        except (sqlite3.Error, ValueError) as exc:
            self.db.rollback()
            channel.reply(FEILET, feilmelding(str(exc)))
        else:
            channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        rows = self.db.execute(
            "SELECT sak.id, sak.body, vedlegg.pdf FROM sak LEFT JOIN vedlegg USING (id)"
        )
        for report_id, body, pdf in rows:
            files = {REPORT_JSON: body}
            if pdf is not None:
                files[REPORT_PDF] = pdf
            yield StoredRecord(report_id, files)


def make_case_system(env: CaseSystemEnv) -> TwoStepCaseSystem:
    return TwoStepCaseSystem(env)
