"""Loses reports whose names a legacy column cannot hold, and says `mottatt`.

The case title goes into an old Latin-1 column. "Årstad" typed composed fits;
typed decomposed (A + a combining ring), or a name with a character outside
the Basic Multilingual Plane, does not. The encoding error is caught "so one
odd name cannot stop the queue", and the report is confirmed anyway.
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


class Latin1TitleCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS sak (id TEXT PRIMARY KEY, tittel BLOB, body BLOB, pdf BLOB)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            body = json.loads(message.files[REPORT_JSON])
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            title = f"{body['bydelsnavn']}: {body['kommunenavn']}".encode("latin-1")
            self.db.execute(
                "INSERT OR IGNORE INTO sak VALUES (?, ?, ?, ?)",
                (
                    message.headers[BEKYMRINGSMELDING_ID],
                    title,
                    message.files[REPORT_JSON],
                    message.files[REPORT_PDF],
                ),
            )
            self.db.commit()
        except UnicodeEncodeError:
            pass  # the bug: "one odd name must not stop the queue"
        except (sqlite3.Error, ValueError, KeyError) as exc:
            self.db.rollback()
            channel.reply(FEILET, feilmelding(str(exc)))
            channel.ack()
            return
        channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        for id_, body, pdf in self.db.execute("SELECT id, body, pdf FROM sak"):
            yield StoredRecord(id_, {REPORT_JSON: body, REPORT_PDF: pdf})


def make_case_system(env: CaseSystemEnv) -> Latin1TitleCaseSystem:
    return Latin1TitleCaseSystem(env)
