"""The transport's document store (dokumentlager): payloads that travel by reference.

Fiks IO does not put a large payload in the message: it stores it and sends a
`dokumentlager-id` header instead, and the receiver downloads the files over HTTP.
Here a report takes that path when its workload says so (data profile
`DOKUMENTLAGER`), so runs that never ask for it are unchanged.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from harness.components.protocols import BEKYMRINGSMELDING_ID, DOKUMENTLAGER_ID
from harness.core.digest import content_digest
from harness.sim.loop import EventLoop

# The data profile of a report whose package goes through the document store. Its
# content is a plain report's: the path is what it tests (sizes are `near_limit`'s job).
DOKUMENTLAGER = "dokumentlager"

# send(meldingstype, headers, files) -> melding-id, as the portal calls the transport.
SendFn = Callable[[str, Mapping[str, str], Mapping[str, bytes]], str]


def repr_digest(data: bytes) -> str:
    """The `Repr-Digest` header value (RFC 9530) the store sends with a document."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


@dataclass
class Document:
    report: str | None
    files: dict[str, bytes]


class DocumentStore:
    def __init__(self, loop: EventLoop) -> None:
        self._loop = loop
        self.documents: dict[str, Document] = {}

    def put(self, files: Mapping[str, bytes], report: str | None) -> str:
        doc_id = self._loop.new_id()
        self.documents[doc_id] = Document(report, dict(files))
        return doc_id

    def damage(self, doc_id: str) -> str:
        """The report JSON cut off halfway, for good (the transport's `corrupt` fault on a
        payload that travels by reference). Returns the damaged content's digest."""
        doc = self.documents[doc_id]
        doc.files = {
            name: data[: len(data) // 2] if name.endswith(".json") else data
            for name, data in doc.files.items()
        }
        return content_digest(doc.files)

    def sender(self, send: SendFn, by_reference: Callable[[str], bool]) -> SendFn:
        """Wrap the transport's `send`: a report for which `by_reference(report id)` holds
        is stored here, and its message carries `dokumentlager-id` and no files."""

        def send_maybe_by_reference(
            meldingstype: str, headers: Mapping[str, str], files: Mapping[str, bytes]
        ) -> str:
            report = headers.get(BEKYMRINGSMELDING_ID)
            if report is None or not by_reference(report):
                return send(meldingstype, headers, files)
            doc_id = self.put(files, report)  # a new upload on every send, as a resend does
            return send(meldingstype, {**headers, DOKUMENTLAGER_ID: doc_id}, {})

        return send_maybe_by_reference
