"""Stores a download that was cut short as if it were whole.

A copy of `http_case_system.py` that trusts `200 OK`: it checks the status code
of each download, never the body against the document's `Repr-Digest`. A body
cut off or damaged in transit still arrives as 200, so the PDF is stored broken
and confirmed with `mottatt` (SOR-4). The report JSON happens to be parsed, so a
damaged JSON ends in `feilet` and hides the bug in a quick test.
"""

from __future__ import annotations

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


class TrustingCaseSystem:
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
        except requests.RequestException as exc:
            raise HttpFailed(str(exc)) from exc
        if r.status_code != 200:
            raise HttpFailed(f"download of {name}: HTTP {r.status_code}")
        return r.content  # the bug: 200 OK is taken to mean the whole file arrived

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


def make_case_system(env: CaseSystemEnv) -> TrustingCaseSystem:
    return TrustingCaseSystem(env)
