"""The reference portal: validates, accepts or rejects, sends, and falls back to print."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from harness.components.protocols import (
    BEKYMRINGSMELDING_ID,
    FEILET,
    KLIENTMELDING_ID,
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    REPORT_TYPES,
    SERVERFEIL,
    SVAR_TIL,
    TIDSAVBRUDD,
)
from harness.contracts import resolve_type, validate_bytes
from harness.core.context import Context
from harness.core.digest import content_digest
from harness.core.history import PORTAL
from harness.core.workload import MAX_PACKAGE_BYTES, Submission

_FAILURE_RECEIPTS = (FEILET, SERVERFEIL, TIDSAVBRUDD)


class PortalState(StrEnum):
    AKSEPTERT = "AKSEPTERT"
    SENDT_FAGSYSTEM = "SENDT_FAGSYSTEM"
    LEVERT = "LEVERT"
    AVVIST_FAGSYSTEM = "AVVIST_FAGSYSTEM"
    SENDT_PRINT = "SENDT_PRINT"
    AVVIST_PRINT = "AVVIST_PRINT"


@dataclass(frozen=True)
class Rejection:
    """A machine-readable reason for refusing a submission."""

    code: str  # unknown_type | too_large | missing_file | invalid
    path: str  # where in the report, a JSON path ($ for the whole package)
    message: str


def rejection_of(sub: Submission) -> Rejection | None:
    """Why the portal refuses a submission, or None when it accepts it."""
    if resolve_type(sub.meldingstype) not in REPORT_TYPES:
        return Rejection("unknown_type", "$", f"unknown message type {sub.meldingstype!r}")
    if sum(len(b) for b in sub.files.values()) > MAX_PACKAGE_BYTES:
        return Rejection("too_large", "$", "the package is larger than 5 MB")
    raw = sub.files.get(REPORT_JSON)
    if raw is None:
        return Rejection("missing_file", "$", f"the package has no {REPORT_JSON}")
    errors = validate_bytes(sub.meldingstype, raw)
    if errors:
        first = errors[0]
        return Rejection("invalid", first.path, f"{first.message} ({first.rule})")
    return None


def incomplete(files: Mapping[str, bytes]) -> str | None:
    """What a package the portal sends lacks for a case system to store it whole: the
    PDF rendering, empty or missing (the portal's own rendering failed upstream). The
    portal still sends it, as a real one would; the case system must refuse it."""
    pdf = files.get(REPORT_PDF)
    if pdf is None:
        return f"the package has no {REPORT_PDF}"
    if not pdf:
        return f"{REPORT_PDF} is empty"
    return None


@dataclass
class _Report:
    report_id: str
    klientmelding_id: str
    submission: Submission
    state: PortalState = PortalState.AKSEPTERT
    sends: int = 0
    melding_ids: list[str] = field(default_factory=list)


# send(meldingstype, headers, files) -> melding-id; provided by the transport.
SendFn = Callable[[str, Mapping[str, str], Mapping[str, bytes]], str]


class Portal:
    def __init__(self, sim: Context, send: SendFn) -> None:
        self._sim = sim
        self._send = send
        self._by_melding: dict[str, _Report] = {}
        self.reports: dict[str, _Report] = {}
        self.on_closed: Callable[[str], None] | None = None  # told when a report is final

    def submit(self, sub: Submission) -> None:
        sim = self._sim
        rejection = rejection_of(sub)
        if rejection is not None:
            sim.record(
                PORTAL,
                "reject",
                f"submission-{sub.index}",
                submission=sub.index,
                reason=f"{rejection.path}: {rejection.message}",
                code=rejection.code,
                path=rejection.path,
            )
            return
        rep = _Report(sim.loop.new_id(), sim.loop.new_id(), sub)
        self.reports[rep.report_id] = rep
        lacking = incomplete(sub.files)
        sim.record(
            PORTAL,
            "accept",
            rep.report_id,
            submission=sub.index,
            meldingstype=sub.meldingstype,
            digest=content_digest(sub.files, sim.digests),
            **({"data": sub.spec.data} if sub.spec.data else {}),
            **({"incomplete": lacking} if lacking else {}),
        )
        self._set(rep, PortalState.AKSEPTERT)
        self._send_to_case_system(rep)
        sim.loop.call_later(sim.timing.deadline, lambda: self._deadline(rep))

    def _send_to_case_system(self, rep: _Report) -> None:
        headers = {KLIENTMELDING_ID: rep.klientmelding_id, BEKYMRINGSMELDING_ID: rep.report_id}
        melding_id = self._send(rep.submission.meldingstype, headers, rep.submission.files)
        rep.sends += 1
        rep.melding_ids.append(melding_id)
        self._by_melding[melding_id] = rep
        self._sim.record(PORTAL, "send", rep.report_id, melding_id=melding_id, attempt=rep.sends)
        self._set(rep, PortalState.SENDT_FAGSYSTEM)
        if rep.sends <= self._sim.timing.max_resends:
            self._sim.loop.call_later(self._sim.timing.resend_after, lambda: self._resend(rep))

    def _resend(self, rep: _Report) -> None:
        if rep.state is PortalState.SENDT_FAGSYSTEM:
            self._send_to_case_system(rep)

    def resend_now(self, report_id: str) -> None:
        """Resend at once, as after silence (a new melding-id): a fault the live world
        injects, since a real portal's resend may cross the first delivery."""
        rep = self.reports.get(report_id)
        if rep is not None:
            self._resend(rep)

    def on_receipt(self, meldingstype: str, headers: Mapping[str, str]) -> None:
        """A receipt routed back by `svar-til`."""
        rep = self._by_melding.get(headers.get(SVAR_TIL, ""))
        if rep is None:
            self._sim.record(
                PORTAL,
                "receipt_unknown",
                None,
                meldingstype=meldingstype,
                svar_til=headers.get(SVAR_TIL),
            )
            return
        self._sim.record(
            PORTAL,
            "receipt",
            rep.report_id,
            meldingstype=meldingstype,
            svar_til=headers[SVAR_TIL],
            state=rep.state.value,
        )
        if rep.state is not PortalState.SENDT_FAGSYSTEM:
            return  # already resolved; a late receipt changes nothing
        if meldingstype == MOTTATT:
            self._set(rep, PortalState.LEVERT, via="fagsystem")
        elif meldingstype in _FAILURE_RECEIPTS:
            self._set(rep, PortalState.AVVIST_FAGSYSTEM)
            self._print(rep, trigger=meldingstype)

    def _deadline(self, rep: _Report) -> None:
        if rep.state is PortalState.SENDT_FAGSYSTEM:
            self._sim.record(PORTAL, "deadline", rep.report_id)
            self._print(rep, trigger="deadline")

    def _print(self, rep: _Report, trigger: str) -> None:
        self._sim.record(PORTAL, "fallback", rep.report_id, trigger=trigger)
        self._set(rep, PortalState.SENDT_PRINT)
        self._sim.loop.call_later(
            self._sim.timing.print_delay, lambda: self._set(rep, PortalState.LEVERT, via="print")
        )

    def _set(self, rep: _Report, state: PortalState, via: str | None = None) -> None:
        rep.state = state
        extra = {"via": via} if via else {}
        self._sim.record(PORTAL, "state", rep.report_id, state=state.value, **extra)
        if state in (PortalState.LEVERT, PortalState.AVVIST_PRINT) and self.on_closed:
            self.on_closed(rep.report_id)

    def forget(self, report_id: str) -> None:
        """Drop a settled report (streamed runs); a late receipt for it is then unknown."""
        rep = self.reports.pop(report_id, None)
        if rep is not None:
            for melding_id in rep.melding_ids:
                self._by_melding.pop(melding_id, None)
