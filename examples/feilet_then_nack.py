"""A correct case system of a different design: on failure, `feilet`, then nack.

Where the reference acks after `feilet`, this one nacks, so the transport
dead-letters the message as well: the operations team sees every failed report
in the dead-letter queue, and the portal (already told by `feilet`) ignores
the `serverfeil` that follows. Duplicates are caught by a lookup inside the
same transaction as the insert.
"""

from __future__ import annotations

import json
import sqlite3
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


class NackingCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS bekymring (id TEXT PRIMARY KEY, body BLOB NOT NULL,"
            " pdf BLOB NOT NULL)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            report_id = message.headers[BEKYMRINGSMELDING_ID]
            body, pdf = message.files[REPORT_JSON], message.files[REPORT_PDF]
            json.loads(body)
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            if not self.find(report_id):
                self.db.execute("INSERT INTO bekymring VALUES (?, ?, ?)", (report_id, body, pdf))
                self.db.commit()
        except (sqlite3.Error, ValueError, KeyError) as exc:
            self.db.rollback()
            channel.reply(FEILET, feilmelding(f"kunne ikke ta imot meldingen: {exc}"))
            channel.nack()  # dead-lettered on purpose, for the operators
            return
        channel.reply(MOTTATT)
        channel.ack()

    def find(self, report_id: str) -> Sequence[StoredRecord]:
        rows = self.db.execute("SELECT body, pdf FROM bekymring WHERE id = ?", (report_id,))
        return [StoredRecord(report_id, {REPORT_JSON: b, REPORT_PDF: p}) for b, p in rows]

    def records(self) -> Iterable[StoredRecord]:
        for id_, body, pdf in self.db.execute("SELECT id, body, pdf FROM bekymring"):
            yield StoredRecord(id_, {REPORT_JSON: body, REPORT_PDF: pdf})


def make_case_system(env: CaseSystemEnv) -> NackingCaseSystem:
    return NackingCaseSystem(env)
