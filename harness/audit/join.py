"""Joining the two exports on `bekymringsmelding_id` in flat memory.

Both exports are staged into a private SQLite file (rows go in batch by batch, so
no export is ever held whole), then read back in id order and merged: each report
comes out once, with every record the case system holds for it, and each record
that no portal row names comes out on its own (a candidate phantom). Staging also
finds a report id the portal export lists twice, which is an error in the export,
not a finding.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from harness.audit.exports import CaseRow, ExportError, PortalRow

BATCH = 20_000


@dataclass(frozen=True)
class Joined:
    portal: PortalRow | None  # None: a record no portal row names
    records: tuple[CaseRow, ...]


class Staging:
    """A private scratch database, removed when the audit is done (also on error)."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="harness-audit-"))  # mode 0700
        self.db = sqlite3.connect(self._dir / "staging.sqlite3")
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE TABLE portal (id TEXT PRIMARY KEY, row INTEGER, sent INTEGER, status TEXT,"
            " channel TEXT, status_at INTEGER, receipts TEXT, kommunenummer TEXT,"
            " bydelsnummer TEXT, bydelsnavn TEXT, json_sha256 TEXT, pdf_sha256 TEXT)"
        )
        self.db.execute(
            "CREATE TABLE records (id TEXT, row INTEGER, state TEXT, stored_at INTEGER,"
            " json_sha256 TEXT, pdf_sha256 TEXT)"
        )
        self.portal_rows = 0
        self.case_rows = 0

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- loading --------------------------------------------------------------
    def add_portal(self, rows: Iterable[PortalRow], source: str) -> None:
        it = iter(rows)
        while batch := list(islice(it, BATCH)):
            values = [
                (
                    r.report_id,
                    r.row,
                    r.sent,
                    r.status,
                    r.channel,
                    r.status_at,
                    ";".join(f"{name}={at}" for name, at in r.receipts),
                    r.kommunenummer,
                    r.bydelsnummer,
                    r.bydelsnavn,
                    r.json_sha256,
                    r.pdf_sha256,
                )
                for r in batch
            ]
            try:
                with self.db:
                    self.db.executemany(
                        "INSERT INTO portal VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", values
                    )
            except sqlite3.IntegrityError:
                raise self._duplicate(batch, source) from None
            self.portal_rows += len(batch)
        if self.portal_rows == 0:
            raise ExportError(f"portal export {source}: it has no rows; nothing to audit")

    def _duplicate(self, batch: list[PortalRow], source: str) -> ExportError:
        seen: dict[str, int] = {}
        for r in batch:
            earlier = seen.get(r.report_id)
            if earlier is None:
                found = self.db.execute(
                    "SELECT row FROM portal WHERE id = ?", (r.report_id,)
                ).fetchone()
                earlier = None if found is None else int(found[0])
            if earlier is not None:
                return ExportError(
                    f"portal export {source}, row {r.row}, column 'bekymringsmelding_id': "
                    f"{r.report_id!r} is listed already at row {earlier}; the portal export "
                    "has one row per report"
                )
            seen[r.report_id] = r.row
        return ExportError(f"portal export {source}: a report id is listed twice")

    def add_records(self, rows: Iterable[CaseRow]) -> None:
        it = iter(rows)
        while batch := list(islice(it, BATCH)):
            with self.db:
                self.db.executemany(
                    "INSERT INTO records VALUES (?,?,?,?,?,?)",
                    [
                        (r.report_id, r.row, r.state, r.stored_at, r.json_sha256, r.pdf_sha256)
                        for r in batch
                    ],
                )
            self.case_rows += len(batch)

    # -- reading back -----------------------------------------------------------
    def latest_time(self) -> int:
        """The latest moment either export mentions: what the audit is 'as of'."""
        (a,) = self.db.execute(
            "SELECT MAX(MAX(sent, COALESCE(status_at, 0))) FROM portal"
        ).fetchone()
        (b,) = self.db.execute("SELECT MAX(stored_at) FROM records").fetchone()
        receipts = self.db.execute("SELECT receipts FROM portal WHERE receipts != ''")
        latest = max(int(a or 0), int(b or 0))
        for (text,) in receipts:
            for item in text.split(";"):
                latest = max(latest, int(item.partition("=")[2]))
        return latest

    def joined(self) -> Iterator[Joined]:
        self.db.execute("CREATE INDEX IF NOT EXISTS records_id ON records (id, row)")
        portal = self.db.execute("SELECT * FROM portal ORDER BY id")
        records = self.db.cursor().execute(
            "SELECT id, row, state, stored_at, json_sha256, pdf_sha256 FROM records"
            " ORDER BY id, row"
        )
        pending = records.fetchone()
        for p in portal:
            report = _portal(p)
            while pending is not None and pending[0] < report.report_id:
                yield Joined(None, (_record(pending),))
                pending = records.fetchone()
            mine = []
            while pending is not None and pending[0] == report.report_id:
                mine.append(_record(pending))
                pending = records.fetchone()
            yield Joined(report, tuple(mine))
        while pending is not None:
            yield Joined(None, (_record(pending),))
            pending = records.fetchone()


def _portal(p: tuple[object, ...]) -> PortalRow:
    receipts = tuple(
        (name, int(at))
        for name, _, at in (item.partition("=") for item in str(p[6]).split(";") if item)
    )
    return PortalRow(
        int(p[1]),  # type: ignore[call-overload]
        str(p[0]),
        int(p[2]),  # type: ignore[call-overload]
        str(p[3]),
        None if p[4] is None else str(p[4]),
        None if p[5] is None else int(p[5]),  # type: ignore[call-overload]
        receipts,
        *(None if v is None else str(v) for v in p[7:12]),
    )


def _record(r: tuple[object, ...]) -> CaseRow:
    return CaseRow(
        int(r[1]),  # type: ignore[call-overload]
        str(r[0]),
        str(r[2]),
        int(r[3]),  # type: ignore[call-overload]
        str(r[4]),
        None if r[5] is None else str(r[5]),
    )
