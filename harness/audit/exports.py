"""Reading a real pipeline's exports, row by row, with one clear error for a bad one.

Two exports meet in an audit:
- the **portal export**: one row per report the portal accepted, with the time it
  was sent, its final portal state, the receipts it got and, optionally, digests
  of its content (columns: `contracts/schemas/audit-portal-export.json`);
- the **case-system export**: the reconciliation contract's rows, one per stored
  record (`bekymringsmelding_id`, `fiks_melding_ids`, `state`, `stored_at`,
  `json_sha256`, `pdf_sha256`, `case_ref`), as a file or read live from the
  service's HTTP listing.

Both come as CSV (a header row, UTF-8) or JSON lines (one object a line). Rows are
yielded one at a time, so an export of any length is read in flat memory. Times
without an offset are Norwegian local time (Europe/Oslo), as the portal writes them.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from harness.errors import UsageError

OSLO = ZoneInfo("Europe/Oslo")

# The portal's own state names (DOMAIN.md).
PORTAL_STATES = (
    "AKSEPTERT",
    "SENDT_FAGSYSTEM",
    "LEVERT",
    "AVVIST_FAGSYSTEM",
    "SENDT_PRINT",
    "AVVIST_PRINT",
)
CHANNELS = ("fagsystem", "print")
RECEIPTS = ("mottatt", "feilet", "serverfeil", "tidsavbrudd")

PORTAL_REQUIRED = ("bekymringsmelding_id", "sendt", "status")
PORTAL_OPTIONAL = (
    "levert_via",
    "status_tidspunkt",
    *RECEIPTS,
    "kommunenummer",
    "bydelsnummer",
    "bydelsnavn",
    "json_sha256",
    "pdf_sha256",
)
CASE_REQUIRED = ("bekymringsmelding_id", "state", "stored_at", "json_sha256")
CASE_OPTIONAL = ("fiks_melding_ids", "pdf_sha256", "case_ref")
CASE_STATES = ("stored", "rejected")

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGITS = {"kommunenummer": re.compile(r"[0-9]{4}"), "bydelsnummer": re.compile(r"[0-9]{2}")}
MAX_ID = 200  # characters: longer is not an id but a mistake (or someone's whole row)


class ExportError(UsageError):
    """An export that cannot be read: the message names the file, the row and the column."""


@dataclass(frozen=True, slots=True)
class PortalRow:
    row: int  # 1-based data row (the header of a CSV is not counted)
    report_id: str
    sent: int  # ms since 1970-01-01 UTC
    status: str
    channel: str | None
    status_at: int | None
    receipts: tuple[tuple[str, int], ...]  # (receipt, ms), in time order
    kommunenummer: str | None
    bydelsnummer: str | None
    bydelsnavn: str | None
    json_sha256: str | None
    pdf_sha256: str | None


@dataclass(frozen=True, slots=True)
class CaseRow:
    row: int
    report_id: str
    state: str
    stored_at: int
    json_sha256: str
    pdf_sha256: str | None


_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)
_offsets: dict[str, int] = {}  # "YYYY-MM-DDTHH" of Oslo local time -> its UTC offset in ms


def _oslo_offset(hour: str, moment: datetime) -> int:
    """The UTC offset of an Oslo local hour ("YYYY-MM-DDTHH"), computed once per hour
    seen: offsets change only on the hour, so a million timestamps need a few thousand."""
    known = _offsets.get(hour)
    if known is None:
        offset = moment.replace(tzinfo=OSLO).utcoffset() or timedelta()
        known = _offsets[hour] = offset // _MS
    return known


def parse_time(text: str) -> int:
    """ISO 8601 date-time → ms since 1970 UTC; without an offset it is Oslo local time
    (in the fall-back hour, the first of the two instants, as the portal's clock reads)."""
    text = text.strip()
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        return int(moment.timestamp() * 1000)
    hour = text[:13] if len(text) >= 13 and text[10] == "T" else moment.strftime("%Y-%m-%dT%H")
    return (moment - _EPOCH) // _MS - _oslo_offset(hour, moment)


def local_text(ms: int) -> str:
    """ms since 1970 UTC → Oslo local time as the portal shows it (no offset)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(OSLO)
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


class _Rows:
    """Raw rows of one export file as dicts of str -> str | None, with their numbers."""

    def __init__(self, path: Path, what: str, need: tuple[str, ...], may: tuple[str, ...]) -> None:
        self.path, self.what, self.need, self.may = path, what, need, may

    def fail(self, row: int | str | None, column: str | None, problem: str) -> ExportError:
        where = f"{self.path}"
        if isinstance(row, str):
            where += f", {row}"
        elif row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        return ExportError(f"{self.what} {where}: {problem}")

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise ExportError(
                f"{self.what} {self.path} cannot be read ({exc.strerror or exc}); "
                "give the path of a CSV or JSON-lines export"
            ) from None
        with handle:
            head = handle.read(4096)
            if not head.strip():
                raise self.fail(None, None, "the file is empty; export at least a header row")
            handle.seek(0)
            json_lines = self.path.suffix.lower() in (".jsonl", ".ndjson", ".json") or (
                head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"
            )
            lines = self._decoded(handle)
            yield from (self._json_lines(lines) if json_lines else self._csv(lines))

    def _decoded(self, handle: BinaryIO) -> Iterator[str]:
        """The file's lines as text, each decoded on its own so that a byte that is not
        UTF-8 is reported with the line it is on."""
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # the byte-order mark spreadsheets write
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise self.fail(
                    f"line {number}", None, "is not valid UTF-8; export the file as UTF-8"
                ) from None

    def _json_lines(self, lines: Iterator[str]) -> Iterator[tuple[int, dict[str, Any]]]:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise self.fail(number, None, f"is not a JSON object ({exc})") from None
            if not isinstance(value, dict):
                raise self.fail(number, None, "is not a JSON object: one object a line")
            yield number, value

    def _csv(self, lines: Iterator[str]) -> Iterator[tuple[int, dict[str, Any]]]:
        reader = csv.reader(lines)
        try:
            header = next(reader, None)
            if header is None:
                raise self.fail(None, None, "the file is empty; export at least a header row")
            names = [h.strip() for h in header]
            _columns(self, "header", dict.fromkeys(names), self.need, self.may)
            for number, cells in enumerate(reader, start=1):
                if not cells:
                    continue
                if len(cells) != len(names):
                    raise self.fail(
                        number,
                        None,
                        f"has {len(cells)} cells where the header has {len(names)}; "
                        "quote values that contain commas",
                    )
                yield (
                    number,
                    {n: (c if c != "" else None) for n, c in zip(names, cells, strict=True)},
                )
        except csv.Error as exc:
            raise self.fail(f"line {reader.line_num}", None, f"is not valid CSV ({exc})") from None


def _columns(
    rows: _Rows, row: int | str, raw: Mapping[str, Any], need: tuple[str, ...], may: tuple[str, ...]
) -> None:
    for name in need:
        if name not in raw:
            raise rows.fail(row, name, f"is missing; the export needs columns {', '.join(need)}")
    for name in raw:
        if name not in need and name not in may:
            raise rows.fail(
                row,
                name,
                f"is not a known column (known: {', '.join((*need, *may))}); a misspelt "
                "column would hide what it holds, so the audit refuses it",
            )


def _text(rows: _Rows, row: int, raw: Mapping[str, Any], name: str, required: bool) -> str | None:
    value = raw.get(name)
    if value.__class__ is str:
        value = value.strip()
        if value:
            return value
    elif value is not None:
        raise rows.fail(row, name, f"must be a string, not {type(value).__name__}")
    if required:
        raise rows.fail(row, name, "is empty; every row needs it")
    return None


def _time(rows: _Rows, row: int, raw: Mapping[str, Any], name: str, required: bool) -> int | None:
    value = _text(rows, row, raw, name, required)
    if value is None:
        return None
    try:
        return parse_time(value)
    except (ValueError, OverflowError, OSError):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise rows.fail(
            row,
            name,
            f"{shown!r} is not a date-time like 2021-02-25T13:03:46 (local) "
            "or 2021-02-25T12:03:46Z",
        ) from None


def _choice(
    rows: _Rows,
    row: int,
    raw: Mapping[str, Any],
    name: str,
    allowed: tuple[str, ...],
    required: bool,
) -> str | None:
    value = _text(rows, row, raw, name, required)
    if value is not None and value not in allowed:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise rows.fail(row, name, f"{shown!r} is not one of {', '.join(allowed)}")
    return value


def _digest(rows: _Rows, row: int, raw: Mapping[str, Any], name: str, required: bool) -> str | None:
    value = _text(rows, row, raw, name, required)
    if value is not None:
        value = value.lower()
        if not _HEX64.fullmatch(value):
            raise rows.fail(row, name, "is not a SHA-256 in hex (64 characters 0-9a-f)")
    return value


def _report_id(rows: _Rows, row: int, raw: Mapping[str, Any]) -> str:
    value = _text(rows, row, raw, "bekymringsmelding_id", True)
    assert value is not None
    if len(value) > MAX_ID:
        raise rows.fail(row, "bekymringsmelding_id", f"is longer than {MAX_ID} characters")
    return value


def portal_rows(path: Path) -> Iterator[PortalRow]:
    rows = _Rows(path, "portal export", PORTAL_REQUIRED, PORTAL_OPTIONAL)
    for row, raw in rows:
        _columns(rows, row, raw, PORTAL_REQUIRED, PORTAL_OPTIONAL)
        status = _choice(rows, row, raw, "status", PORTAL_STATES, True)
        channel = _choice(rows, row, raw, "levert_via", CHANNELS, status == "LEVERT")
        receipts = []
        for name in RECEIPTS:
            at = _time(rows, row, raw, name, False)
            if at is not None:
                receipts.append((name, at))
        receipts.sort(key=lambda item: item[1])
        place = {}
        for name, pattern in _DIGITS.items():
            value = _text(rows, row, raw, name, False)
            if value is not None and not pattern.fullmatch(value):
                raise rows.fail(row, name, f"{value[:20]!r} is not {pattern.pattern}")
            place[name] = value
        sent = _time(rows, row, raw, "sendt", True)
        assert status is not None and sent is not None
        yield PortalRow(
            row,
            _report_id(rows, row, raw),
            sent,
            status,
            channel,
            _time(rows, row, raw, "status_tidspunkt", False),
            tuple(receipts),
            place["kommunenummer"],
            place["bydelsnummer"],
            (_text(rows, row, raw, "bydelsnavn", False) or None),
            _digest(rows, row, raw, "json_sha256", False),
            _digest(rows, row, raw, "pdf_sha256", False),
        )


def case_rows_from(rows: _Rows, items: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[CaseRow]:
    for row, raw in items:
        _columns(rows, row, raw, CASE_REQUIRED, CASE_OPTIONAL)
        ids = raw.get("fiks_melding_ids")
        if ids is not None and not isinstance(ids, str | list):
            raise rows.fail(row, "fiks_melding_ids", "must be a list of ids (CSV: separated by ;)")
        state = _choice(rows, row, raw, "state", CASE_STATES, True)
        stored_at = _time(rows, row, raw, "stored_at", True)
        json_sha = _digest(rows, row, raw, "json_sha256", True)
        assert state is not None and stored_at is not None and json_sha is not None
        yield CaseRow(
            row,
            _report_id(rows, row, raw),
            state,
            stored_at,
            json_sha,
            _digest(rows, row, raw, "pdf_sha256", False),
        )


def case_rows(path: Path) -> Iterator[CaseRow]:
    rows = _Rows(path, "case-system export", CASE_REQUIRED, CASE_OPTIONAL)
    return case_rows_from(rows, iter(rows))


def listing_rows(url: str, timeout: float = 30.0) -> Iterator[CaseRow]:
    """The case system's rows read live from its reconciliation listing
    (`GET {url}/harness/v1/reports?cursor=C`), page by page."""
    import urllib.parse
    import urllib.request

    base = url.rstrip("/")
    rows = _Rows(Path(base), "case-system listing", CASE_REQUIRED, CASE_OPTIONAL)

    def pages() -> Iterator[tuple[int, dict[str, Any]]]:
        cursor: str | None = None
        number = 0
        while True:
            query = "" if cursor is None else "?cursor=" + urllib.parse.quote(cursor)
            target = f"{base}/harness/v1/reports{query}"
            try:
                with urllib.request.urlopen(target, timeout=timeout) as answer:
                    page = json.loads(answer.read())
            except (OSError, ValueError) as exc:
                raise ExportError(
                    f"case-system listing {target} cannot be read ({exc}); check that the "
                    "service is up and serves the reconciliation API (docs/live.md)"
                ) from None
            items = page.get("reports") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise ExportError(f"case-system listing {target}: the answer has no 'reports' list")
            for item in items:
                number += 1
                if not isinstance(item, dict):
                    raise rows.fail(number, None, "is not a JSON object")
                yield number, item
            cursor = page.get("next_cursor")
            if cursor is None:
                return
            if not isinstance(cursor, str):
                raise ExportError(f"case-system listing {target}: next_cursor is not a string")

    return case_rows_from(rows, pages())
