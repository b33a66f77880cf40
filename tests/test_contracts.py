"""The contract as data: schemas against the real protocol's examples, digests, validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import MOTTATT, REPORT_JSON, Fault, Plan, ReportSpec, check, simulate
from harness.cli import main
from harness.components.case_system import make_case_system
from harness.components.portal import rejection_of
from harness.contracts import contract_digest, contract_from, load_contract, validate
from harness.core.workload import DEFECTS, make_submission, report_body
from harness.suite.search import search_family
from harness.target import load_target

REPO = Path(__file__).resolve().parent.parent

OFFENTLIG_V2 = "no.ks.fiks.bekymringsmelding.offentlig.v2"
PRIVAT_V2 = "no.ks.fiks.bekymringsmelding.privat.v2"


def test_every_protocol_example_validates(
    shared_examples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(shared_examples)]) == 0
    out = capsys.readouterr().out
    names = sorted(p.name for p in shared_examples.glob("*.json"))
    assert len(names) >= 6
    for name in names:
        assert f"valid: {shared_examples / name}" in out


@pytest.mark.parametrize(
    ("field", "value", "path", "rule"),
    [
        ("kommunenummer", "12A1", "$.kommunenummer", "pattern"),
        ("bydelsnummer", 2, "$.bydelsnummer", "type"),
        ("melding", None, "$.melding", "required"),
    ],
)
def test_a_mutated_example_exits_1_and_names_the_path(
    shared_examples: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    field: str,
    value: object,
    path: str,
    rule: str,
) -> None:
    body = json.loads((shared_examples / "offentligBekymringsmeldingV2.json").read_text())
    if value is None:
        del body[field]
    else:
        body[field] = value
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body, ensure_ascii=False))
    assert main(["validate", str(bad), "--type", "offentlig.v2"]) == 1
    out = capsys.readouterr().out
    assert f"{path}:" in out and f"({rule})" in out


def test_validate_reports_every_error_with_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = report_body(ReportSpec(0, "offentlig", 2), __import__("random").Random(1))
    body["kommunenummer"] = "12A1"
    body["offentligBarn"][0]["ufoedt"] = "nei"
    (tmp_path / "m.json").write_text(json.dumps(body))
    assert main(["validate", str(tmp_path / "m.json"), "--type", OFFENTLIG_V2]) == 1
    out = capsys.readouterr().out
    assert "$.kommunenummer:" in out and "$.offentligBarn[0].ufoedt:" in out


@pytest.mark.parametrize("args", [["nope.json"], ["{file}", "--type", "ukjent.v9"], ["{bytes}"]])
def test_validate_unreadable_or_unknown_type_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    (tmp_path / "ok.json").write_text("{}")
    (tmp_path / "b.json").write_bytes(b"\xff\xfe not json")
    argv = [
        "validate",
        *[a.format(file=tmp_path / "ok.json", bytes=tmp_path / "b.json") for a in args],
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "harness: error:" in err


def test_local_time_without_offset_is_valid_and_garbage_is_not() -> None:
    body = report_body(ReportSpec(0, "privat", 2), __import__("random").Random(2))
    for good in ("2023-10-29T02:30:00", "2023-10-29T02:30:00+01:00", "2023-06-01T12:00:00Z"):
        body["sendingstidspunkt"] = good
        assert validate(PRIVAT_V2, body) == [], good
    for bad in ("2023-13-01T00:00:00", "29.10.2023 02:30", "2023-10-29"):
        body["sendingstidspunkt"] = bad
        assert [e.path for e in validate(PRIVAT_V2, body)] == ["$.sendingstidspunkt"], bad


def test_empty_privat_barn_is_accepted_like_the_real_portal_does() -> None:
    body = report_body(ReportSpec(0, "privat", 2), __import__("random").Random(3))
    body["privatBarn"] = []
    assert validate(PRIVAT_V2, body) == []
    body["offentligBarn"] = []  # offentlig declares minItems, which does apply
    off = report_body(ReportSpec(0, "offentlig", 2), __import__("random").Random(3))
    off["offentligBarn"] = []
    assert [e.rule for e in validate(OFFENTLIG_V2, off)] == ["minItems"]


def test_the_workload_sends_reports_without_children_and_they_are_stored() -> None:
    plan = Plan(0, tuple(ReportSpec(i * 1000, "privat", 2) for i in range(40)))
    empties = [
        i
        for i, spec in enumerate(plan.reports)
        if json.loads(make_submission(i, spec, 0).files[REPORT_JSON])["privatBarn"] == []
    ]
    assert empties, "the workload should include reports with an empty privatBarn"
    result = check(simulate(plan, make_case_system).history)
    assert result.failed == set() and result.counts["STORED"] == 40


@pytest.mark.parametrize("defect", DEFECTS)
def test_every_defect_is_refused_with_a_machine_readable_reason(defect: str) -> None:
    sub = make_submission(0, ReportSpec(0, "offentlig", 1, defect), seed=7)
    rejection = rejection_of(sub)
    assert rejection is not None
    assert rejection.code in {"unknown_type", "too_large", "invalid"}
    assert rejection.path.startswith("$") and rejection.message


def test_changing_a_clause_changes_the_contract_digest() -> None:
    raw = json.loads((REPO / "contracts" / "clauses.json").read_text(encoding="utf-8"))
    before = contract_from(raw).digest
    raw["clauses"][0]["description"] += " Reworded."
    assert contract_from(raw).digest != before
    files = {"clauses.json": raw}
    assert contract_digest(files) == contract_from(raw).digest


def test_the_contract_digest_covers_the_schemas_too() -> None:
    root = REPO / "contracts"
    files = {
        p.relative_to(root).as_posix(): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(root.rglob("*.json"))
    }
    assert contract_digest(files) == load_contract().digest
    files["schemas/privat.json"]["title"] += "!"
    assert contract_digest(files) != load_contract().digest


def test_report_json_records_the_contract_version_and_digest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--examples", "10", "--report", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    contract = load_contract()
    assert report["contract"] == {
        "name": contract.name,
        "version": contract.version,
        "digest": contract.digest,
    }
    assert validate("report", report) == []


def test_a_damaged_message_makes_the_reference_reply_feilet() -> None:
    plan = Plan(0, (ReportSpec(0),), (Fault("transport.deliver.corrupt"),))
    run = simulate(plan, make_case_system)
    result = check(run.history)
    assert result.failed == set()
    assert result.counts["FALLBACK"] == 1
    replies = [e.data["meldingstype"] for e in run.history if e.kind == "reply"]
    assert MOTTATT not in replies and replies


def test_reference_passes_sor6_over_generated_invalid_input() -> None:
    result = search_family("rejection", make_case_system, seed=3, examples=150)
    assert "SOR-6" in result.exercised
    assert result.failed == set()
    assert result.outcomes["REJECTED"] > 0


@pytest.mark.parametrize("example", ["silent_drop", "familia_2023"])
def test_examples_that_take_bad_input_fail_sor6(example: str) -> None:
    target = load_target(f"{REPO / 'examples' / example}.py:make_case_system")
    result = search_family("rejection", target.factory, seed=0, examples=100)
    assert "SOR-6" in result.failed
