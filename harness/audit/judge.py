"""One report's rows → the history the checker reads → its outcome and violations.

The audit has no checker of its own: each joined report becomes the events a
simulated run would have recorded for it (the portal accepted it, got these
receipts, fell back to print or closed it as delivered; the case system holds
these records), and the contract's own checker judges them. So "lost" means in an
audit exactly what it means in a simulated run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from harness.audit.exports import CaseRow, PortalRow
from harness.checker.clauses import Violation, judge_report
from harness.checker.outcomes import FactsBuilder, Outcome
from harness.core import history as h
from harness.core.history import Event
from harness.core.timing import Timing
from harness.core.wire import FEILET, MOTTATT, REPORT_JSON, REPORT_PDF, SERVERFEIL, TIDSAVBRUDD

RECEIPT_TYPES = {
    "mottatt": MOTTATT,
    "feilet": FEILET,
    "serverfeil": SERVERFEIL,
    "tidsavbrudd": TIDSAVBRUDD,
}
# The clauses a pair of exports can show: what the portal knew against what the case
# system holds. SOR-2, SOR-5 and SOR-6 need the moments inside the pipeline that no
# export records; they are for the simulated and black-box tiers.
AUDIT_CLAUSES = ("SOR-1", "SOR-3", "SOR-4", "SOR-7", "SOR-8")
NO_DIGEST = "not-exported"  # both sides, when the portal export has no digests
IN_FLIGHT = "IN_FLIGHT"  # still on its way, and younger than the deadline: not judged yet
# A fall-back to print that the portal's state shows even where the export names no receipt.
_PRINTED = ("AVVIST_FAGSYSTEM", "SENDT_PRINT", "AVVIST_PRINT")


@dataclass(frozen=True)
class Finding:
    report_id: str
    portal: PortalRow | None
    outcome: str  # an Outcome's value, or IN_FLIGHT
    violations: tuple[Violation, ...]
    exercised: frozenset[str] = frozenset()


def _files_digest(json_sha: str, pdf_sha: str | None) -> str:
    """The same digest the simulated runs compare (core/digest.py: per-file SHA-256 of
    canonical JSON / raw bytes, over sorted file names), built from exported hashes."""
    out = hashlib.sha256()
    files = {REPORT_JSON: json_sha, **({REPORT_PDF: pdf_sha} if pdf_sha else {})}
    for name in sorted(files):
        out.update(name.encode() + b"\0" + bytes.fromhex(files[name]))
    return out.hexdigest()


class Judge:
    def __init__(self, as_of: int, timing: Timing | None = None) -> None:
        self.as_of = as_of
        self.bound = (timing or Timing()).resolution_bound

    def events(
        self, p: PortalRow | None, records: tuple[CaseRow, ...], key: str, digests: bool
    ) -> list[Event]:
        out: list[Event] = []
        if p is not None:
            digest = _files_digest(p.json_sha256, p.pdf_sha256) if p.json_sha256 else NO_DIGEST
            out.append(
                Event(p.sent, h.PORTAL, "accept", key, {"submission": p.row, "digest": digest})
            )
            for name, at in p.receipts:
                out.append(
                    Event(at, h.PORTAL, "receipt", key, {"meldingstype": RECEIPT_TYPES[name]})
                )
            closed = p.status_at or max([p.sent, *(at for _, at in p.receipts)])
            if p.channel == "print" or p.status in _PRINTED:
                failed = [(n, at) for n, at in p.receipts if n != "mottatt"]
                trigger = failed[0][0] if failed else "deadline"
                # Handed to the letter fallback: resolved when the portal learned of the
                # failure, not when the post office delivered the letter days later.
                closed = failed[0][1] if failed else closed
                out.append(Event(closed, h.PORTAL, "fallback", key, {"trigger": trigger}))
            out.append(Event(closed, h.PORTAL, "state", key, {"state": p.status}))
        for r in records:
            if r.state != "stored":
                continue  # the case system's own note of a rejection holds no report
            digest = _files_digest(r.json_sha256, r.pdf_sha256) if digests else NO_DIGEST
            out.append(Event(r.stored_at, h.HARNESS, "record", key, {"digest": digest}))
        out.append(Event(self.as_of, h.HARNESS, "end", None, {"completed": True}))
        return out

    def judge(self, p: PortalRow | None, records: tuple[CaseRow, ...]) -> Finding | None:
        key = p.report_id if p is not None else records[0].report_id
        if (
            p is not None
            and p.status not in ("LEVERT", "AVVIST_PRINT")
            and (self.as_of - p.sent <= self.bound)
        ):
            return Finding(key, p, IN_FLIGHT, ())
        builder = FactsBuilder()
        digests = p is None or p.json_sha256 is not None
        for e in self.events(p, records, key, digests):
            builder.feed(e)
        facts = builder.finish()
        r = facts.reports.get(key)
        if r is None:
            return None  # a record of a rejection only, for an id the portal never listed
        result = judge_report(key, r, facts, self.bound)
        if result is None:
            return None
        outcome = result.outcomes[key]
        violations = tuple(v for v in result.violations if v.clause in AUDIT_CLAUSES)
        exercised = (result.exercised | {v.clause for v in violations}) & set(AUDIT_CLAUSES)
        if r.records:
            exercised |= {"SOR-3"}  # an export lists every record: a second one would show
        if not digests:
            exercised -= {"SOR-4"}  # without digests nothing shows whether content is intact
        return Finding(key, p, Outcome(outcome).value, violations, frozenset(exercised))
