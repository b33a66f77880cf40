"""Undoes a stored report when the reply over HTTP fails: a lost answer loses the report.

A copy of `http_case_system.py` with a "compensating" error path: when the POST
of `mottatt` to the send API fails, it assumes the portal got nothing, deletes
the record it just stored and rejects the message (`nack`), so that the portal's
paper fallback takes over. But a connection that drops *after* the send API
accepted the reply, or a read timeout, says nothing about whether the reply
went through: when it did, the portal has `mottatt`, switches off its fallback,
and the report is gone (SOR-1).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence

import requests

from harness import (
    BEKYMRINGSMELDING_ID,
    DOKUMENTLAGER_ID,
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

EXPECTS = {"SOR-1"}
TIMEOUT = (5, 10)  # seconds: connect, read


class HttpFailed(Exception):
    """An HTTP call that did not succeed: its effect on the server is unknown."""


class UndoingCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.http = env.http
        self.session = requests.Session()
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS reports (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        report_id = message.headers.get(BEKYMRINGSMELDING_ID, "")
        try:
            if not self.find(report_id):  # a redelivery of a stored report skips to the reply
                files = self._payload(message)
                json.loads(files.get(REPORT_JSON, b""))  # a damaged report is refused
                with self.db:  # one transaction: a failed commit leaves nothing behind
                    self.db.execute(
                        "INSERT OR IGNORE INTO reports VALUES (?, ?, ?)",
                        (report_id, files[REPORT_JSON], files.get(REPORT_PDF, b"")),
                    )
        except HttpFailed:
            channel.nack_with_requeue()  # try again later; after 3 the portal gets serverfeil
            return
        except (ValueError, sqlite3.Error) as exc:
            try:
                self._reply(message, FEILET, feilmelding(f"kunne ikke lagre meldingen: {exc}"))
            except HttpFailed:
                channel.nack_with_requeue()
                return
            channel.ack()
            return
        try:
            self._reply(message, MOTTATT)
        except HttpFailed:
            self._undo(report_id)  # the bug: "the portal did not get it, so undo and reject"
            channel.nack()
            return
        channel.ack()

    def _payload(self, message: IncomingMessage) -> dict[str, bytes]:
        doc_id = message.headers.get(DOKUMENTLAGER_ID)
        if doc_id is None:
            return dict(message.files)
        return {name: self._download(doc_id, name) for name in (REPORT_JSON, REPORT_PDF)}

    def _download(self, doc_id: str, name: str) -> bytes:
        try:
            r = self.session.get(f"{self.http.documents_url}/{doc_id}/{name}", timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise HttpFailed(str(exc)) from exc
        if r.status_code != 200:
            raise HttpFailed(f"download of {name}: HTTP {r.status_code}")
        digest = base64.b64encode(hashlib.sha256(r.content).digest()).decode()
        if r.headers.get("Repr-Digest") != f"sha-256=:{digest}:":
            raise HttpFailed(f"download of {name}: the body does not match its Repr-Digest")
        return r.content

    def _reply(self, message: IncomingMessage, meldingstype: str, body: bytes = b"") -> None:
        metadata = {"meldingType": meldingstype, "svarPaMelding": message.melding_id}
        parts: dict[str, tuple[str | None, bytes, str]] = {
            "metadata": (None, json.dumps(metadata).encode(), "application/json")
        }
        if body:
            parts["data"] = ("data", body, "application/json")
        try:
            r = self.session.post(self.http.send_url, files=parts, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise HttpFailed(f"the reply was not sent: {exc}") from exc
        if r.status_code != 200:
            raise HttpFailed(f"the send API refused the reply: {r.status_code} {r.text}")

    def _undo(self, report_id: str) -> None:
        try:
            with self.db:
                self.db.execute("DELETE FROM reports WHERE id = ?", (report_id,))
        except sqlite3.Error:
            pass  # the record stays; the portal prints a copy as well

    def find(self, report_id: str) -> Sequence[StoredRecord]:
        return self._rows("WHERE id = ?", (report_id,))

    def records(self) -> Iterable[StoredRecord]:
        return self._rows("", ())

    def _rows(self, where: str, params: Sequence[str]) -> list[StoredRecord]:
        rows = self.db.execute(f"SELECT id, body, pdf FROM reports {where}", params)
        return [StoredRecord(r[0], {REPORT_JSON: r[1], REPORT_PDF: r[2]}) for r in rows]


def make_case_system(env: CaseSystemEnv) -> UndoingCaseSystem:
    return UndoingCaseSystem(env)
