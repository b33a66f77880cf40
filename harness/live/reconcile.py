"""Reading what a live service has stored: its reconciliation API, or its SQL view.

Every row is checked against `contracts/schemas/reconciliation.json`; a row that
does not fit is a broken endpoint (exit 2 with the first problem), not a verdict.
A row's digest is computed exactly as the portal digests what it submitted
(`core/digest.content_digest`): SHA-256 over the sorted file names, each followed
by NUL and that file's own SHA-256, which the row carries (`json_sha256` of the
canonical JSON, `pdf_sha256` of the PDF bytes).
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from harness.contracts import validate
from harness.core.wire import REPORT_JSON, REPORT_PDF
from harness.errors import UsageError

REPORTS_PATH = "/harness/v1/reports"
MAX_PAGES = 10_000
VIEW = "harness_reports"
COLUMNS = (
    "bekymringsmelding_id",
    "fiks_melding_ids",
    "state",
    "stored_at",
    "json_sha256",
    "pdf_sha256",
    "case_ref",
)


class ReconcileError(UsageError):
    """The service's reconciliation endpoint or view is broken: which way, and the fix."""


@dataclass(frozen=True)
class Row:
    report_id: str
    melding_ids: tuple[str, ...]
    state: str
    stored_at: str
    json_sha256: str
    pdf_sha256: str | None
    case_ref: str | None

    @property
    def files(self) -> list[str]:
        return [REPORT_JSON] + ([REPORT_PDF] if self.pdf_sha256 else [])

    @property
    def digest(self) -> str:
        """Comparable with the portal's `accept` digest (core/digest.content_digest)."""
        per_file = {REPORT_JSON: self.json_sha256}
        if self.pdf_sha256:
            per_file[REPORT_PDF] = self.pdf_sha256
        h = hashlib.sha256()
        for name in sorted(per_file):
            h.update(name.encode() + b"\0" + bytes.fromhex(per_file[name]))
        return h.hexdigest()


def _row(raw: Any, where: str) -> Row:
    errors = validate("reconciliation", {"reports": [raw], "next_cursor": None})
    if errors:
        first = str(errors[0]).replace("$.reports[0]", "$")
        raise ReconcileError(
            f"the reconciliation {where} returned a row that does not match "
            f"contracts/schemas/reconciliation.json ({first}): fix the service's row"
        )
    return Row(
        raw["bekymringsmelding_id"],
        tuple(raw["fiks_melding_ids"]),
        raw["state"],
        raw["stored_at"],
        raw["json_sha256"],
        raw["pdf_sha256"],
        raw["case_ref"],
    )


class HttpReconciler:
    """`GET /harness/v1/reports` (paged) and `GET /harness/v1/reports/{id}`."""

    form = "http"

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self._timeout = timeout
        self._session = requests.Session()

    def _get(self, path: str, params: dict[str, str] | None = None) -> requests.Response:
        try:
            return self._session.get(self.base + path, params=params, timeout=self._timeout)
        except requests.RequestException as exc:
            raise ReconcileError(
                f"the reconciliation endpoint GET {path} failed ({type(exc).__name__}): "
                "serve it on HARNESS_RECONCILE_PORT from the committed store (docs/live.md)"
            ) from exc

    def _json(self, r: requests.Response, path: str) -> Any:
        try:
            return r.json()
        except ValueError:
            raise ReconcileError(
                f"the reconciliation endpoint GET {path} answered HTTP {r.status_code} with "
                f"a body that is not JSON: return the shape in "
                "contracts/schemas/reconciliation.json"
            ) from None

    def find(self, report_id: str) -> list[Row]:
        path = f"{REPORTS_PATH}/{urllib.parse.quote(report_id, safe='')}"
        r = self._get(path)
        if r.status_code == 404:
            return []
        if r.status_code != 200:
            raise ReconcileError(
                f"the reconciliation endpoint GET {REPORTS_PATH}/{{id}} answered HTTP "
                f"{r.status_code}: answer 200 with a row, or 404 when nothing is stored"
            )
        raw = self._json(r, REPORTS_PATH + "/{id}")
        row = _row(raw, f"endpoint GET {REPORTS_PATH}/{{id}}")
        if row.report_id != report_id:
            raise ReconcileError(
                f"GET {REPORTS_PATH}/{report_id} returned the row of {row.report_id!r}: "
                "return the row of the report asked for"
            )
        # A report stored twice shows up once here; the listing has every record.
        return [row]

    def rows(self) -> list[Row]:
        out: list[Row] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            r = self._get(REPORTS_PATH, {"cursor": cursor} if cursor else None)
            if r.status_code != 200:
                raise ReconcileError(
                    f"the reconciliation endpoint GET {REPORTS_PATH} answered HTTP "
                    f"{r.status_code}: answer 200 with the listing (docs/live.md)"
                )
            page = self._json(r, REPORTS_PATH)
            errors = validate("reconciliation", page)
            if errors:
                raise ReconcileError(
                    f"the reconciliation endpoint GET {REPORTS_PATH} returned a listing that "
                    f"does not match contracts/schemas/reconciliation.json ({errors[0]}): "
                    "fix the service's listing"
                )
            out += [_row(raw, f"endpoint GET {REPORTS_PATH}") for raw in page["reports"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return out
        raise ReconcileError(
            f"the reconciliation listing did not end after {MAX_PAGES} pages: "
            "return next_cursor null on the last page"
        )


class SqlReconciler:
    """The view `harness_reports` in the run's database."""

    form = "sql"

    def __init__(self, query: Callable[[str], list[tuple[Any, ...]]]) -> None:
        self._query = query

    def rows(self) -> list[Row]:
        from psycopg import Error

        try:
            raw = self._query(f"SELECT {', '.join(COLUMNS)} FROM {VIEW}")
        except Error as exc:
            raise ReconcileError(
                f"cannot read the view {VIEW} ({' '.join(str(exc).split())[:160]}): create it "
                "in HARNESS_DATABASE_URL with the columns of docs/live.md"
            ) from exc
        return [_row(_from_sql(r), f"view {VIEW}") for r in raw]

    def find(self, report_id: str) -> list[Row]:
        return [r for r in self.rows() if r.report_id == report_id]


def _from_sql(values: tuple[Any, ...]) -> dict[str, Any]:
    raw = dict(zip(COLUMNS, values, strict=True))
    if isinstance(raw["stored_at"], datetime):
        raw["stored_at"] = raw["stored_at"].isoformat()
    if isinstance(raw["fiks_melding_ids"], list | tuple):
        raw["fiks_melding_ids"] = [str(m) for m in raw["fiks_melding_ids"]]
    for key in ("bekymringsmelding_id", "state"):
        if raw[key] is not None:
            raw[key] = str(raw[key])
    return raw


Reconciler = HttpReconciler | SqlReconciler
