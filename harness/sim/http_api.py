"""The simulated HTTP APIs' requests and answers, apart from how they are served.

The send API is modelled on Fiks IO's `POST /fiks-io/api/v1/send`: multipart, a
`metadata` part (JSON with `meldingType`, `svarPaMelding`, optional `headere`)
and an optional `data` part (the reply's body). The document store answers
`GET {documents_url}/{dokumentlager-id}/{file name}` with the file and a
`Repr-Digest` header (RFC 9530) by which a careful client checks what it got.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser

from harness.sim.documents import repr_digest

_TYPES = {".json": "application/json", ".pdf": "application/pdf"}


@dataclass
class Answer:
    """What the server says: a status, a body, headers, and whether it did anything."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    applied: bool = True  # a 4xx answer applies nothing


@dataclass
class Request:
    """One request the server has understood, before anything is applied."""

    endpoint: str  # "send" or "download": the middle of its injection points
    method: str
    path: str
    report: str | None  # the report it concerns, for the history
    apply: Callable[[], Answer]  # the server's effect
    timeout: tuple[int | None, int | None] = (None, None)  # the client's (connect, read) ms
    extra: dict[str, object] = field(default_factory=dict)  # recorded with the request


def problem(status: int, message: str, **headers: str) -> Answer:
    """An error answer (JSON, as the real APIs give them) that applied nothing."""
    body = json.dumps({"status": status, "melding": message}, ensure_ascii=False).encode()
    return Answer(status, body, {"Content-Type": "application/json", **headers}, applied=False)


def ok_json(value: Mapping[str, object]) -> Answer:
    body = json.dumps(dict(value), ensure_ascii=False).encode()
    return Answer(200, body, {"Content-Type": "application/json"})


def document(name: str, data: bytes) -> Answer:
    kind = _TYPES.get(name[name.rfind(".") :], "application/octet-stream")
    return Answer(200, data, {"Content-Type": kind, "Repr-Digest": repr_digest(data)})


@dataclass(frozen=True)
class SendMetadata:
    meldingstype: str
    svar_til: str
    body: bytes | None


def _parts(content_type: str, raw: bytes) -> dict[str, bytes]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    # compat32: the modern policy's header objects made each request ten times slower
    msg = BytesParser(policy=policy.compat32).parsebytes(head + raw)
    parts: dict[str, bytes] = {}
    if msg.is_multipart():
        for part in msg.get_payload():
            if isinstance(part, str):
                continue
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                parts[name] = payload
    return parts


def parse_send(content_type: str, raw: bytes) -> SendMetadata:
    """The send API's request, or a ValueError that says what is wrong and how to fix it."""
    if not content_type.startswith("multipart/form-data"):
        raise ValueError(
            f"the send API takes multipart/form-data, got {content_type or 'no Content-Type'}; "
            "with requests: files={'metadata': (None, json.dumps(metadata), "
            "'application/json'), 'data': ('data', body)}"
        )
    parts = _parts(content_type, raw)
    if "metadata" not in parts:
        raise ValueError(
            f"the request has no 'metadata' part (parts: {', '.join(parts) or 'none'}); "
            "send the metadata JSON as the multipart part named 'metadata'"
        )
    try:
        meta = json.loads(parts["metadata"])
    except ValueError as exc:
        raise ValueError(f"the 'metadata' part is not JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ValueError("the 'metadata' part must be a JSON object")
    for key in ("meldingType", "svarPaMelding"):
        if not isinstance(meta.get(key), str) or not meta[key]:
            raise ValueError(
                f"metadata.{key} is missing or not a string; a reply needs meldingType "
                "(e.g. no.ks.fiks.bekymringsmelding.mottatt.v1) and svarPaMelding "
                "(the melding-id of the message it answers: message.melding_id)"
            )
    return SendMetadata(meta["meldingType"], meta["svarPaMelding"], parts.get("data"))
