"""The fault catalogue and hostile data: every point does what it says, data stays valid."""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from datetime import timedelta
from pathlib import Path

import pytest

from harness import (
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    SERVERFEIL,
    TIDSAVBRUDD,
    CaseSystemEnv,
    Fault,
    IncomingMessage,
    Plan,
    ReplyChannel,
    ReportSpec,
    check,
    simulate,
)
from harness.components.case_system import ReferenceCaseSystem, make_case_system
from harness.components.protocols import EPOCH
from harness.contracts import validate_bytes
from harness.core.faults import CATALOGUE
from harness.core.hostile import DATA_PROFILES
from harness.core.workload import MAX_PACKAGE_BYTES, make_submission
from harness.sim.documents import DOKUMENTLAGER
from harness.suite.run import SuiteConfig, run_suite
from harness.suite.search import search_family
from harness.target import load_target

REPO = Path(__file__).resolve().parent.parent


def run(*faults: Fault, reports: int = 1, factory=make_case_system):  # type: ignore[no-untyped-def]
    plan = Plan(0, tuple(ReportSpec(i * 1000) for i in range(reports)), faults)
    result = simulate(plan, factory)
    return result, check(result.history)


def kinds(result, component: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.kind for e in result.history if e.component == component]


def test_the_catalogue_has_at_least_15_points_and_a_default_run_hits_them() -> None:
    assert len(CATALOGUE) >= 15
    suite = run_suite(SuiteConfig())
    fired = {p for p, n in suite.total("fired").items() if n}
    assert len(fired) >= 15, sorted(set(p.name for p in CATALOGUE) - fired)
    assert suite.failed == []


@pytest.mark.parametrize("point", [p.name for p in CATALOGUE])
def test_every_point_fires_and_the_reference_survives_it(point: str) -> None:
    if point.startswith("http."):
        # Reached only by adapters that call the simulated HTTP APIs: the correct HTTP
        # example stands in for the reference, with reports sent through the document store.
        factory = load_target(f"{REPO / 'examples' / 'http_case_system.py'}:make_case_system")
        specs = (ReportSpec(0, data=DOKUMENTLAGER), ReportSpec(1000, data=DOKUMENTLAGER))
        result = simulate(Plan(0, specs, (Fault(point),)), factory.factory)
        verdict = check(result.history)
    else:
        result, verdict = run(Fault(point), reports=2)
    assert result.fired.get(point) == 1, f"{point} was reached {result.reached.get(point)} times"
    assert verdict.failed == set()


def test_delay_holds_the_first_delivery_for_two_hours() -> None:
    result, _ = run(Fault("transport.deliver.delay"))
    deliver = next(e for e in result.history if e.kind == "deliver")
    assert deliver.t == 2 * 3_600_000 + 50


def test_reorder_lets_the_next_message_overtake() -> None:
    result, _ = run(Fault("transport.deliver.reorder"), reports=2)
    order = [e.report for e in result.history if e.kind == "deliver"]
    accepted = [e.report for e in result.history if e.kind == "accept"]
    assert order == list(reversed(accepted))


def test_expiry_reaches_the_portal_as_tidsavbrudd_after_its_resend_was_stored() -> None:
    result, verdict = run(Fault("transport.message.expire"))
    receipts = [(e.t, e.data["meldingstype"]) for e in result.history if e.kind == "receipt"]
    # The portal resent after 6 h of silence; the held message expired at 24 h.
    assert [r for _, r in receipts] == [MOTTATT, TIDSAVBRUDD]
    assert receipts[1][0] >= 24 * 3_600_000
    assert verdict.counts["STORED"] == 1 and verdict.failed == set()


def test_dead_letter_reaches_the_portal_as_serverfeil() -> None:
    result, verdict = run(Fault("transport.message.dead_letter"))
    receipts = [e.data["meldingstype"] for e in result.history if e.kind == "receipt"]
    assert receipts == [SERVERFEIL]
    assert verdict.counts["FALLBACK"] == 1 and verdict.failed == set()


def test_a_commit_applied_but_reported_failed_is_stored_and_printed() -> None:
    _, verdict = run(Fault("storage.commit.lost_ack"))
    assert verdict.counts["STORED"] == 1
    assert [w.clause for w in verdict.warnings] == ["W-1"]


def test_a_lost_connection_takes_the_open_transaction_with_it() -> None:
    rows_after: list[int] = []

    class TwoWrites(ReferenceCaseSystem):
        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            db = self._db  # the reference's own connection
            db.execute("CREATE TABLE IF NOT EXISTS log (x TEXT)")
            db.execute("INSERT INTO log VALUES ('first')")
            try:
                db.execute("INSERT INTO log VALUES ('second')")
            except sqlite3.Error:
                db.commit()  # commits whatever the transaction still holds
            rows_after.append(db.execute("SELECT COUNT(*) FROM log").fetchone()[0])
            super().handle(message, channel)

    result, _ = run(Fault("storage.connection.lost", nth=1), factory=TwoWrites)
    assert result.fired["storage.connection.lost"] == 1
    assert rows_after[0] == 0  # 'first' went down with the connection


def test_crash_between_writes_leaves_nothing_of_an_uncommitted_transaction() -> None:
    result, verdict = run(Fault("case_system.crash.between_writes"))
    crash = next(e for e in result.history if e.kind == "crash")
    assert crash.data["detail"] == "case_system.crash.between_writes"
    assert verdict.failed == set() and verdict.counts["STORED"] == 1


def test_clock_skew_shifts_the_case_systems_clock() -> None:
    seen: list[timedelta] = []

    def factory(env: CaseSystemEnv) -> ReferenceCaseSystem:
        seen.append(env.clock() - EPOCH)
        return ReferenceCaseSystem(env)

    run(Fault("case_system.clock.skew"), factory=factory)
    assert seen[0] == timedelta(milliseconds=50) - timedelta(hours=2)


def test_a_fault_with_a_count_fires_that_many_times() -> None:
    result, _ = run(Fault("transport.deliver.duplicate", nth=0, count=2), reports=3)
    assert result.fired["transport.deliver.duplicate"] == 2
    assert result.reached["transport.deliver.duplicate"] == 3


# -- hostile data ------------------------------------------------------------------
def body_of(profile: str, index: int = 0, form: str = "privat") -> tuple[dict[str, object], bytes]:
    sub = make_submission(index, ReportSpec(0, form, 2, data=profile), seed=1)
    return json.loads(sub.files[REPORT_JSON]), sub.files[REPORT_JSON]


@pytest.mark.parametrize("profile", DATA_PROFILES)
@pytest.mark.parametrize("form", ["privat", "offentlig"])
def test_every_profile_is_valid_and_the_reference_stores_it(profile: str, form: str) -> None:
    sub = make_submission(0, ReportSpec(0, form, 2, data=profile), seed=1)
    assert validate_bytes(sub.meldingstype, sub.files[REPORT_JSON]) == ()
    plan = Plan(1, (ReportSpec(0, form, 2, data=profile),))
    verdict = check(simulate(plan, make_case_system).history)
    assert verdict.failed == set() and verdict.counts["STORED"] == 1


def test_arstad_both_ways() -> None:
    nfc, raw_nfc = body_of("nfc")
    nfd, raw_nfd = body_of("nfd")
    assert nfc["bydelsnavn"] == "Årstad" == unicodedata.normalize("NFC", str(nfd["bydelsnavn"]))
    assert nfd["bydelsnavn"] != nfc["bydelsnavn"]
    assert "A\u030a".encode() in raw_nfd and "Å".encode() in raw_nfc


def test_astral_characters_are_four_bytes_in_utf8() -> None:
    _, raw = body_of("astral")
    assert any(len(ch.encode()) == 4 for ch in raw.decode())


def test_identical_reports_are_byte_identical_and_others_are_not() -> None:
    a = make_submission(0, ReportSpec(0, data="identical"), seed=1)
    b = make_submission(1, ReportSpec(0, data="identical"), seed=1)
    c = make_submission(2, ReportSpec(0), seed=1)
    assert a.files == b.files and a.files != c.files


def test_near_limit_is_just_under_five_megabytes() -> None:
    sub = make_submission(0, ReportSpec(0, data="near_limit"), seed=1)
    size = sum(len(b) for b in sub.files.values())
    assert MAX_PACKAGE_BYTES - 4096 < size < MAX_PACKAGE_BYTES
    assert len(sub.files[REPORT_PDF]) > 5_000_000


def test_dst_unknown_district_and_no_districts() -> None:
    assert body_of("dst_fallback")[0]["sendingstidspunkt"] == "2023-10-29T02:30:00"
    assert body_of("unknown_district")[0]["bydelsnummer"] == "99"
    assert body_of("no_districts")[0]["bydelsnummer"] == "00"


def test_empty_optional_leaves_optional_fields_empty() -> None:
    body, _ = body_of("empty_optional")
    melder = body["privatMelder"]
    assert isinstance(melder, dict) and "telefonnummer" not in melder and "adresse" not in melder


# -- counterexamples a person reads -----------------------------------------------
def test_familia_shrinks_to_one_report_and_one_fault() -> None:
    target = load_target(f"{REPO / 'examples' / 'familia_2023.py'}:make_case_system")
    for seed in range(3):
        cx = search_family("delivery", target.factory, seed=seed, examples=100).counterexample
        assert cx is not None
        assert (len(cx.plan.reports), len(cx.plan.faults)) == (1, 1)


def test_identical_reports_sent_apart_are_still_byte_identical() -> None:
    a = make_submission(0, ReportSpec(0, data="identical"), seed=1)
    b = make_submission(1, ReportSpec(10_000, data="identical"), seed=1)
    assert a.files == b.files


def test_a_scenario_deadline_sets_the_bound_of_sor7() -> None:
    # Both sends dropped: the portal prints after its own (here 72 h) deadline.
    plan = Plan(0, (ReportSpec(0),), (Fault("transport.send.drop", 0, 2),), deadline=72 * 3_600_000)
    run = simulate(plan, make_case_system)
    assert check(run.history, plan.resolution_bound).failed == set()
    assert "SOR-7" in check(run.history).failed  # against the default 48 h bound it is late
