"""`harness audit`: the contract's checker on exports of a real pipeline."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from harness.audit.example import bergen_lost, write_bergen
from harness.audit.exports import PORTAL_OPTIONAL, PORTAL_REQUIRED
from harness.cli import main
from harness.contracts import validate

HEX_A, HEX_B, HEX_C = "a" * 64, "b" * 64, "c" * 64
CASE_COLUMNS = [
    "bekymringsmelding_id",
    "fiks_melding_ids",
    "state",
    "stored_at",
    "json_sha256",
    "pdf_sha256",
    "case_ref",
]


def portal(report_id: str, sent: str = "2023-03-01T10:00:00", **extra: str) -> dict[str, str]:
    row = {
        "bekymringsmelding_id": report_id,
        "sendt": sent,
        "status": "LEVERT",
        "levert_via": "fagsystem",
        "mottatt": sent[:-2] + "30",
        "kommunenummer": "4601",
        "bydelsnummer": "02",
        "bydelsnavn": "Bergenhus/Årstad",
        "json_sha256": HEX_A,
        "pdf_sha256": HEX_B,
    }
    row.update(extra)
    return row


def record(report_id: str, stored: str = "2023-03-01T10:00:20", **extra: str) -> dict[str, str]:
    row = {
        "bekymringsmelding_id": report_id,
        "fiks_melding_ids": "m-" + report_id,
        "state": "stored",
        "stored_at": stored,
        "json_sha256": HEX_A,
        "pdf_sha256": HEX_B,
        "case_ref": "",
    }
    row.update(extra)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_audit(
    tmp_path: Path, portal_rows: list[dict[str, str]], case: list[dict[str, str]], *extra: str
) -> tuple[int, dict[str, Any]]:
    p = write_csv(tmp_path / "portal.csv", portal_rows, [*PORTAL_REQUIRED, *PORTAL_OPTIONAL])
    c = write_csv(tmp_path / "case.csv", case, CASE_COLUMNS)
    out = tmp_path / "report"
    code = main(
        ["audit", "--portal", str(p), "--case-system", str(c), "--report", str(out), *extra]
    )
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return code, report


def by_outcome(report: dict[str, Any]) -> dict[str, str]:
    return {v["bekymringsmelding_id"]: v["outcome"] for v in report["violations"]}


def test_exports_that_agree_pass(tmp_path: Path) -> None:
    rows = [
        portal("r1"),
        portal("r2", "2023-03-02T09:00:00"),
        portal(
            "r3",
            "2023-03-03T09:00:00",
            levert_via="print",
            mottatt="",
            feilet="2023-03-03T09:00:40",
        ),
    ]
    code, report = run_audit(tmp_path, rows, [record("r1"), record("r2", "2023-03-02T09:00:10")])
    assert code == 0
    assert report["verdict"] == "pass" and report["violations"] == []
    assert report["outcomes"]["STORED"] == 2 and report["outcomes"]["FALLBACK"] == 1
    assert {c["id"]: c["verdict"] for c in report["clauses"]} == {
        "SOR-1": "pass",
        "SOR-3": "pass",
        "SOR-4": "pass",
        "SOR-7": "pass",
        "SOR-8": "pass",
    }
    assert validate("audit-report", report) == []


def test_one_of_each_violation_kind_gives_exactly_those(tmp_path: Path) -> None:
    rows = [
        portal("ok"),
        portal("lost", "2023-03-02T10:00:00"),  # mottatt, no record
        portal("twice", "2023-03-03T10:00:00"),
        portal("changed", "2023-03-04T10:00:00"),
        portal("no-pdf", "2023-03-05T10:00:00"),
        portal("stuck", "2023-03-06T10:00:00", status="SENDT_FAGSYSTEM", levert_via="", mottatt=""),
    ]
    case = [
        record("ok"),
        record("twice", "2023-03-03T10:00:05"),
        record("twice", "2023-03-03T10:05:00"),
        record("changed", "2023-03-04T10:00:05", json_sha256=HEX_C),
        record("no-pdf", "2023-03-05T10:00:05", pdf_sha256=""),
        record("never-sent", "2023-03-07T10:00:00"),
        record("late-enough", "2023-03-20T10:00:00"),  # keeps "stuck" past the deadline
    ]
    rows.append(portal("late-enough", "2023-03-20T09:59:00"))
    code, report = run_audit(tmp_path, rows, case)
    assert code == 1
    assert by_outcome(report) == {
        "lost": "LOST",
        "twice": "DUPLICATED",
        "changed": "CORRUPTED",
        "no-pdf": "CORRUPTED",
        "stuck": "UNRESOLVED",
        "never-sent": "PHANTOM",
    }
    failed = {c["id"] for c in report["clauses"] if c["verdict"] == "fail"}
    assert failed == {"SOR-1", "SOR-3", "SOR-4", "SOR-7", "SOR-8"}
    sent = [v["sent"] for v in report["violations"] if v["sent"]]
    assert sent == sorted(sent)  # a table an office works down, oldest first
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    for report_id in ("lost", "twice", "changed", "never-sent", "stuck"):
        assert f">{report_id}<" in html
    junit = (tmp_path / "report" / "junit.xml").read_text(encoding="utf-8")
    assert 'failures="5"' in junit and "lost" in junit


def test_a_young_report_in_flight_is_not_judged_yet(tmp_path: Path) -> None:
    rows = [
        portal("ok"),
        portal("young", "2023-03-01T11:00:00", status="SENDT_FAGSYSTEM", levert_via="", mottatt=""),
    ]
    code, report = run_audit(tmp_path, rows, [record("ok")])
    assert code == 0
    assert report["outcomes"]["IN_FLIGHT"] == 1 and "still in flight" in report["summary"]


def test_without_digests_intactness_is_not_claimed(tmp_path: Path) -> None:
    rows = [portal("r1", json_sha256="", pdf_sha256="")]
    code, report = run_audit(tmp_path, rows, [record("r1", json_sha256=HEX_C)])
    assert code == 0
    assert {c["id"]: c["verdict"] for c in report["clauses"]}["SOR-4"] == "not-exercised"
    assert report["inputs"]["digests"] is False


def test_period_bounds_the_audit_and_a_report_sent_before_it_is_no_phantom(tmp_path: Path) -> None:
    rows = [
        portal("march"),
        portal("april", "2023-04-02T10:00:00"),
        portal("edge", "2023-03-31T23:59:00"),
    ]
    case = [record("march"), record("edge", "2023-04-01T00:00:30")]  # april's record is missing
    code, report = run_audit(tmp_path, rows, case, "--from", "2023-04-01", "--to", "2023-04-30")
    assert code == 1
    assert by_outcome(report) == {"april": "LOST"}  # "edge" was sent in March: not a phantom
    code, report = run_audit(tmp_path, rows, case, "--to", "2023-03-31")
    assert code == 0 and report["outcomes"]["STORED"] == 2


def test_json_lines_exports_read_the_same(tmp_path: Path) -> None:
    p, c = tmp_path / "portal.jsonl", tmp_path / "case.jsonl"
    p.write_text(
        "\n".join(
            json.dumps(r, ensure_ascii=False)
            for r in [portal("r1"), portal("r2", "2023-03-02T10:00:00")]
        )
        + "\n",
        encoding="utf-8",
    )
    rec = record("r1") | {"fiks_melding_ids": ["m1", "m2"], "case_ref": None}
    c.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    out = tmp_path / "report"
    assert main(["audit", "--portal", str(p), "--case-system", str(c), "--report", str(out)]) == 1
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert by_outcome(report) == {"r2": "LOST"}


def test_the_bergen_example_lists_exactly_the_21_published_reports(tmp_path: Path) -> None:
    out = tmp_path / "bergen"
    assert main(["audit", "--example", "bergen-2023", "--report", str(out)]) == 1
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["inputs"]["portal"]["rows"] >= 10_000
    published = sorted((t.isoformat(timespec="seconds"), office) for t, _, office in bergen_lost())
    assert len(published) == 21
    listed = sorted((v["sent"], v["bydelsnavn"]) for v in report["violations"])
    assert listed == published
    assert {v["outcome"] for v in report["violations"]} == {"LOST"}
    assert "21 were lost" in report["summary"]
    months = {
        m: sum(n for k, n in c.items() if k != "reports") for m, c in report["months"].items()
    }
    assert sum(months.values()) == 21 and months["2021-02"] == 1


def test_the_report_holds_no_content_of_the_exports_beyond_id_time_and_district(
    tmp_path: Path,
) -> None:
    secret = "Kari Nordmann, fnr 01810012345"  # a value the audit must never copy
    rows = [portal("r1", bydelsnavn="Årstad")]
    p = write_csv(tmp_path / "portal.csv", rows, [*PORTAL_REQUIRED, *PORTAL_OPTIONAL])
    c = write_csv(tmp_path / "case.csv", [record("r1", case_ref=secret)], CASE_COLUMNS)
    out = tmp_path / "report"
    assert main(["audit", "--portal", str(p), "--case-system", str(c), "--report", str(out)]) == 0
    for name in ("report.json", "report.html", "junit.xml"):
        assert secret not in (out / name).read_text(encoding="utf-8")


def _malformed(
    tmp_path: Path, text: bytes, capsys: pytest.CaptureFixture[str], case: bool = False
) -> str:
    good_portal = write_csv(
        tmp_path / "good-portal.csv", [portal("r1")], [*PORTAL_REQUIRED, *PORTAL_OPTIONAL]
    )
    good_case = write_csv(tmp_path / "good-case.csv", [record("r1")], CASE_COLUMNS)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(text)
    out = tmp_path / "report"
    args = [
        "--portal",
        str(good_portal if case else bad),
        "--case-system",
        str(bad if case else good_case),
    ]
    assert main(["audit", *args, "--report", str(out)]) == 2
    assert not out.exists()  # nothing half-written
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    return err


HEADER = ",".join([*PORTAL_REQUIRED, *PORTAL_OPTIONAL]).encode()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (b"", "the file is empty"),
        (b"bekymringsmelding_id,sendt\nr1,2023-03-01T10:00:00\n", "header, column 'status'"),
        (HEADER.replace(b"mottatt", b"mottat") + b"\n", "header, column 'mottat': is not a known"),
        (
            b"bekymringsmelding_id,sendt,status,levert_via\nr1,yesterday,LEVERT,fagsystem\n",
            "row 1, column 'sendt': 'yesterday' is not a date-time",
        ),
        (
            b"bekymringsmelding_id,sendt,status,levert_via\nr1,2023-03-01T10:00:00,DONE,x\n",
            "row 1, column 'status'",
        ),
        (
            b"bekymringsmelding_id,sendt,status,levert_via\n"
            b"r1,2023-03-01T10:00:00,LEVERT,fagsystem\nr1,2023-03-02T10:00:00,LEVERT,print\n",
            "row 2, column 'bekymringsmelding_id'",
        ),
        (
            b"bekymringsmelding_id,sendt,status,levert_via\nr1,2023-03-01T10:00:00,LEVERT,fagsystem\n"
            b"r\xe5,2023-03-01T10:00:00,LEVERT,fagsystem\n",
            "line 3: is not valid UTF-8",
        ),
    ],
    ids=[
        "empty",
        "missing-column",
        "unknown-column",
        "bad-date",
        "bad-state",
        "duplicate-id",
        "not-utf8",
    ],
)
def test_a_malformed_portal_export_is_one_line_naming_file_row_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: bytes, says: str
) -> None:
    err = _malformed(tmp_path, text, capsys)
    assert "bad.csv" in err and says in err
    if b"\xe5" in text:
        assert "UTF-8" in err


def test_a_malformed_case_export_is_one_line_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (",".join(CASE_COLUMNS) + "\nr1,m1,stored,2023-03-01T10:00:00,nothex,,\n").encode()
    err = _malformed(tmp_path, text, capsys, case=True)
    assert "case-system export" in err and "row 1, column 'json_sha256'" in err


def test_audit_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--portal", str(tmp_path / "none.csv")]) == 2
    assert "give both --portal" in capsys.readouterr().err
    missing = tmp_path / "missing.csv"
    assert (
        main(
            [
                "audit",
                "--portal",
                str(missing),
                "--case-system",
                str(missing),
                "--report",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "cannot be read" in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["audit", "--example", "bergen-2023", "--report", str(f / "sub")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_the_example_exports_are_the_same_every_time(tmp_path: Path) -> None:
    a = write_bergen(tmp_path / "a", ordinary=200)
    b = write_bergen(tmp_path / "b", ordinary=200)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_the_audit_html_renders_in_headless_chromium_with_the_table_and_the_chart(
    tmp_path: Path,
) -> None:
    import os
    import shutil
    import subprocess

    binary = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
    )
    if binary is None:
        if os.environ.get("HARNESS_REQUIRE_CHROMIUM"):
            pytest.fail("HARNESS_REQUIRE_CHROMIUM is set but no chromium binary is on PATH")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; CI installs it)")
    out = tmp_path / "bergen"
    assert main(["audit", "--example", "bergen-2023", "--report", str(out)]) == 1
    flags = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    page = (out / "report.html").as_uri()
    dom = subprocess.run(
        [*flags, "--dump-dom", page], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "Reports to follow up (21)" in dom
    assert "violations per month" in dom and "2021-02: 1</title>" in dom  # the chart drew
    shot = tmp_path / "audit.png"
    subprocess.run(
        [*flags, "--window-size=1100,1600", f"--screenshot={shot}", page],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
    print(f"screenshot of the audit report: {shot}")


def test_the_case_system_can_be_read_live_from_its_reconciliation_listing(
    tmp_path: Path,
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    rows = [record("r1"), record("r2", "2023-03-02T10:00:05")]
    for row in rows:
        row["fiks_melding_ids"] = [row["fiks_melding_ids"]]  # type: ignore[assignment]
        row["case_ref"] = None  # type: ignore[assignment]
    pages = {
        None: {"reports": rows[:1], "next_cursor": "p2"},
        "p2": {"reports": rows[1:], "next_cursor": None},
    }
    asked: list[str] = []

    class Listing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            cursor = self.path.partition("cursor=")[2] or None
            body = json.dumps(pages[cursor]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Listing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        p = write_csv(
            tmp_path / "portal.csv",
            [
                portal("r1"),
                portal("r2", "2023-03-02T10:00:00"),
                portal("r3", "2023-03-03T10:00:00"),
            ],
            [*PORTAL_REQUIRED, *PORTAL_OPTIONAL],
        )
        url = f"http://127.0.0.1:{server.server_address[1]}"
        out = tmp_path / "report"
        assert main(["audit", "--portal", str(p), "--case-system", url, "--report", str(out)]) == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert asked == ["/harness/v1/reports", "/harness/v1/reports?cursor=p2"]
    assert by_outcome(report) == {"r3": "LOST"}
    assert report["inputs"]["case_system"] == {
        "name": url,
        "kind": "listing",
        "sha256": None,
        "rows": 2,
    }
