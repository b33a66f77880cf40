"""Swallows a failed download: the report is stored without its PDF, and confirmed.

A copy of `http_case_system.py` whose download helper logs an HTTP error and
returns an empty file instead of raising ("the attachment is not essential").
The report JSON is parsed before storing, so a failed JSON download still ends
in `feilet`; a failed PDF download is stored empty and answered `mottatt`, and
the portal switches off its paper fallback for a report that lost its content
(SOR-4).
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

EXPECTS = {"SOR-4"}
TIMEOUT = (5, 10)  # seconds: connect, read
ATTEMPTS = 3


class HttpFailed(Exception):
    """An HTTP call that did not succeed: its effect on the server is unknown."""


class ForgivingCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.http = env.http
        self.log: list[str] = []
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
            self._reply(message, MOTTATT)
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

    def _payload(self, message: IncomingMessage) -> dict[str, bytes]:
        doc_id = message.headers.get(DOKUMENTLAGER_ID)
        if doc_id is None:
            return dict(message.files)
        return {name: self._download(doc_id, name) for name in (REPORT_JSON, REPORT_PDF)}

    def _download(self, doc_id: str, name: str) -> bytes:
        try:
            r = self.session.get(f"{self.http.documents_url}/{doc_id}/{name}", timeout=TIMEOUT)
            r.raise_for_status()
        except requests.RequestException as exc:
            self.log.append(f"nedlasting av {name} feilet: {exc}")  # the bug: logged, then empty
            return b""
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
        for _ in range(ATTEMPTS):
            try:
                r = self.session.post(self.http.send_url, files=parts, timeout=TIMEOUT)
            except requests.RequestException:
                continue  # the reply may have gone through: sending it again is harmless
            if r.status_code == 200:
                return
            if r.status_code != 429 and r.status_code < 500:
                raise HttpFailed(f"the send API refused the reply: {r.status_code} {r.text}")
        raise HttpFailed(f"no answer from the send API after {ATTEMPTS} attempts")

    def find(self, report_id: str) -> Sequence[StoredRecord]:
        return self._rows("WHERE id = ?", (report_id,))

    def records(self) -> Iterable[StoredRecord]:
        return self._rows("", ())

    def _rows(self, where: str, params: Sequence[str]) -> list[StoredRecord]:
        rows = self.db.execute(f"SELECT id, body, pdf FROM reports {where}", params)
        return [StoredRecord(r[0], {REPORT_JSON: r[1], REPORT_PDF: r[2]}) for r in rows]


def make_case_system(env: CaseSystemEnv) -> ForgivingCaseSystem:
    return ForgivingCaseSystem(env)
