"""Data profiles: long free text, packages without a usable PDF, the night the clocks
go back; each reached by the sweep on every seed, and each bug that needs one caught."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from harness.checker.clauses import check
from harness.components.case_system import ReferenceCaseSystem, make_case_system
from harness.components.protocols import (
    FEILET,
    MOTTATT,
    REPORT_JSON,
    REPORT_PDF,
    CaseSystemEnv,
    IncomingMessage,
    ReplyChannel,
    StoredRecord,
)
from harness.contracts import validate_bytes
from harness.core.hostile import DST_PROFILES, INCOMPLETE, LONG_TEXT
from harness.core.plan import Plan
from harness.core.timing import HOUR, MINUTE
from harness.core.wire import CEST, CET, EPOCH, FALLBACK_NIGHT, local_time, oslo_offset
from harness.core.workload import MAX_PACKAGE_BYTES, ReportSpec, make_submission
from harness.sim.world import simulate
from harness.suite.run import SuiteConfig, run_suite
from harness.suite.search import FAMILIES, search_slice
from harness.suite.strategies import plans

REPO = Path(__file__).resolve().parent.parent


# -- local time ---------------------------------------------------------------------
def test_the_clock_reads_0230_twice_on_the_night_it_goes_back() -> None:
    first, second = local_time(FALLBACK_NIGHT, 0), local_time(FALLBACK_NIGHT, HOUR)
    assert first.isoformat() == second.isoformat() == "2023-10-29T02:30:00"
    assert (first.fold, second.fold) == (0, 1)
    assert local_time(FALLBACK_NIGHT, 29 * MINUTE).isoformat() == "2023-10-29T02:59:00"
    assert local_time(FALLBACK_NIGHT, 30 * MINUTE).isoformat() == "2023-10-29T02:00:00"
    assert local_time(FALLBACK_NIGHT, 2 * HOUR).isoformat() == "2023-10-29T03:30:00"
    assert local_time(FALLBACK_NIGHT, 2 * HOUR).fold == 0


def test_the_clock_skips_an_hour_in_march_and_keeps_june_as_it_was() -> None:
    before = datetime(2024, 3, 31, 1, 59, tzinfo=CET)
    assert local_time(before, MINUTE).isoformat() == "2024-03-31T03:00:00"
    assert local_time(datetime(2023, 6, 1, tzinfo=CEST), 50) == EPOCH + timedelta(milliseconds=50)
    assert oslo_offset(datetime(2023, 10, 29, 0, 59, tzinfo=UTC)) is CEST
    assert oslo_offset(datetime(2023, 10, 29, 1, 0, tzinfo=UTC)) is CET


def test_a_plan_keeps_its_start_through_json_and_older_plans_read_as_before() -> None:
    plan = Plan(0, (ReportSpec(0, data="dst_fallback"),), start=FALLBACK_NIGHT.isoformat())
    raw = plan.to_json()
    assert raw["start"] == "2023-10-29T02:30:00+02:00" and Plan.from_json(raw) == plan
    old = Plan(0, (ReportSpec(0),))
    assert "start" not in old.to_json() and Plan.from_json(old.to_json()).start is None
    with pytest.raises(ValueError, match="offset"):
        Plan(0, (), start="2023-10-29T02:30:00")


# -- what the profiles send ------------------------------------------------------------
def texts(raw: bytes) -> list[str]:
    melding = json.loads(raw)["melding"]
    return [melding["melding"], melding["historie"]] if isinstance(melding, dict) else [melding]


@pytest.mark.parametrize("profile", sorted(LONG_TEXT))
@pytest.mark.parametrize("form", ["privat", "offentlig"])
def test_long_text_fills_every_free_text_field_of_the_form(profile: str, form: str) -> None:
    sub = make_submission(0, ReportSpec(0, form, 2, data=profile), seed=3)
    found = texts(sub.files[REPORT_JSON])
    assert len(found) == (2 if form == "offentlig" else 1)
    for text in found:
        assert len(text) == LONG_TEXT[profile] and len(text.encode()) > LONG_TEXT[profile]
    assert found[0].endswith("[slutt på melding]")
    assert validate_bytes(sub.meldingstype, sub.files[REPORT_JSON]) == ()
    assert sum(len(b) for b in sub.files.values()) < MAX_PACKAGE_BYTES


def test_incomplete_packages_lack_their_pdf_and_stay_valid_json() -> None:
    empty = make_submission(0, ReportSpec(0, data="empty_pdf"), seed=1)
    missing = make_submission(0, ReportSpec(0, data="missing_pdf"), seed=1)
    assert empty.files[REPORT_PDF] == b"" and REPORT_PDF not in missing.files
    for sub in (empty, missing):
        assert validate_bytes(sub.meldingstype, sub.files[REPORT_JSON]) == ()


@pytest.mark.parametrize("profile", INCOMPLETE)
@pytest.mark.parametrize("form", ["privat", "offentlig"])
def test_the_reference_refuses_a_package_without_a_usable_pdf(profile: str, form: str) -> None:
    run = simulate(Plan(1, (ReportSpec(0, form, 2, data=profile),)), make_case_system)
    verdict = check(run.history)
    assert verdict.failed == set() and verdict.counts["FALLBACK"] == 1
    replies = [e.data["meldingstype"] for e in run.history if e.kind == "reply"]
    assert replies == [FEILET]
    assert "SOR-6" in verdict.exercised


class StoresAsSent:
    """Stores every package exactly as it came and confirms it: no PDF check."""

    def __init__(self, env: CaseSystemEnv) -> None:
        self.db = env.storage.connect()
        self.db.execute("CREATE TABLE IF NOT EXISTS r (id TEXT PRIMARY KEY, body BLOB, pdf BLOB)")

    def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
        row = (message.headers["bekymringsmelding-id"], message.files[REPORT_JSON])
        self.db.execute(
            "INSERT OR IGNORE INTO r VALUES (?, ?, ?)", (*row, message.files.get(REPORT_PDF))
        )
        self.db.commit()
        channel.reply(MOTTATT)
        channel.ack()

    def records(self) -> list[StoredRecord]:
        found = []
        for id_, body, pdf in self.db.execute("SELECT id, body, pdf FROM r"):
            files = {REPORT_JSON: body} if pdf is None else {REPORT_JSON: body, REPORT_PDF: pdf}
            found.append(StoredRecord(id_, files))
        return found


@pytest.mark.parametrize("profile", INCOMPLETE)
def test_storing_and_confirming_a_package_without_a_pdf_fails_sor6(profile: str) -> None:
    verdict = check(simulate(Plan(1, (ReportSpec(0, data=profile),)), StoresAsSent).history)
    assert verdict.failed == {"SOR-6"}
    # the same adapter is right about a whole package
    assert check(simulate(Plan(1, (ReportSpec(0),)), StoresAsSent).history).failed == set()


# -- the night the clocks go back ------------------------------------------------------
@dataclass
class Seen:
    """What one delivery looked like from inside the adapter."""

    form: str
    text_lengths: tuple[int, ...]
    pdf: str  # "whole", "empty" or "missing"
    sent: str
    clock: datetime


def observing(seen: list[Seen]) -> Any:
    """A factory for the reference case system that notes every delivery it gets."""

    class Observing(ReferenceCaseSystem):
        def __init__(self, env: CaseSystemEnv) -> None:
            super().__init__(env)
            self.env = env

        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            raw = message.files.get(REPORT_JSON, b"")
            try:
                body = json.loads(raw)
                lengths = tuple(len(t) for t in texts(raw))
            except (ValueError, KeyError, TypeError):
                body, lengths = {}, ()
            pdf = message.files.get(REPORT_PDF)
            seen.append(
                Seen(
                    "offentlig" if "offentlig" in message.meldingstype else "privat",
                    lengths,
                    "missing" if pdf is None else "empty" if not pdf else "whole",
                    str(body.get("sendingstidspunkt", "")),
                    self.env.clock(),
                )
            )
            super().handle(message, channel)

        def records(self) -> list[StoredRecord]:
            return list(super().records())

    return Observing


def test_two_reports_at_0230_an_hour_apart_are_both_stored() -> None:
    seen: list[Seen] = []
    plan = Plan(
        0,
        (ReportSpec(0, data="dst_fallback"), ReportSpec(HOUR, "offentlig", data="dst_repeat")),
        start=FALLBACK_NIGHT.isoformat(),
    )
    verdict = check(simulate(plan, observing(seen)).history)
    assert verdict.failed == set() and verdict.counts["STORED"] == 2
    assert [s.sent for s in seen] == ["2023-10-29T02:30:00"] * 2
    assert [(s.clock.hour, s.clock.minute, s.clock.fold) for s in seen] == [(2, 30, 0), (2, 30, 1)]


def test_a_plan_in_that_night_replays_byte_for_byte_from_its_json() -> None:
    plan = Plan(
        4,
        (ReportSpec(0, data="dst_fallback"), ReportSpec(HOUR, "offentlig")),
        start=FALLBACK_NIGHT.isoformat(),
    )
    first = simulate(plan, make_case_system).history.to_bytes()
    again = simulate(Plan.from_json(json.loads(json.dumps(plan.to_json()))), make_case_system)
    assert again.history.to_bytes() == first
    summer = simulate(replace(plan, start=None), make_case_system).history.to_bytes()
    assert summer != first  # the start is part of what decides a run: the plain one's stamp
    night = make_submission(1, plan.reports[1], 4, plan.clock_start).files[REPORT_JSON]
    day = make_submission(1, plan.reports[1], 4).files[REPORT_JSON]
    stamps = [json.loads(raw)["sendingstidspunkt"] for raw in (night, day)]
    assert stamps == ["2023-10-29T02:30:00", "2023-06-01T01:00:00"]


@settings(max_examples=30, deadline=None, database=None)
@given(plans(max_reports=3, max_faults=0))
def test_a_drawn_plan_with_a_report_of_that_night_starts_its_clock_in_it(plan: Plan) -> None:
    in_the_night = any(r.data in DST_PROFILES for r in plan.reports)
    assert (plan.start == FALLBACK_NIGHT.isoformat()) is in_the_night
    for before, after in zip(plan.reports, plan.reports[1:], strict=False):
        if after.data == "dst_repeat":
            assert after.at - before.at >= HOUR


# -- every profile reached by the sweep, on every seed -----------------------------------
def reached(seen: list[Seen]) -> set[str]:
    found = set()
    for s in seen:
        for profile, size in LONG_TEXT.items():
            if s.text_lengths and all(n == size for n in s.text_lengths):
                found.add(f"{profile}/{s.form}")
        if s.pdf != "whole":
            found.add(f"{s.pdf}_pdf")
    night = [s for s in seen if s.sent == "2023-10-29T02:30:00"]
    clocks = {(s.clock.hour, s.clock.fold) for s in night}
    if {(2, 0), (2, 1)} <= clocks:
        found.add("0230 twice")
    return found


EVERY = {
    *(f"{p}/{form}" for p in LONG_TEXT for form in ("privat", "offentlig")),
    *INCOMPLETE,
    "0230 twice",
}


@pytest.mark.parametrize("seed", range(5))
def test_the_sweep_reaches_every_new_profile_in_every_family(seed: int) -> None:
    for family in FAMILIES:
        seen: list[Seen] = []
        part = search_slice(family, 0, observing(seen), seed=seed, examples=1)
        assert part.counterexample is None
        # The rejection family damages the JSON of every plan on purpose (AIMED_AT), so
        # there only the PDF shows what was sent; the other families see it whole.
        want = set(INCOMPLETE) if family == "rejection" else EVERY
        assert reached(seen) >= want, family


# -- the bugs that need them ------------------------------------------------------------
def one_line_fixed(tmp_path: Path, name: str, bug: str, fix: str) -> str:
    source = (REPO / "examples" / name).read_text(encoding="utf-8")
    assert source.count(bug) == 1, f"the marked line of {name} changed"
    path = tmp_path / name
    path.write_text(source.replace(bug, fix), encoding="utf-8")
    return f"{path}:make_case_system"


@pytest.mark.parametrize(
    ("name", "bug", "fix"),
    [
        (
            "text_column_limit.py",
            'return text.encode()[:TEXT_BYTES].decode(errors="ignore")',
            "return text",
        ),
        (
            "mottatt_for_empty_pdf.py",
            "if REPORT_PDF not in message.files:",
            "if not message.files.get(REPORT_PDF):",
        ),
    ],
)
def test_the_one_line_fix_of_each_data_bug_passes(
    tmp_path: Path, name: str, bug: str, fix: str
) -> None:
    result = run_suite(SuiteConfig(target=one_line_fixed(tmp_path, name, bug, fix), seed=1))
    assert result.failed == []


def test_counterexample_files_take_the_new_profiles_and_a_start() -> None:
    from harness.report.counterexample import check_plan

    plan = Plan(
        0,
        (ReportSpec(0, data="dst_fallback"), ReportSpec(HOUR, data="missing_pdf")),
        start=FALLBACK_NIGHT.isoformat(),
    )
    assert check_plan(plan.to_json()) is None
    assert "offset" in str(check_plan({**plan.to_json(), "start": "2023-10-29T02:30:00"}))
    assert "data profile" in str(
        check_plan({**plan.to_json(), "reports": [{"at": 0, "data": "no_pdf_at_all"}]})
    )
