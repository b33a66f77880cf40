"""The reference case system: correct by construction, and the model for vendors.

Stores report and PDF in one transaction, keyed on `bekymringsmelding-id` so a
redelivery or a resend never makes a second record; replies `mottatt` only
after the commit, `feilet` when it cannot store; acks after replying.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence

from harness.components.protocols import (
    BEKYMRINGSMELDING_ID,
    FEILET,
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    CaseSystemEnv,
    IncomingMessage,
    ReplyChannel,
    StoredRecord,
)
from harness.contracts import validate_bytes

_SCHEMA = """CREATE TABLE IF NOT EXISTS reports (
    report_id TEXT PRIMARY KEY, body BLOB NOT NULL, pdf BLOB NOT NULL)"""


def feilmelding(text: str) -> bytes:
    """The `feilet` body: a `feilmelding` object with a human-readable `melding`."""
    return json.dumps({"melding": text}, ensure_ascii=False).encode()


class ReferenceCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self._db = env.storage.connect()
        self._db.execute(_SCHEMA)

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        report_id = message.headers.get(BEKYMRINGSMELDING_ID)
        body = message.files.get(REPORT_JSON)
        pdf = message.files.get(REPORT_PDF)
        if not report_id or body is None or not pdf:  # an empty PDF is no PDF
            self._refuse(channel, "meldingen mangler bekymringsmelding-id, JSON eller PDF")
            return
        if self._stored(report_id):  # a redelivery or a resend: stored already, say so again
            channel.reply(MOTTATT)
            channel.ack()
            return
        errors = validate_bytes(message.meldingstype, body)
        if errors:
            self._refuse(channel, f"ugyldig bekymringsmelding: {errors[0]}")
            return
        try:
            self._db.execute(
                "INSERT OR IGNORE INTO reports VALUES (?, ?, ?)", (report_id, body, pdf)
            )
            self._db.commit()
        except sqlite3.Error as exc:
            self._db.rollback()
            self._refuse(channel, f"kunne ikke lagre meldingen: {exc}")
            return
        channel.reply(MOTTATT)
        channel.ack()

    @staticmethod
    def _refuse(channel: ReplyChannel, why: str) -> None:
        """Say `feilet` with a reason (the portal sends a letter at once), then ack."""
        channel.reply(FEILET, feilmelding(why))
        channel.ack()

    def _stored(self, report_id: str) -> bool:
        # Whether it is there, without reading its files back (a PDF may be 5 MB).
        row = self._db.execute("SELECT 1 FROM reports WHERE report_id = ?", (report_id,))
        return row.fetchone() is not None

    def _rows(self, where: str, params: Sequence[str]) -> Iterator[StoredRecord]:
        rows = self._db.execute(f"SELECT report_id, body, pdf FROM reports {where}", params)
        return (StoredRecord(r[0], {REPORT_JSON: r[1], REPORT_PDF: r[2]}) for r in rows)

    def find(self, report_id: str) -> Sequence[StoredRecord]:
        return list(self._rows("WHERE report_id = ?", (report_id,)))

    def records(self) -> Iterable[StoredRecord]:
        return self._rows("", ())  # lazily: a long run may have stored millions


def make_case_system(env: CaseSystemEnv) -> ReferenceCaseSystem:
    return ReferenceCaseSystem(env)
