"""The checker, clause by clause, on hand-written histories.

Every clause gets at least one history that must break it and a close neighbour
that must not. Histories are short timelines built from the helpers below; they
use the same event shapes the simulator emits (see harness.core.history).
"""

from __future__ import annotations

from typing import Any

import pytest

from harness import FEILET, MOTTATT, SERVERFEIL, TIDSAVBRUDD, CheckResult, Outcome, check
from harness.checker.clauses import CLAUSE_IDS, WARNING_IDS, default_resolution_bound
from harness.core.history import CASE_SYSTEM, HARNESS, PORTAL, STORAGE, TRANSPORT, Event
from harness.core.timing import HOUR, MINUTE, Timing

RID = "report-1"
OTHER = "report-2"
GOOD = "digest-as-submitted"
BAD = "digest-of-something-else"
HOP = 50  # one hop through the transport, as in the simulator
END = 72 * HOUR  # comfortably after every deadline; records follow the end event
DEADLINE = Timing().deadline
PRINT_DELAY = Timing().print_delay


# -- builders: one event each ------------------------------------------------


def ev(t: int, component: str, kind: str, report: str | None, **data: Any) -> Event:
    return Event(t, component, kind, report, data)


def accept(t: int, rid: str = RID, submission: int = 0, digest: str = GOOD) -> Event:
    return ev(t, PORTAL, "accept", rid, submission=submission, digest=digest)


def reject(t: int, submission: int, reason: str | None) -> Event:
    data: dict[str, Any] = {"submission": submission}
    if reason is not None:
        data["reason"] = reason
    return ev(t, PORTAL, "reject", f"submission-{submission}", **data)


def state(t: int, value: str, rid: str = RID, via: str | None = None) -> Event:
    extra = {"via": via} if via else {}
    return ev(t, PORTAL, "state", rid, state=value, **extra)


def send(t: int, rid: str = RID, attempt: int = 1) -> Event:
    return ev(t, PORTAL, "send", rid, melding_id=f"m-{rid}-{attempt}", attempt=attempt)


def deliver(t: int, rid: str = RID, delivery: int = 1, malformed: bool = False) -> Event:
    extra = {"malformed": True} if malformed else {}
    return ev(t, TRANSPORT, "deliver", rid, delivery=delivery, redelivered=delivery > 1, **extra)


def handle(t: int, rid: str = RID) -> Event:
    return ev(t, CASE_SYSTEM, "handle", rid)


def commit(t: int, rid: str = RID) -> Event:
    return ev(t, STORAGE, "commit", rid)


def storage_fault(t: int, rid: str = RID, fault: str = "storage.execute.error") -> Event:
    return ev(t, STORAGE, "fault", rid, fault=fault)


def reply(t: int, meldingstype: str, rid: str = RID, durable: bool | None = None) -> Event:
    extra = {"durable": durable} if durable is not None else {}
    return ev(t, CASE_SYSTEM, "reply", rid, meldingstype=meldingstype, **extra)


def ack(t: int, rid: str = RID, **data: Any) -> Event:
    """An ack; without a reply first, the slot adds answered=False and durable=<probe>."""
    return ev(t, CASE_SYSTEM, "ack", rid, **data)


def crash(t: int, cause: str, rid: str = RID) -> Event:
    return ev(t, CASE_SYSTEM, "crash", rid, cause=cause, detail=f"{cause} (hand-written)")


def receipt(t: int, meldingstype: str, rid: str = RID) -> Event:
    return ev(t, PORTAL, "receipt", rid, meldingstype=meldingstype, state="SENDT_FAGSYSTEM")


def fallback(t: int, trigger: str, rid: str = RID) -> Event:
    return ev(t, PORTAL, "fallback", rid, trigger=trigger)


def end(t: int = END, completed: bool = True) -> Event:
    return ev(t, HARNESS, "end", None, completed=completed, steps=1)


def aborted(t: int, reason: str) -> Event:
    return ev(t, HARNESS, "aborted", None, reason=reason)


def reconcile_failed(t: int = END, detail: str | None = "OSError: disk gone") -> Event:
    data = {"detail": detail} if detail is not None else {}
    return ev(t, HARNESS, "reconcile_failed", None, **data)


def record(rid: str = RID, digest: str = GOOD, t: int = END) -> Event:
    files = ["bekymringsmelding.json", "bekymringsmelding.pdf"]
    return ev(t, HARNESS, "record", rid, digest=digest, files=files)


# -- builders: short stretches of a timeline ---------------------------------


def submitted(t: int = 0, rid: str = RID, digest: str = GOOD) -> list[Event]:
    """The portal accepts a report and sends it to the case system."""
    return [
        accept(t, rid, digest=digest),
        state(t, "AKSEPTERT", rid),
        send(t, rid),
        state(t, "SENDT_FAGSYSTEM", rid),
    ]


def stored_and_received(t: int = HOP, rid: str = RID) -> list[Event]:
    """Delivered, committed, `mottatt` sent (durable), acked, and received by the portal."""
    return [
        deliver(t, rid),
        handle(t, rid),
        commit(t, rid),
        reply(t, MOTTATT, rid, durable=True),
        ack(t, rid),
        receipt(t + HOP, MOTTATT, rid),
        state(t + HOP, "LEVERT", rid, via="fagsystem"),
    ]


def printed(t: int, trigger: str, rid: str = RID) -> list[Event]:
    """The portal hands the report to print and the print is delivered."""
    return [
        fallback(t, trigger, rid),
        state(t, "SENDT_PRINT", rid),
        state(t + PRINT_DELAY, "LEVERT", rid, via="print"),
    ]


def happy(rid: str = RID) -> list[Event]:
    """A report stored once, intact, acknowledged with `mottatt`."""
    return [*submitted(rid=rid), *stored_and_received(rid=rid), end(), record(rid)]


def outcome(result: CheckResult, rid: str = RID) -> Outcome:
    return result.outcomes[rid]


# -- the baseline ------------------------------------------------------------


def test_happy_path_is_stored_and_breaks_nothing() -> None:
    result = check(happy())
    assert outcome(result) is Outcome.STORED
    assert result.failed == set()
    assert result.violations == []
    assert result.warnings == []


def test_empty_history_has_no_outcomes_violations_or_exercised_clauses() -> None:
    result = check([end()])
    assert result.outcomes == {}
    assert result.failed == set()
    assert result.exercised == set()


def test_check_accepts_any_iterable_of_events() -> None:
    events = [*submitted(), *stored_and_received(), end()]  # no record: LOST
    assert check(iter(events)).failed == check(events).failed == {"SOR-1"}


# -- SOR-1 no silent loss ----------------------------------------------------


def test_sor1_fails_when_mottatt_was_received_but_no_record_exists() -> None:
    events = [*submitted(), *stored_and_received(), end()]
    result = check(events)
    assert outcome(result) is Outcome.LOST
    assert result.failed == {"SOR-1"}
    (violation,) = result.violations
    assert violation.key == RID
    assert violation.t == 2 * HOP  # when the portal believed it delivered
    assert events[violation.event or 0] == state(2 * HOP, "LEVERT", via="fagsystem")


def test_sor1_passes_when_the_same_report_has_its_record() -> None:
    result = check([*submitted(), *stored_and_received(), end(), record()])
    assert outcome(result) is Outcome.STORED
    assert "SOR-1" not in result.failed


@pytest.mark.parametrize("trigger", [FEILET, SERVERFEIL, TIDSAVBRUDD])
def test_sor1_passes_for_a_fallback_learned_through_the_protocol(trigger: str) -> None:
    events = [
        *submitted(),
        deliver(HOP),
        receipt(2 * HOP, trigger),
        state(2 * HOP, "AVVIST_FAGSYSTEM"),
        *printed(2 * HOP, trigger),
        end(),
    ]
    result = check(events)
    assert outcome(result) is Outcome.FALLBACK
    assert result.failed == set()


def test_sor1_one_lost_report_does_not_taint_another() -> None:
    events = [
        *submitted(rid=RID),
        *submitted(rid=OTHER),
        *stored_and_received(rid=RID),
        *stored_and_received(rid=OTHER),
        end(),
        record(OTHER),
    ]
    result = check(events)
    assert outcome(result, RID) is Outcome.LOST
    assert outcome(result, OTHER) is Outcome.STORED
    assert [v.key for v in result.violations] == [RID]


def test_sor1_fails_when_the_records_could_not_be_read() -> None:
    # Every report fell back (legal), but nobody could look inside the case system.
    events = [
        *submitted(),
        deliver(HOP),
        receipt(2 * HOP, FEILET),
        *printed(2 * HOP, FEILET),
        end(),
        reconcile_failed(detail="OSError: disk gone"),
    ]
    result = check(events)
    assert outcome(result) is Outcome.FALLBACK
    assert result.failed == {"SOR-1"}
    (violation,) = result.violations
    assert violation.report == "all reports"
    assert "disk gone" in violation.message


def test_sor1_passes_without_reconcile_failed() -> None:
    events = [*submitted(), deliver(HOP), receipt(2 * HOP, FEILET), *printed(2 * HOP, FEILET)]
    assert check([*events, end()]).failed == set()


def test_sor1_fails_when_the_records_could_not_be_read_even_without_detail() -> None:
    events = [
        *submitted(),
        deliver(HOP),
        receipt(2 * HOP, FEILET),
        *printed(2 * HOP, FEILET),
        end(),
        reconcile_failed(detail=None),
    ]
    assert "SOR-1" in check(events).failed


# -- SOR-2 a receipt means durable --------------------------------------------


def _with_mottatt(durable: bool) -> list[Event]:
    return [
        *submitted(),
        deliver(HOP),
        handle(HOP),
        reply(HOP, MOTTATT, durable=durable),  # replied before (or after) the commit
        commit(HOP),
        ack(HOP),
        receipt(2 * HOP, MOTTATT),
        state(2 * HOP, "LEVERT", via="fagsystem"),
        end(),
        record(),
    ]


def test_sor2_fails_when_mottatt_was_sent_without_a_durable_record() -> None:
    events = _with_mottatt(durable=False)
    result = check(events)
    assert outcome(result) is Outcome.STORED  # it got lucky: the commit came through
    assert result.failed == {"SOR-2"}
    (violation,) = result.violations
    assert violation.t == HOP
    assert events[violation.event or 0] == reply(HOP, MOTTATT, durable=False)


def test_sor2_passes_when_mottatt_was_durable() -> None:
    result = check(_with_mottatt(durable=True))
    assert result.failed == set()
    assert "SOR-2" in result.exercised


def test_sor2_reports_every_non_durable_mottatt() -> None:
    events = [
        *submitted(),
        deliver(HOP),
        reply(HOP, MOTTATT, durable=False),
        deliver(2 * HOP, delivery=2),
        reply(2 * HOP, MOTTATT, durable=False),
        receipt(3 * HOP, MOTTATT),
        state(3 * HOP, "LEVERT", via="fagsystem"),
        end(),
        record(),
    ]
    violations = [v for v in check(events).violations if v.clause == "SOR-2"]
    assert [v.t for v in violations] == [HOP, 2 * HOP]


def test_sor2_ignores_a_feilet_reply() -> None:
    events = [
        *submitted(),
        deliver(HOP),
        reply(HOP, FEILET),
        receipt(2 * HOP, FEILET),
        *printed(2 * HOP, FEILET),
        end(),
    ]
    result = check(events)
    assert "SOR-2" not in result.failed
    assert "SOR-2" not in result.exercised


# -- SOR-3 at most once ------------------------------------------------------


def _sent_twice() -> list[Event]:
    return [
        *submitted(),
        deliver(HOP),
        handle(HOP),
        commit(HOP),
        reply(HOP, MOTTATT, durable=True),
        ack(HOP),  # ... and the ack got lost: the transport delivers again
        deliver(HOP + 30 * MINUTE, delivery=2),
        handle(HOP + 30 * MINUTE),
        receipt(2 * HOP, MOTTATT),
        state(2 * HOP, "LEVERT", via="fagsystem"),
        end(),
    ]


def test_sor3_fails_for_two_records_of_one_report() -> None:
    result = check([*_sent_twice(), record(), record()])
    assert outcome(result) is Outcome.DUPLICATED
    assert result.failed == {"SOR-3"}
    assert "2 records" in result.violations[0].message


def test_sor3_passes_when_the_redelivery_was_deduplicated() -> None:
    result = check([*_sent_twice(), record()])
    assert outcome(result) is Outcome.STORED
    assert result.failed == set()
    assert "SOR-3" in result.exercised


def test_sor3_one_record_each_for_two_reports_is_fine() -> None:
    events = [
        *submitted(rid=RID),
        *submitted(rid=OTHER),
        *stored_and_received(rid=RID),
        *stored_and_received(rid=OTHER),
        end(),
        record(RID),
        record(OTHER),
    ]
    result = check(events)
    assert result.counts[Outcome.STORED] == 2
    assert result.failed == set()


# -- SOR-4 intact --------------------------------------------------------------


def test_sor4_fails_when_the_stored_content_differs() -> None:
    result = check([*submitted(digest=GOOD), *stored_and_received(), end(), record(digest=BAD)])
    assert outcome(result) is Outcome.CORRUPTED
    assert result.failed == {"SOR-4"}


def test_sor4_fails_for_a_partial_record() -> None:
    partial = ev(END, HARNESS, "record", RID, digest=BAD, files=["bekymringsmelding.json"])
    result = check([*submitted(), *stored_and_received(), end(), partial])
    assert outcome(result) is Outcome.CORRUPTED
    assert "SOR-4" in result.failed
    assert "SOR-1" not in result.failed  # corrupted, not lost: one clause, not two


def test_sor4_passes_when_the_digest_matches() -> None:
    result = check([*submitted(digest=GOOD), *stored_and_received(), end(), record(digest=GOOD)])
    assert result.failed == set()
    assert "SOR-4" in result.exercised


def test_sor4_fails_for_a_corrupt_record_next_to_a_good_one() -> None:
    result = check([*_sent_twice(), record(digest=GOOD), record(digest=BAD)])
    assert "SOR-3" in result.failed
    assert "SOR-4" in result.failed


# -- SOR-5 failure is reported -------------------------------------------------


def _acked_without_storing(*case_system_says: Event) -> list[Event]:
    """Storage fails, the case system acks anyway; the portal waits for its deadline."""
    return [
        *submitted(),
        deliver(HOP),
        handle(HOP),
        storage_fault(HOP),
        *case_system_says,
        ack(HOP) if case_system_says else ack(HOP, answered=False, durable=False),
        ev(DEADLINE, PORTAL, "deadline", RID),
        *printed(DEADLINE, "deadline"),
        end(),
    ]


def test_sor5_fails_when_the_portal_learned_only_from_its_own_deadline() -> None:
    result = check(_acked_without_storing())
    assert outcome(result) is Outcome.FALLBACK  # not lost: the slow net caught it
    assert result.failed == {"SOR-5"}
    assert "SOR-5" in result.exercised
    (violation,) = result.violations
    assert violation.t == HOP  # the moment it acked without a word


def test_sor5_fails_even_when_a_resend_later_rescues_the_report() -> None:
    events = [
        *submitted(),
        deliver(HOP),
        handle(HOP),
        ack(HOP, answered=False, durable=False),
        send(6 * HOUR, attempt=2),
        *stored_and_received(6 * HOUR),
        end(),
        record(),
    ]
    result = check(events)
    assert outcome(result) is Outcome.STORED
    assert result.failed == {"SOR-5"}


def test_sor5_passes_for_a_silent_ack_of_a_report_already_stored() -> None:
    events = [
        *submitted(),
        *stored_and_received(),
        deliver(2 * HOUR, delivery=2),
        handle(2 * HOUR),
        ack(2 * HOUR, answered=False, durable=True),
        end(),
        record(),
    ]
    result = check(events)
    assert result.failed == set()


def test_sor5_passes_when_the_case_system_replied_feilet_even_if_it_was_lost() -> None:
    result = check(_acked_without_storing(reply(HOP, FEILET)))
    assert outcome(result) is Outcome.FALLBACK
    assert result.failed == set()
    assert "SOR-5" in result.exercised


def test_sor5_passes_when_the_portal_received_feilet() -> None:
    events = [
        *submitted(),
        deliver(HOP),
        handle(HOP),
        storage_fault(HOP),
        reply(HOP, FEILET),
        ack(HOP),
        receipt(2 * HOP, FEILET),
        state(2 * HOP, "AVVIST_FAGSYSTEM"),
        *printed(2 * HOP, FEILET),
        end(),
    ]
    result = check(events)
    assert outcome(result) is Outcome.FALLBACK
    assert result.failed == set()


def test_sor5_not_exercised_without_storage_trouble() -> None:
    assert "SOR-5" not in check(happy()).exercised


def test_sor5_exercised_by_a_crash() -> None:
    events = [
        *submitted(),
        deliver(HOP),
        crash(HOP, "fault"),
        deliver(HOP + 5000, delivery=2),
        *stored_and_received(HOP + 5000)[1:],
        end(),
        record(),
    ]
    result = check(events)
    assert result.failed == set()
    assert "SOR-5" in result.exercised


# -- SOR-6 rejection is explicit -------------------------------------------------


def test_sor6_rejected_with_a_reason_is_legal() -> None:
    result = check([reject(0, 0, "unknown message type 'x'"), end()])
    assert result.outcomes == {"submission-0": Outcome.REJECTED}
    assert result.failed == set()
    assert "SOR-6" in result.exercised
    assert not {"SOR-1", "SOR-7"} & result.exercised  # nothing was accepted


@pytest.mark.parametrize("reason", ["", None], ids=["empty", "missing"])
def test_sor6_fails_for_a_rejection_without_a_reason(reason: str | None) -> None:
    result = check([reject(0, 0, reason), end()])
    assert result.outcomes == {"submission-0": Outcome.REJECTED}
    assert result.failed == {"SOR-6"}
    assert "without a reason" in result.violations[0].message


def _malformed(*first_delivery: Event) -> list[Event]:
    """Every delivery is malformed; the second is refused with `feilet` and the report
    falls back. `first_delivery` is what the case system did with the first one."""
    later = HOP + 5000
    return [
        *submitted(),
        deliver(HOP, malformed=True),
        handle(HOP),
        *first_delivery,
        deliver(later, delivery=2, malformed=True),
        handle(later),
        reply(later, FEILET),
        ack(later),
        receipt(later + HOP, FEILET),
        state(later + HOP, "AVVIST_FAGSYSTEM"),
        *printed(later + HOP, FEILET),
        end(),
    ]


@pytest.mark.parametrize("cause", ["raised", "hung"])
def test_sor6_fails_when_a_malformed_delivery_crashed_the_case_system(cause: str) -> None:
    result = check(_malformed(crash(HOP, cause)))
    assert outcome(result) is Outcome.FALLBACK
    assert result.failed == {"SOR-6"}
    assert "crashed the case system" in result.violations[0].message


def _refused_with(*reply_events: Event) -> list[Event]:
    """A store fails; the case system replies `feilet` and the report goes to print."""
    return [
        *submitted(),
        deliver(HOP),
        handle(HOP),
        storage_fault(HOP),
        reply(HOP, FEILET),
        *reply_events,
        ack(HOP),
        receipt(2 * HOP, FEILET),
        state(2 * HOP, "AVVIST_FAGSYSTEM"),
        *printed(2 * HOP, FEILET),
        end(),
    ]


def test_sor6_fails_when_the_portal_cannot_read_the_feilet_it_got() -> None:
    unreadable = ev(
        HOP,
        CASE_SYSTEM,
        "reply_unreadable",
        RID,
        meldingstype=FEILET,
        detail="the package is not signed",
    )
    result = check(_refused_with(unreadable))
    assert outcome(result) is Outcome.FALLBACK  # the portal still printed it
    assert result.failed == {"SOR-6"}
    assert "could not read" in result.violations[0].message
    assert "not signed" in result.violations[0].message


def test_sor6_passes_for_the_same_feilet_when_it_could_be_read() -> None:
    result = check(_refused_with())
    assert outcome(result) is Outcome.FALLBACK
    assert result.failed == set()


def test_sor6_passes_when_a_malformed_delivery_was_refused_cleanly() -> None:
    result = check(_malformed(reply(HOP, FEILET), ack(HOP)))
    assert outcome(result) is Outcome.FALLBACK
    assert result.failed == set()
    assert "SOR-6" in result.exercised


def test_sor6_passes_when_an_injected_crash_struck_a_malformed_delivery() -> None:
    # cause=fault is the harness's own crash, not the component choking on the input.
    result = check(_malformed(crash(HOP, "fault")))
    assert result.failed == set()


def test_sor6_passes_when_only_the_intact_delivery_was_stored() -> None:
    # The transport hands over a garbled copy, which is refused; the intact one is stored.
    later = HOP + 5000
    events = [
        *submitted(),
        deliver(HOP, malformed=True),
        handle(HOP),
        reply(HOP, FEILET),
        ack(HOP),
        deliver(later, delivery=2),
        *stored_and_received(later)[1:],
        end(),
        record(digest=GOOD),
    ]
    result = check(events)
    assert outcome(result) is Outcome.STORED
    assert "SOR-6" not in result.failed


def test_sor6_a_crash_on_a_later_intact_delivery_is_not_blamed_on_the_malformed_one() -> None:
    later = HOP + 5000
    events = [
        *submitted(),
        deliver(HOP, malformed=True),
        handle(HOP),
        reply(HOP, FEILET),
        ack(HOP),
        deliver(later, delivery=2),
        handle(later),
        crash(later, "raised"),
        deliver(2 * later, delivery=3),
        *stored_and_received(2 * later)[1:],
        end(),
        record(),
    ]
    result = check(events)
    assert outcome(result) is Outcome.STORED
    assert "SOR-6" not in result.failed


def _malformed_taken(*case_system_says: Event) -> list[Event]:
    """One malformed delivery, settled by the case system; the portal waits for its deadline."""
    return [
        *submitted(),
        deliver(HOP, malformed=True),
        handle(HOP),
        *case_system_says,
        ack(HOP),
        ev(DEADLINE, PORTAL, "deadline", RID),
        *printed(DEADLINE, "deadline"),
        end(),
    ]


def test_sor6_fails_when_a_malformed_delivery_was_dropped_without_feilet() -> None:
    result = check(_malformed_taken())
    assert outcome(result) is Outcome.FALLBACK
    assert "SOR-6" in result.failed
    assert "without a `feilet`" in next(v.message for v in result.violations if v.clause == "SOR-6")


def test_sor6_passes_when_a_malformed_delivery_was_answered_with_feilet() -> None:
    result = check(_malformed_taken(reply(HOP, FEILET)))
    assert outcome(result) is Outcome.FALLBACK
    assert result.failed == set()


def test_sor6_fails_when_a_malformed_delivery_was_stored() -> None:
    events = [
        *submitted(),
        ev(HOP, TRANSPORT, "fault", RID, fault="transport.deliver.corrupt", damaged_digest=BAD),
        deliver(HOP, malformed=True),
        handle(HOP),
        commit(HOP),
        reply(HOP, MOTTATT, durable=True),
        ack(HOP),
        receipt(2 * HOP, MOTTATT),
        state(2 * HOP, "LEVERT", via="fagsystem"),
        end(),
        record(digest=BAD),
    ]
    result = check(events)
    assert "SOR-6" in result.failed
    assert "was stored" in next(v.message for v in result.violations if v.clause == "SOR-6")


def test_sor6_crash_without_malformed_input_is_not_a_rejection_problem() -> None:
    events = [
        *submitted(),
        deliver(HOP),
        crash(HOP, "raised"),
        deliver(HOP + 5000, delivery=2),
        *stored_and_received(HOP + 5000)[1:],
        end(),
        record(),
    ]
    result = check(events)
    assert "SOR-6" not in result.failed
    assert "SOR-6" not in result.exercised


def test_sor6_fails_when_a_refused_submission_was_stored() -> None:
    result = check([reject(0, 0, "missing fnr"), end(), record("submission-0")])
    assert result.failed & {"SOR-6", "SOR-8"}


# -- SOR-7 bounded resolution --------------------------------------------------


def test_sor7_fails_when_a_report_is_not_terminal_at_the_end() -> None:
    events = [*submitted(), deliver(HOP), handle(HOP), end(HOUR, completed=False)]
    result = check(events)
    assert outcome(result) is Outcome.UNRESOLVED
    assert "SOR-7" in result.failed
    (violation,) = [v for v in result.violations if v.clause == "SOR-7"]
    assert violation.t == HOUR
    assert events[violation.event or 0] == end(HOUR, completed=False)


def test_sor7_names_the_reason_the_run_was_aborted() -> None:
    events = [
        *submitted(),
        deliver(HOP),
        handle(HOP),
        aborted(HOP, "AdapterHung: handle() did not return"),
        end(HOP, completed=False),
    ]
    result = check(events)
    (violation,) = [v for v in result.violations if v.clause == "SOR-7"]
    assert "AdapterHung" in violation.message


def test_sor7_sent_print_is_not_terminal() -> None:
    events = [*submitted(), fallback(DEADLINE, "deadline"), state(DEADLINE, "SENDT_PRINT")]
    result = check([*events, end(DEADLINE, completed=False)])
    assert outcome(result) is Outcome.UNRESOLVED
    assert "SOR-7" in result.failed


def test_sor7_passes_when_the_same_report_did_resolve() -> None:
    events = [*submitted(), *stored_and_received(), end(HOUR, completed=False), record()]
    result = check(events)
    assert result.failed == set()
    assert "SOR-7" in result.exercised


def test_sor7_fails_when_resolution_took_longer_than_the_bound() -> None:
    accepted, resolved = 10 * MINUTE, 13 * MINUTE
    events = [*submitted(accepted), *stored_and_received(resolved - HOP), end(), record()]
    result = check(events, resolution_bound=2 * MINUTE)
    assert outcome(result) is Outcome.STORED
    assert result.failed == {"SOR-7"}
    (violation,) = result.violations
    assert violation.t == resolved
    assert "0+00:03:00.000" in violation.message  # took 3 minutes, not 13


def test_sor7_passes_at_exactly_the_bound() -> None:
    events = [*submitted(0), *stored_and_received(2 * MINUTE - HOP), end(), record()]
    assert check(events, resolution_bound=2 * MINUTE).failed == set()
    assert check(events, resolution_bound=2 * MINUTE - 1).failed == {"SOR-7"}


def test_sor7_default_bound_admits_the_portals_own_deadline_and_print() -> None:
    events = [*submitted(), deliver(HOP), *printed(DEADLINE, "deadline"), end()]
    result = check(events)
    assert outcome(result) is Outcome.FALLBACK
    assert "SOR-7" not in result.failed
    assert default_resolution_bound() >= DEADLINE + PRINT_DELAY
    assert check(events, resolution_bound=DEADLINE).failed == {"SOR-7"}


def test_sor7_fails_for_a_non_terminal_report_even_when_its_record_is_wrong() -> None:
    events = [*submitted(), deliver(HOP), handle(HOP), commit(HOP)]
    result = check([*events, end(HOUR, completed=False), record(digest=BAD)])
    assert "SOR-4" in result.failed
    assert "SOR-7" in result.failed


# -- SOR-8 no phantoms ------------------------------------------------------------


def test_sor8_fails_for_a_record_nobody_accepted() -> None:
    result = check([*happy(), record("never-accepted")])
    assert result.outcomes == {RID: Outcome.STORED, "never-accepted": Outcome.PHANTOM}
    assert result.failed == {"SOR-8"}
    assert result.violations[0].key == "never-accepted"


def test_sor8_passes_when_every_record_was_accepted() -> None:
    result = check(happy())
    assert "SOR-8" not in result.failed
    assert "SOR-8" in result.exercised


def test_sor8_needs_a_record_to_fail() -> None:
    # The case system saw a message whose bekymringsmelding-id the portal never issued
    # (say a garbled header) and refused it; nothing was stored.
    events = [
        *happy()[:-2],
        deliver(HOP, rid="garbled-id"),
        handle(HOP, rid="garbled-id"),
        reply(HOP, FEILET, rid="garbled-id"),
        ack(HOP, rid="garbled-id"),
        end(),
        record(),
    ]
    assert "SOR-8" not in check(events).failed


# -- W-1 delivered twice ---------------------------------------------------------


def _stored_and_printed() -> list[Event]:
    """Stored, but the `mottatt` was lost, so the portal printed it at its deadline."""
    return [
        *submitted(),
        deliver(HOP),
        handle(HOP),
        commit(HOP),
        reply(HOP, MOTTATT, durable=True),
        ack(HOP),
        ev(DEADLINE, PORTAL, "deadline", RID),
        *printed(DEADLINE, "deadline"),
        end(),
        record(),
    ]


def test_w1_stored_and_printed_is_a_warning_not_a_failure() -> None:
    result = check(_stored_and_printed())
    assert outcome(result) is Outcome.STORED
    assert result.failed == set()
    assert [w.clause for w in result.warnings] == ["W-1"]
    assert result.warnings[0].key == RID
    assert "W-1" in WARNING_IDS
    assert "W-1" not in CLAUSE_IDS


def test_w1_not_raised_for_a_plain_fallback_or_a_plain_store() -> None:
    printed_only = [e for e in _stored_and_printed() if e.kind != "record"]
    assert outcome(check(printed_only)) is Outcome.FALLBACK
    assert check(printed_only).warnings == []
    assert check(happy()).warnings == []


# -- exercised and counts ------------------------------------------------------------


def test_exercised_follows_what_the_history_offers() -> None:
    assert check([*submitted(), end()]).exercised == {"SOR-1", "SOR-7"}
    assert check(happy()).exercised == {"SOR-1", "SOR-2", "SOR-4", "SOR-7", "SOR-8"}
    assert check([*_sent_twice(), record()]).exercised >= {"SOR-3"}
    assert check(_acked_without_storing()).exercised >= {"SOR-5"}
    assert check([reject(0, 0, "bad"), end()]).exercised == {"SOR-6"}


def test_exercised_resend_counts_for_at_most_once() -> None:
    events = [*submitted(), send(6 * HOUR, attempt=2), *stored_and_received(6 * HOUR), end()]
    assert "SOR-3" in check([*events, record()]).exercised


FAILING: dict[str, list[Event]] = {
    "SOR-1": [*submitted(), *stored_and_received(), end()],
    "SOR-2": _with_mottatt(durable=False),
    "SOR-3": [*_sent_twice(), record(), record()],
    "SOR-4": [*submitted(), *stored_and_received(), end(), record(digest=BAD)],
    "SOR-5": _acked_without_storing(),
    "SOR-6": [reject(0, 0, ""), end()],
    "SOR-7": [*submitted(), end(HOUR, completed=False)],
    "SOR-8": [*happy(), record("never-accepted")],
}


@pytest.mark.parametrize("clause", CLAUSE_IDS)
def test_every_clause_can_fail_and_a_failed_clause_was_exercised(clause: str) -> None:
    result = check(FAILING[clause])
    assert clause in result.failed
    assert result.failed <= result.exercised


def test_sor3_failure_from_a_single_delivery_is_exercised() -> None:
    events = [*submitted(), *stored_and_received(), end(), record(), record()]
    result = check(events)
    assert "SOR-3" in result.failed
    assert result.failed <= result.exercised


def test_sor5_failure_without_storage_trouble_is_exercised() -> None:
    events = [e for e in _acked_without_storing() if e.component != STORAGE]
    result = check(events)
    assert "SOR-5" in result.failed
    assert result.failed <= result.exercised


def test_counts_name_every_outcome() -> None:
    assert check([]).counts == {o.value: 0 for o in Outcome}


def test_counts_tally_outcomes() -> None:
    events = [
        *submitted(rid=RID),
        *stored_and_received(rid=RID),
        *submitted(rid=OTHER),
        *stored_and_received(rid=OTHER),
        reject(0, 7, "unknown message type 'x'"),
        end(),
        record(RID),
        record("never-accepted"),
    ]
    counts = check(events).counts
    assert set(counts) == {o.value for o in Outcome}
    assert counts == {
        **{o.value: 0 for o in Outcome},
        "STORED": 1,
        "LOST": 1,
        "REJECTED": 1,
        "PHANTOM": 1,
    }
    assert sum(counts.values()) == 4


def test_violations_are_sorted_by_time() -> None:
    late, early = [*submitted(rid=RID)], [*submitted(rid=OTHER)]
    events = [
        *late,
        *early,
        *stored_and_received(HOUR, rid=RID),
        *stored_and_received(HOP, rid=OTHER),
        end(),
    ]
    result = check(events)
    assert [v.key for v in result.violations] == [OTHER, RID]
    assert [v.t for v in result.violations] == sorted(v.t for v in result.violations)
