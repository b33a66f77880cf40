"""A correct case system of a third design: upsert on a unique key, then verify.

The report and its attachment go to two tables in one transaction, each
insert guarded by `ON CONFLICT DO NOTHING` on the report id. After the commit
it reads the stored content back and compares digests before it says
`mottatt`: a commit that reported an error yet was applied is recognised,
and a record that differs from the message is never confirmed.
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

EXPECTS: set[str] = set()


def _digest(body: bytes, pdf: bytes) -> str:
    return hashlib.sha256(body + b"\0" + pdf).hexdigest()


class VerifyingCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute("CREATE TABLE IF NOT EXISTS rapport (id TEXT PRIMARY KEY, body BLOB)")
        self.db.execute("CREATE TABLE IF NOT EXISTS dokument (id TEXT PRIMARY KEY, pdf BLOB)")

    def _stored_digest(self, report_id: str) -> str | None:
        row = self.db.execute(
            "SELECT rapport.body, dokument.pdf FROM rapport JOIN dokument USING (id) WHERE id = ?",
            (report_id,),
        ).fetchone()
        return None if row is None else _digest(row[0], row[1])

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        report_id = message.headers.get(BEKYMRINGSMELDING_ID, "")
        body = message.files.get(REPORT_JSON, b"")
        pdf = message.files.get(REPORT_PDF, b"")
        try:
            json.loads(body)
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            with self.db:  # one transaction: both rows or neither
                self.db.execute(
                    "INSERT INTO rapport VALUES (?, ?) ON CONFLICT(id) DO NOTHING",
                    (report_id, body),
                )
                self.db.execute(
                    "INSERT INTO dokument VALUES (?, ?) ON CONFLICT(id) DO NOTHING",
                    (report_id, pdf),
                )
        except ValueError as exc:
            channel.reply(FEILET, feilmelding(f"ugyldig melding: {exc}"))
            channel.ack()
            return
        except sqlite3.Error:
            pass  # the commit may still have been applied: the read-back below decides
        if report_id and self._stored_digest(report_id) == _digest(body, pdf):
            channel.reply(MOTTATT)
        else:
            channel.reply(FEILET, feilmelding("meldingen ble ikke lagret"))
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        rows = self.db.execute(
            "SELECT id, rapport.body, dokument.pdf FROM rapport LEFT JOIN dokument USING (id)"
        )
        for id_, body, pdf in rows:
            files = {REPORT_JSON: body} if pdf is None else {REPORT_JSON: body, REPORT_PDF: pdf}
            yield StoredRecord(id_, files)


def make_case_system(env: CaseSystemEnv) -> VerifyingCaseSystem:
    return VerifyingCaseSystem(env)
