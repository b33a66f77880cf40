"""A case system with the 2023 incident's bug: it says `mottatt` whatever the store did.

For almost three years a case system replied "received" for reports it had
failed to store. Here the storage error is swallowed (logged and forgotten) and
the reply goes out anyway, which switches off the portal's paper fallback.
It also stores whatever arrives without looking at it, so a package damaged in
transit is stored as if whole and confirmed (SOR-4, SOR-6).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from harness import (
    BEKYMRINGSMELDING_ID,
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    CaseSystemEnv,
    IncomingMessage,
    ReplyChannel,
    StoredRecord,
)

EXPECTS = {"SOR-1", "SOR-2", "SOR-4", "SOR-6"}


class FamiliaCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS meldinger (id TEXT PRIMARY KEY, json BLOB, pdf BLOB)"
        )
        self.log: list[str] = []

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            self.db.execute(
                "INSERT OR IGNORE INTO meldinger VALUES (?, ?, ?)",
                (
                    message.headers[BEKYMRINGSMELDING_ID],
                    message.files[REPORT_JSON],
                    message.files[REPORT_PDF],
                ),
            )
            self.db.commit()
        except sqlite3.Error as exc:
            self.db.rollback()
            self.log.append(f"lagring feilet: {exc}")  # the bug: logged, then forgotten
        channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        for id_, body, pdf in self.db.execute("SELECT id, json, pdf FROM meldinger"):
            yield StoredRecord(id_, {REPORT_JSON: body, REPORT_PDF: pdf})


def make_case_system(env: CaseSystemEnv) -> FamiliaCaseSystem:
    return FamiliaCaseSystem(env)
