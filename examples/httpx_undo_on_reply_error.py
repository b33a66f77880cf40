"""Undoes a stored report when the reply over HTTP fails: a lost answer loses the report.

`httpx_case_system.py` with a "compensating" error path: when the POST of
`mottatt` to the send API fails, it assumes the portal got nothing, deletes the
record it just stored and rejects the message (`nack`), so that the portal's
paper fallback takes over. But a connection that drops *after* the send API
accepted the reply (`httpx.ReadError`), or a read timeout, says nothing about
whether the reply went through: when it did, the portal has `mottatt`, switches
off its fallback, and the report is gone (SOR-1). Its transport's `retries=2`
does not help: httpx retries only connects that failed. The same bug as
`http_undo_on_reply_error.py`, on httpx (module-level `httpx.post` here).
"""

from __future__ import annotations

import json
import sqlite3

import httpx
from httpx_case_system import TIMEOUT, HttpFailed, HttpxCaseSystem

from harness import (
    BEKYMRINGSMELDING_ID,
    MOTTATT,
    CaseSystemEnv,
    IncomingMessage,
    ReplyChannel,
)

EXPECTS = {"SOR-1"}


class UndoingCaseSystem(HttpxCaseSystem):
    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        report_id = message.headers.get(BEKYMRINGSMELDING_ID, "")
        try:
            self._store(message, report_id)
        except HttpFailed:
            channel.nack_with_requeue()
            return
        except (ValueError, sqlite3.Error) as exc:
            if self._refuse(message, channel, exc):
                channel.ack()
            return
        try:
            self._reply(message, MOTTATT)
        except HttpFailed:
            self._undo(report_id)  # the bug: "the portal did not get it, so undo and reject"
            channel.nack()
            return
        channel.ack()

    def _reply(self, message: IncomingMessage, meldingstype: str, body: bytes = b"") -> None:
        metadata = {"meldingType": meldingstype, "svarPaMelding": message.melding_id}
        parts: dict[str, tuple[str | None, bytes, str]] = {
            "metadata": (None, json.dumps(metadata).encode(), "application/json")
        }
        if body:
            parts["data"] = ("data", body, "application/json")
        try:  # one attempt: a failure is taken to mean "not delivered"
            r = httpx.post(self.http.send_url, files=parts, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise HttpFailed(f"the reply was not sent: {exc}") from exc
        if r.status_code != 200:
            raise HttpFailed(f"the send API refused the reply: {r.status_code} {r.text}")

    def _undo(self, report_id: str) -> None:
        try:
            with self.db:
                self.db.execute("DELETE FROM reports WHERE id = ?", (report_id,))
        except sqlite3.Error:
            pass  # the record stays; the portal prints a copy as well


def make_case_system(env: CaseSystemEnv) -> UndoingCaseSystem:
    return UndoingCaseSystem(env)
