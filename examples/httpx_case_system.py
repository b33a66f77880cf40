"""A correct case system on `httpx`: replies over the send API, downloads payloads.

`http_case_system.py` written with `httpx.Client` instead of `requests`: it answers
through the transport's REST API (`POST` to `env.http.send_url`), downloads a
package the transport passed by reference (`dokumentlager-id`) and checks it
against its `Repr-Digest` before storing anything. Its transport retries a failed
connect twice by itself (`HTTPTransport(retries=2)`: only connects, which never
reached the server); every other HTTP failure is "unknown": a failed download is
retried by requeueing the message, a failed reply is sent again, and if it still
fails the message is requeued so that the redelivery confirms the stored report
again. A retried POST may reach the portal twice; the portal ignores the second.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence

import httpx

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

EXPECTS: set[str] = set()
TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # seconds
ATTEMPTS = 3


class HttpFailed(Exception):
    """An HTTP call that did not succeed: its effect on the server is unknown."""


class HttpxCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.http = env.http
        self.client = httpx.Client(transport=httpx.HTTPTransport(retries=2), timeout=TIMEOUT)
        self.db = env.storage.connect()
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS reports (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)"
        )

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        report_id = message.headers.get(BEKYMRINGSMELDING_ID, "")
        try:
            self._store(message, report_id)
            self._reply(message, MOTTATT)
        except HttpFailed:
            channel.nack_with_requeue()  # try again later; after 3 the portal gets serverfeil
            return
        except (ValueError, sqlite3.Error) as exc:
            if not self._refuse(message, channel, exc):
                return
        channel.ack()

    def _store(self, message: IncomingMessage, report_id: str) -> None:
        if self.find(report_id):
            return  # a redelivery of a stored report skips to the reply
        files = self._payload(message)
        json.loads(files.get(REPORT_JSON, b""))  # a damaged report is refused
        if not files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
            raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
        with self.db:  # one transaction: a failed commit leaves nothing behind
            self.db.execute(
                "INSERT OR IGNORE INTO reports VALUES (?, ?, ?)",
                (report_id, files[REPORT_JSON], files[REPORT_PDF]),
            )

    def _refuse(self, message: IncomingMessage, channel: ReplyChannel, why: Exception) -> bool:
        """Reply `feilet`; False (and requeued) when even that reply could not be sent."""
        try:
            self._reply(message, FEILET, feilmelding(f"kunne ikke lagre meldingen: {why}"))
        except HttpFailed:
            channel.nack_with_requeue()
            return False
        return True

    def _payload(self, message: IncomingMessage) -> dict[str, bytes]:
        doc_id = message.headers.get(DOKUMENTLAGER_ID)
        if doc_id is None:
            return dict(message.files)
        return {name: self._download(doc_id, name) for name in (REPORT_JSON, REPORT_PDF)}

    def _download(self, doc_id: str, name: str) -> bytes:
        try:
            r = self.client.get(f"{self.http.documents_url}/{doc_id}/{name}")
        except httpx.HTTPError as exc:
            raise HttpFailed(str(exc)) from exc
        if r.status_code != 200:
            raise HttpFailed(f"download of {name}: HTTP {r.status_code}")
        return self._verified(name, r)

    @staticmethod
    def _verified(name: str, r: httpx.Response) -> bytes:
        """The body, if it is the whole document its `Repr-Digest` names."""
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
                r = self.client.post(self.http.send_url, files=parts)
            except httpx.HTTPError:
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


def make_case_system(env: CaseSystemEnv) -> HttpxCaseSystem:
    return HttpxCaseSystem(env)
