"""Treats a storage timeout as success: "the write probably went through".

Overloaded storage answers late; this case system reads "database is locked /
timed out" as a slow success and confirms the report. It handles every other
storage error correctly, which is why the bug survives review.
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


class OptimisticCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS melding (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            json.loads(message.files[REPORT_JSON])
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            self.db.execute(
                "INSERT OR IGNORE INTO melding VALUES (?, ?, ?)",
                (
                    message.headers[BEKYMRINGSMELDING_ID],
                    message.files[REPORT_JSON],
                    message.files[REPORT_PDF],
                ),
            )
            self.db.commit()
        except sqlite3.OperationalError as exc:
            self.db.rollback()
            if "timed out" not in str(exc):
                channel.reply(FEILET, feilmelding(str(exc)))
                channel.ack()
                return
            # the bug: a timeout is taken for a slow success
        except ValueError as exc:
            channel.reply(FEILET, feilmelding(str(exc)))
            channel.ack()
            return
        channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        for id_, body, pdf in self.db.execute("SELECT id, body, pdf FROM melding"):
            yield StoredRecord(id_, {REPORT_JSON: body, REPORT_PDF: pdf})


def make_case_system(env: CaseSystemEnv) -> OptimisticCaseSystem:
    return OptimisticCaseSystem(env)
