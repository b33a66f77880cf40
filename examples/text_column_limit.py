"""Keeps the concern text in a column of 64 KiB: a longer `melding` is cut, silently.

A common schema puts the free text in a column of its own, so that case workers
can search it: MySQL's `TEXT` holds 65,535 bytes, and in a non-strict SQL mode a
longer value is truncated with a warning nobody reads. SQLite has no such limit,
so this adapter cuts the text where that column would (the one line marked).
Everything else is done right: one transaction, `mottatt` only after the commit,
`feilet` for what it cannot store. A report whose `melding` (or `historie`) runs
past 64 KiB is confirmed and stored without its end (SOR-4).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

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
TEXT_BYTES = 65_535  # the size of the column the text goes into


def column(text: str) -> str:
    """What a column of TEXT_BYTES keeps of `text`."""
    return text.encode()[:TEXT_BYTES].decode(errors="ignore")  # the bug: a silent cut


class TextColumnCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS melding (id TEXT PRIMARY KEY, skjema TEXT,"
            " tekst TEXT, historie TEXT, pdf BLOB)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            report = json.loads(message.files[REPORT_JSON])
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
            text = report.pop("melding")
            nested = isinstance(text, dict)  # offentlig: melding, historie and more inside
            tekst = text.pop("melding") if nested else text
            historie = text.pop("historie") if nested else None
            skjema = {"report": report, "rest": text if nested else None}
            with self.db:
                self.db.execute(
                    "INSERT OR IGNORE INTO melding VALUES (?, ?, ?, ?, ?)",
                    (
                        message.headers[BEKYMRINGSMELDING_ID],
                        json.dumps(skjema, ensure_ascii=False),
                        column(tekst),
                        None if historie is None else column(historie),
                        message.files[REPORT_PDF],
                    ),
                )
        except (sqlite3.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
            channel.reply(FEILET, feilmelding(str(exc)))
        else:
            channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        rows = self.db.execute("SELECT id, skjema, tekst, historie, pdf FROM melding")
        for id_, skjema, tekst, historie, pdf in rows:
            body = _report(skjema, tekst, historie)
            yield StoredRecord(id_, {REPORT_JSON: body, REPORT_PDF: pdf})


def _report(skjema: str, tekst: str, historie: str | None) -> bytes:
    """The report put back together from its columns."""
    parts = json.loads(skjema)
    report: dict[str, Any] = parts["report"]
    if parts["rest"] is None:
        report["melding"] = tekst
    else:
        report["melding"] = {"melding": tekst, "historie": historie, **parts["rest"]}
    return json.dumps(report, ensure_ascii=False).encode()


def make_case_system(env: CaseSystemEnv) -> TextColumnCaseSystem:
    return TextColumnCaseSystem(env)
