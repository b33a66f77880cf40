"""The live tier's parts that need no broker: plans, packages, rows and their digests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.digest import canonical_json, content_digest
from harness.core.wire import REPORT_JSON, REPORT_PDF
from harness.core.workload import ReportSpec, make_submission
from harness.live.clock import WallLoop
from harness.live.http.server import parse_multipart
from harness.live.package import pack, unpack
from harness.live.plan import LiveFault, LivePlan, default_plan
from harness.live.reconcile import ReconcileError, Row, _row


def row_for(files: dict[str, bytes], **over: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "bekymringsmelding_id": "r1",
        "fiks_melding_ids": ["m1"],
        "state": "stored",
        "stored_at": "2026-12-01T20:00:00+00:00",
        "json_sha256": hashlib.sha256(canonical_json(json.loads(files[REPORT_JSON]))).hexdigest(),
        "pdf_sha256": hashlib.sha256(files[REPORT_PDF]).hexdigest(),
        "case_ref": None,
    }
    raw.update(over)
    return raw


def test_a_row_digests_exactly_as_the_portal_digests_what_it_sent() -> None:
    files = make_submission(0, ReportSpec(0, "offentlig"), seed=3).files
    row = _row(row_for(files), "test")
    assert row.digest == content_digest(files)
    pdf_missing = _row(row_for(files, pdf_sha256=None), "test")
    assert pdf_missing.digest != content_digest(files)  # a lost attachment is not intact
    assert pdf_missing.files == [REPORT_JSON]


def test_a_row_re_encoded_by_the_service_still_digests_the_same() -> None:
    files = make_submission(1, ReportSpec(0), seed=3).files
    pretty = json.dumps(json.loads(files[REPORT_JSON]), indent=4, ensure_ascii=True).encode()
    assert _row(row_for({**files, REPORT_JSON: pretty}), "t").digest == content_digest(files)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"json_sha256": "ABC"}, "json_sha256"),
        ({"state": "kept"}, "state"),
        ({"fiks_melding_ids": "m1"}, "fiks_melding_ids"),
    ],
)
def test_a_row_off_the_schema_is_a_broken_endpoint(change: dict[str, object], says: str) -> None:
    files = make_submission(0, ReportSpec(0), seed=0).files
    with pytest.raises(ReconcileError, match=says):
        _row(row_for(files, **change), "endpoint GET /harness/v1/reports")


def test_missing_fields_are_named() -> None:
    files = make_submission(0, ReportSpec(0), seed=0).files
    raw = row_for(files)
    del raw["pdf_sha256"]
    with pytest.raises(ReconcileError, match="pdf_sha256"):
        _row(raw, "view harness_reports")


def test_a_package_is_the_same_bytes_every_time_and_unpacks_to_its_files() -> None:
    files = make_submission(0, ReportSpec(0), seed=1).files
    assert pack(files) == pack(dict(reversed(list(files.items()))))
    assert unpack(pack(files)) == files


def test_a_plan_is_data_that_round_trips() -> None:
    plan = default_plan(5)
    assert LivePlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan
    assert [f.kind for f in plan.faults] == [
        "resend",
        "storage_down",
        "kill_at_reply",
        "kill_at_download",
        "close_connection",
    ]
    assert "close_connection" not in {f.kind for f in default_plan(5, management=False).faults}


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: LiveFault("explode", 0), "unknown live fault 'explode'"),
        (lambda: LivePlan(0, 0), "at least one report"),
        (lambda: LivePlan(0, 2, (LiveFault("resend", 2),)), "only reports 0-1"),
    ],
)
def test_a_bad_plan_says_what_is_wrong(make: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        make()  # type: ignore[operator]


def test_the_wall_clock_loop_runs_actions_in_time_order_in_its_own_thread() -> None:
    loop = WallLoop(0)
    seen: list[str] = []
    loop.call_later(30, lambda: seen.append("late"))
    loop.call_later(0, lambda: seen.append("soon"))
    assert loop.run_until(lambda: len(seen) == 2, 5)
    assert seen == ["soon", "late"] and loop.now >= 30
    assert WallLoop(4).new_id() == WallLoop(4).new_id() != WallLoop(5).new_id()


def test_multipart_parts_are_read_by_name() -> None:
    import requests

    req = requests.Request(
        "POST",
        "http://127.0.0.1/x",
        files={"metadata": (None, '{"a": 1}', "application/json"), "data": ("d", b"\x00\x01")},
    ).prepare()
    assert isinstance(req.body, bytes)
    parts = parse_multipart(req.headers["Content-Type"], req.body)
    assert json.loads(parts["metadata"]) == {"a": 1} and parts["data"] == b"\x00\x01"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--service", "x", "--target", "examples/familia_2023.py:make_case_system"],
            "do not combine",
        ),
        (["--service", "x", "--reconcile", "http://example.org:80"], "is not `http`, `sql`"),
        (["--service", "x", "--examples", "5"], "belong to the simulated tier"),
        (["--service", "  "], "needs the command"),
        (["--service", "x", "--amqp-url", "amqp://u:secret@example.org/"], "loopback brokers only"),
    ],
)
def test_bad_live_options_are_exit_2_in_one_line(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["run", *args, "--report", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and "secret" not in err


def test_a_plan_file_that_is_not_a_plan_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"seed": 0, "reports": 1, "faults": [{"kind": "nope", "report": 0}]}')
    assert main(["run", "--service", "x", "--plan", str(bad)]) == 2
    assert "unknown live fault 'nope'" in capsys.readouterr().err


def test_row_type_is_frozen() -> None:
    files = make_submission(0, ReportSpec(0), seed=0).files
    row = _row(row_for(files), "t")
    assert isinstance(row, Row)
    with pytest.raises(AttributeError):
        row.state = "rejected"  # type: ignore[misc]
