"""Confirms a package whose PDF is empty: it checks that the PDF is there, not that it
holds anything.

The portal renders every report as a PDF, and the case worker and the archive work
from that document. When the rendering fails upstream the package still arrives,
with `bekymringsmelding.pdf` of zero bytes. This adapter refuses a package without
the file, but takes an empty one for a whole package: it stores it and replies
`mottatt`, the portal switches off its paper fallback, and the report lives on
with no document (SOR-6: invalid input stored). The one line marked differs from
the correct check, `if not message.files.get(REPORT_PDF)`.
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

EXPECTS = {"SOR-6"}


class PresenceCheckCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS reports (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            json.loads(message.files[REPORT_JSON])
            if REPORT_PDF not in message.files:  # the bug: present, but perhaps empty
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            with self.db:
                self.db.execute(
                    "INSERT OR IGNORE INTO reports VALUES (?, ?, ?)",
                    (
                        message.headers[BEKYMRINGSMELDING_ID],
                        message.files[REPORT_JSON],
                        message.files[REPORT_PDF],
                    ),
                )
        except (sqlite3.Error, ValueError, KeyError) as exc:
            channel.reply(FEILET, feilmelding(str(exc)))
        else:
            channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        for id_, body, pdf in self.db.execute("SELECT id, body, pdf FROM reports"):
            yield StoredRecord(id_, {REPORT_JSON: body, REPORT_PDF: pdf})


def make_case_system(env: CaseSystemEnv) -> PresenceCheckCaseSystem:
    return PresenceCheckCaseSystem(env)
