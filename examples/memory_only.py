"""Keeps reports in memory and says `mottatt`: "the database writer runs later".

Nothing is durable until a batch job that a restart never reaches. The
harness asks a fresh instance for the records, as a restarted system would
have them: there are none.
"""

from __future__ import annotations

import json
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


class InMemoryCaseSystem:
    def __init__(self, env: CaseSystemEnv) -> None:
        self.pending: dict[str, dict[str, bytes]] = {}  # the bug: nothing reaches storage

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        try:
            json.loads(message.files[REPORT_JSON])
            if not message.files.get(REPORT_PDF):  # an empty or missing PDF: refuse the package
                raise ValueError("pakken mangler PDF-en (bekymringsmelding.pdf)")
        except ValueError as exc:
            channel.reply(FEILET, feilmelding(str(exc)))
            channel.ack()
            return
        self.pending[message.headers[BEKYMRINGSMELDING_ID]] = {
            REPORT_JSON: message.files[REPORT_JSON],
            REPORT_PDF: message.files[REPORT_PDF],
        }
        channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> Iterable[StoredRecord]:
        return [StoredRecord(id_, files) for id_, files in self.pending.items()]


def make_case_system(env: CaseSystemEnv) -> InMemoryCaseSystem:
    return InMemoryCaseSystem(env)
