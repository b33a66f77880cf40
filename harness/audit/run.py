"""An audit from two exports to its result: stage, join, judge every report, total up."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.audit.exports import (
    CaseRow,
    PortalRow,
    case_rows,
    listing_rows,
    local_text,
    portal_rows,
)
from harness.audit.join import Staging
from harness.audit.judge import AUDIT_CLAUSES, IN_FLIGHT, Finding, Judge
from harness.checker.outcomes import LEGAL

KEEP_ROWS = 100_000  # violating reports listed one by one; past that they are counted


@dataclass(frozen=True)
class Source:
    """One export: its name as given, and (for a file) its SHA-256 and size."""

    name: str
    kind: str  # "file" or "listing"
    sha256: str | None
    rows: int


@dataclass(frozen=True)
class ViolationRow:
    report_id: str
    sent: str | None  # local time, as the portal shows it
    kommunenummer: str | None
    bydelsnummer: str | None
    bydelsnavn: str | None
    outcome: str
    clauses: tuple[str, ...]
    what: str


@dataclass
class AuditResult:
    portal: Source
    case_system: Source
    period: tuple[str | None, str | None]
    as_of: str
    outcomes: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)  # clause -> reports that broke it
    exercised: set[str] = field(default_factory=set)
    rows: list[ViolationRow] = field(default_factory=list)
    more_rows: int = 0
    months: dict[str, Counter[str]] = field(default_factory=dict)  # YYYY-MM -> counts
    digests_given: bool = False

    @property
    def verdict(self) -> str:
        return "fail" if self.failed else "pass"

    @property
    def violating(self) -> int:
        return sum(n for k, n in self.outcomes.items() if k not in LEGAL and k != IN_FLIGHT)

    @property
    def judged(self) -> int:
        return sum(n for k, n in self.outcomes.items() if k != IN_FLIGHT)

    def clause_verdicts(self) -> list[tuple[str, str, int]]:
        out = []
        for clause in AUDIT_CLAUSES:
            if self.failed[clause]:
                out.append((clause, "fail", self.failed[clause]))
            elif clause in self.exercised:
                out.append((clause, "pass", 0))
            else:
                out.append((clause, "not-exercised", 0))
        return out


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _case_source(spec: str) -> tuple[str, Iterator[CaseRow] | None, Path | None]:
    if spec.startswith(("http://", "https://")):
        return "listing", listing_rows(spec), None
    return "file", None, Path(spec)


def _noting_digests(rows: Iterable[PortalRow], digests: list[bool]) -> Iterator[PortalRow]:
    for r in rows:
        digests[0] = digests[0] or r.json_sha256 is not None
        yield r


def audit(
    portal: Path,
    case_system: str,
    *,
    start: int | None = None,
    end: int | None = None,
    period: tuple[str | None, str | None] = (None, None),
) -> AuditResult:
    """Audit the reports the portal sent in [start, end) (ms since 1970 UTC; None: open)."""
    kind, live, case_path = _case_source(case_system)
    with Staging() as staging:
        digests = [False]
        staging.add_portal(_noting_digests(portal_rows(portal), digests), str(portal))
        staging.add_records(live if live is not None else case_rows(case_path or Path()))
        as_of = staging.latest_time()
        result = AuditResult(
            # By file name only: where a file lay on the auditor's machine is nobody's
            # business, and the digest says which file it was.
            Source(portal.name, "file", _file_digest(portal), staging.portal_rows),
            Source(
                case_system if kind == "listing" else (case_path or Path()).name,
                kind,
                _file_digest(case_path) if case_path is not None else None,
                staging.case_rows,
            ),
            period,
            local_text(as_of),
            digests_given=digests[0],
        )
        judge = Judge(as_of)
        for joined in staging.joined():
            p = joined.portal
            when = p.sent if p is not None else min(r.stored_at for r in joined.records)
            if (start is not None and when < start) or (end is not None and when >= end):
                continue
            finding = judge.judge(p, joined.records)
            if finding is not None:
                _add(result, finding, when)
    return result


def _add(result: AuditResult, f: Finding, when: int) -> None:
    result.outcomes[f.outcome] += 1
    result.exercised |= f.exercised
    month = local_text(when)[:7]
    result.months.setdefault(month, Counter())["reports"] += 1
    if not f.violations:
        return
    clauses = tuple(sorted({v.clause for v in f.violations}))
    for clause in clauses:
        result.failed[clause] += 1
    result.months[month][f.outcome] += 1
    if len(result.rows) >= KEEP_ROWS:
        result.more_rows += 1
        return
    p = f.portal
    result.rows.append(
        ViolationRow(
            f.report_id,
            local_text(p.sent) if p is not None else None,
            p.kommunenummer if p is not None else None,
            p.bydelsnummer if p is not None else None,
            p.bydelsnavn if p is not None else None,
            f.outcome,
            clauses,
            what_is_wrong(f),
        )
    )


def what_is_wrong(f: Finding) -> str:
    """One line a child-welfare office can act on."""
    p = f.portal
    if f.outcome == "LOST":
        confirmed = p is not None and any(n == "mottatt" for n, _ in p.receipts)
        told = "confirmed received (mottatt)" if confirmed else "closed as delivered"
        return f"{told}; no record in the case system"
    if f.outcome == "DUPLICATED":
        return "more than one record in the case system"
    if f.outcome == "CORRUPTED":
        return "the record differs from what was sent (content or PDF)"
    if f.outcome == "PHANTOM":
        return "a record of a report the portal never sent"
    if f.outcome == "UNRESOLVED":
        state = p.status if p else "unknown"
        return f"still {state} past the deadline: not delivered, not sent by letter"
    return "; ".join(dict.fromkeys(v.message.replace("`", "") for v in f.violations))


def sort_rows(rows: list[ViolationRow]) -> list[ViolationRow]:
    """By the time the portal sent them (records without a portal row last), then id."""
    return sorted(rows, key=lambda r: (r.sent is None, r.sent or "", r.report_id))
