"""report.json: complete, valid, verifiable, signed, redacted, and the same however it was run."""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import harness
from harness.cli import main
from harness.components import case_system
from harness.contracts import load_contract, validate
from harness.report.redact import Redactor, looks_like_token, redact_value, secret_key
from harness.report.verify import verify_report
from harness.suite.search import FAMILIES
from harness.suite.sweep import sweep_plans
from harness.target import REFERENCE_SPEC, load_target

REPO = Path(__file__).resolve().parent.parent
FAMILIA = f"{REPO / 'examples' / 'familia_2023.py'}:make_case_system"
CLAUSE_IDS = [c.id for c in load_contract().clauses]
# Fields that say when and where a run happened, never what it found.
CIRCUMSTANTIAL = {"started", "finished", "environment", "workers", "digest", "signature"}


def run(tmp: Path, *args: str) -> dict[str, Any]:
    main(["run", "--report", str(tmp), *args])
    report: dict[str, Any] = json.loads((tmp / "report.json").read_text(encoding="utf-8"))
    return report


def findings(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in CIRCUMSTANTIAL}


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of a failing run (counterexample files, timelines), written once."""
    out = tmp_path_factory.mktemp("failing")
    assert main(["run", "--target", FAMILIA, "--report", str(out)]) == 1
    return out


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(private key, its public key, somebody else's public key)."""
    mine, other = tmp_path_factory.mktemp("mine"), tmp_path_factory.mktemp("other")
    assert main(["keygen", str(mine)]) == 0
    assert main(["keygen", str(other)]) == 0
    return (
        mine / "harness-signing-key.pem",
        mine / "harness-signing-key.pub.pem",
        other / "harness-signing-key.pub.pem",
    )


# -- complete and valid ---------------------------------------------------------------
def test_report_json_of_harness_run_validates_against_the_schema(tmp_path: Path) -> None:
    report = run(tmp_path, "--examples", "10", "--seed", "3")
    assert validate("report", report) == []
    adapter = report["target"].pop("adapter")
    assert report["target"] == {"spec": REFERENCE_SPEC, "options": {}, "redacted_options": []}
    reference = Path(case_system.__file__).read_bytes()
    assert adapter["sha256"] == "sha256:" + hashlib.sha256(reference).hexdigest()
    assert adapter["module"] == "harness.components.case_system"
    assert adapter["file"].endswith("case_system.py")
    assert adapter["package"] == {"name": "harness", "version": harness.__version__}
    assert set(report["environment"]["packages"]) >= {"harness", "hypothesis", "pytest"}
    assert report["started"] <= report["finished"]
    assert (report["seed"], report["examples"], report["workers"]) == (3, 10, 1)
    assert [c["id"] for c in report["clauses"]] == CLAUSE_IDS
    # A clause's examples are its family's: the sweep's checklist, then the 10 searched.
    swept = {f["family"]: f["swept"] for f in report["families"]}
    corrupt = ("transport.deliver.corrupt",)  # the rejection family's aimed fault
    assert swept == {
        "delivery": len(sweep_plans()),
        "integrity": len(sweep_plans()),
        "rejection": len(sweep_plans(always=corrupt)),
    }
    families = {c["id"]: c["family"] for c in report["clauses"]}
    assert all(c["examples"] == 10 + swept[families[c["id"]]] for c in report["clauses"])
    assert all(c["counterexample"] is None for c in report["clauses"])
    assert [f["family"] for f in report["families"]] == list(FAMILIES)
    assert report["verdict"] == "pass"


def test_a_failing_report_carries_its_counterexamples_and_their_digests(failing: Path) -> None:
    report = json.loads((failing / "report.json").read_text(encoding="utf-8"))
    assert validate("report", report) == []
    assert report["verdict"] == "fail"
    broken = {c["id"] for c in report["clauses"] if c["verdict"] == "fail"}
    assert broken == load_target(FAMILIA).expects  # what the example declares it breaks
    for clause in report["clauses"]:
        if clause["verdict"] == "fail":
            assert clause["counterexample"]["file"] in report["files"]
    on_disk = sorted(p.name for p in failing.glob("counterexample-*.json"))
    assert on_disk == sorted(report["files"])
    raw = json.loads((failing / on_disk[0]).read_text(encoding="utf-8"))
    assert raw["history"] and raw["plan"]["reports"]


# -- verify: intact, tampered -------------------------------------------------------
def test_verify_exits_0_on_a_fresh_report(
    failing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(failing / "report.json")]) == 0
    assert "intact" in capsys.readouterr().out


def test_verify_exits_1_after_one_byte_is_changed(
    failing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = (failing / "report.json").read_bytes()
    copy = tmp_path / "report.json"
    # Every 37th byte, whitespace and punctuation included, and every byte of the verdict.
    verdict_at = original.index(b'"verdict": "fail"')
    positions = sorted({*range(0, len(original), 37), *range(verdict_at, verdict_at + 17)})
    for i in positions:
        changed = bytearray(original)
        changed[i] = ord("x") if changed[i] != ord("x") else ord("y")
        copy.write_bytes(bytes(changed))
        assert verify_report(copy).problems, f"a change at byte {i} went unnoticed"
    copy.write_bytes(original.replace(b'"verdict": "fail"', b'"verdict": "pass"', 1))
    assert main(["verify", str(copy)]) == 1
    assert "TAMPERED" in capsys.readouterr().out


def test_verify_catches_a_changed_counterexample_file_and_html(
    failing: Path, tmp_path: Path
) -> None:
    for path in failing.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    assert verify_report(tmp_path / "report.json").problems == []
    cx = next(tmp_path.glob("counterexample-*.json"))
    original = cx.read_text(encoding="utf-8")
    raw = json.loads(original)
    cx.write_text(json.dumps({**raw, "shrunk": not raw["shrunk"]}, indent=2), encoding="utf-8")
    assert any(cx.name in p for p in verify_report(tmp_path / "report.json").problems)
    cx.write_text(original, encoding="utf-8")
    html = tmp_path / "report.html"
    html.write_text(html.read_text(encoding="utf-8").replace(">FAIL<", ">PASS<"))
    assert any("report.html" in p for p in verify_report(tmp_path / "report.json").problems)


# -- signatures -----------------------------------------------------------------------
def test_a_signed_report_verifies_with_its_key_and_fails_with_another(
    tmp_path: Path, keys: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    private, public, other = keys
    report = run(tmp_path, "--examples", "5", "--sign-key", str(private))
    assert report["signature"]["algorithm"] == "ed25519"
    path = str(tmp_path / "report.json")
    assert main(["verify", path, "--public-key", str(public)]) == 0
    assert main(["verify", path]) == 0  # against the embedded key only
    capsys.readouterr()
    assert main(["verify", path, "--public-key", str(other)]) == 1
    assert "not by the --public-key given" in capsys.readouterr().out


def test_a_re_signed_report_passes_only_without_a_trusted_key(
    tmp_path: Path, keys: tuple[Path, Path, Path]
) -> None:
    """Someone who edits a report can re-sign it with a key of their own: --public-key
    is what tells the reader it is not the vendor's."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from harness.report.counterexample import dumps
    from harness.report.html_report import render_html
    from harness.report.json_report import report_digest
    from harness.report.signing import sign

    private, public, _ = keys
    report = run(tmp_path, "--examples", "5", "--sign-key", str(private))
    report["seed"] = 99
    report["digest"] = report_digest(report)
    report["signature"] = sign(report["digest"], Ed25519PrivateKey.generate())
    (tmp_path / "report.json").write_text(dumps(report), encoding="utf-8")
    html = render_html(report, {})  # a passing run: no counterexample files
    (tmp_path / "report.html").write_text(html, encoding="utf-8")
    assert verify_report(tmp_path / "report.json").problems == []
    assert verify_report(tmp_path / "report.json", public).problems


def test_verify_with_a_key_fails_on_an_unsigned_report(
    tmp_path: Path, keys: tuple[Path, Path, Path]
) -> None:
    run(tmp_path, "--examples", "5")
    assert main(["verify", str(tmp_path / "report.json"), "--public-key", str(keys[1])]) == 1


def test_key_problems_are_usage_errors(
    tmp_path: Path, keys: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    private = keys[0]
    report = str(tmp_path / "report.json")
    assert main(["run", "--sign-key", str(tmp_path / "nope.pem"), "--report", str(tmp_path)]) == 2
    assert not (tmp_path / "report.json").exists()  # refused before the run
    run(tmp_path, "--examples", "5")
    assert main(["verify", report, "--public-key", str(private)]) == 2  # a private key
    assert main(["keygen", str(private.parent)]) == 2  # never overwrites
    err = capsys.readouterr().err.splitlines()
    errors = [ln for ln in err if not ln.startswith("harness: ") or "error" in ln[:16]]
    assert len(errors) == 3 and all(e.startswith("harness: error: ") for e in errors)
    assert "harness keygen" in errors[0] and "already exists" in errors[2]


# -- the same results however the suite is split --------------------------------------
def test_two_workers_and_one_give_the_same_report(tmp_path: Path) -> None:
    serial = run(tmp_path / "n1", "-n", "1", "--seed", "5")
    parallel = run(tmp_path / "n2", "-n", "2", "--seed", "5")
    assert [(c["id"], c["verdict"]) for c in parallel["clauses"]] == [
        (c["id"], c["verdict"]) for c in serial["clauses"]
    ]
    assert parallel["outcomes"] == serial["outcomes"]
    assert findings(parallel) == findings(serial)  # everything but when, where and how many


def test_merged_shards_equal_one_full_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--target", FAMILIA, "--seed", "5", "--examples", "30"]
    full = run(tmp_path / "full", *common)
    run(tmp_path / "a", *common, "--families", "integrity,delivery")
    run(tmp_path / "b", *common, "--families", "rejection")
    capsys.readouterr()
    code = main(["merge", str(tmp_path / "m"), str(tmp_path / "a"), str(tmp_path / "b")])
    assert code == 1  # the merged verdict: FAIL
    merged = json.loads((tmp_path / "m" / "report.json").read_text(encoding="utf-8"))
    assert findings({**merged, "merged_from": None}) == findings({**full, "merged_from": None})
    shards = [m["families"] for m in merged["merged_from"]]
    assert shards == [["delivery", "integrity"], ["rejection"]]
    copied = sorted(p.name for p in (tmp_path / "m").glob("counterexample-*"))
    assert copied == sorted(full["files"])
    assert main(["verify", str(tmp_path / "m" / "report.json")]) == 0
    assert "verdict: FAIL" in capsys.readouterr().out


def test_merge_refuses_shards_of_different_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path / "a", "--examples", "5", "--families", "delivery")
    run(tmp_path / "b", "--examples", "5", "--families", "rejection", "--seed", "6")
    run(tmp_path / "c", "--examples", "5", "--families", "delivery")
    capsys.readouterr()
    a, b, c = (str(tmp_path / n) for n in "abc")
    assert main(["merge", str(tmp_path / "m"), a, b]) == 2
    assert main(["merge", str(tmp_path / "m"), a, c]) == 2
    assert main(["merge", str(tmp_path / "m"), a, str(tmp_path / "missing")]) == 2
    report = tmp_path / "c" / "report.json"
    ran = json.loads(report.read_text())["examples_run"]
    report.write_text(
        report.read_text().replace(f'"examples_run": {ran}', f'"examples_run": {ran + 1}')
    )
    assert main(["merge", str(tmp_path / "m"), a, str(tmp_path / "c")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 4 and all(e.startswith("harness: error: ") for e in errors)
    assert "has seed 6" in errors[0] and "has 0" in errors[0]
    assert "family 'delivery' is in shard" in errors[1]
    assert "no report.json" in errors[2]
    assert "does not verify" in errors[3]
    assert not (tmp_path / "m").exists()


def test_families_flag_rejects_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--families", "delivery,nonsense"]) == 2
    err = capsys.readouterr().err
    assert "unknown 'nonsense'" in err and "delivery,integrity,rejection" in err


# -- the terminal -------------------------------------------------------------------
def test_progress_goes_to_stderr_a_line_per_family(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, "--examples", "5")
    out, err = capsys.readouterr()
    done = [ln for ln in err.splitlines() if re.match(r"harness: \[\d/3\] ", ln)]
    assert len(done) == 3 and {ln.split()[2] for ln in done} == set(FAMILIES)
    assert str(tmp_path / "report.html") in out and "verdict: PASS" in out


# -- secrets never reach a report or the terminal -------------------------------------
LEAKY = '''
from harness import (BEKYMRINGSMELDING_ID, MOTTATT, REPORT_JSON, REPORT_PDF,
                     StoredRecord)

class Leaky:
    """Quotes its DSN in an error on every first delivery, and never stores (SOR-1)."""
    def __init__(self, env):
        self.dsn = env.options["dsn"]

    def handle(self, message, channel):
        if not message.redelivered:
            raise ConnectionError(f"no connection to {self.dsn} yet")
        channel.reply(MOTTATT)
        channel.ack()

    def records(self):
        return []

def make_case_system(env):
    return Leaky(env)
'''
DSN = "https://user:secret@host/?token=abc"


def without_hex(text: str) -> str:
    """Digests and ids are hex: 'abc' inside one is chance, not the token."""
    return re.sub(r"[0-9a-f]{8,}", "", text)


def test_target_option_credentials_never_reach_a_report_or_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    adapter = tmp_path / "leaky.py"
    adapter.write_text(textwrap.dedent(LEAKY))
    out_dir = tmp_path / "report"
    spec = f"{adapter}:make_case_system"
    args = ["run", "--target", spec, "--examples", "10", "--report", str(out_dir)]
    assert main([*args, "--target-option", f"dsn={DSN}"]) == 1
    out, err = capsys.readouterr()
    texts = {p.name: p.read_text(encoding="utf-8") for p in out_dir.iterdir()}
    texts |= {"stdout": out, "stderr": err}
    assert len(texts) > 4  # report.json, report.html, counterexample files, output
    for name, text in texts.items():
        assert "secret" not in text, f"{name} shows the password"
        assert "abc" not in without_hex(text), f"{name} shows the token"
    report = json.loads(texts["report.json"])
    assert report["target"]["options"] == {"dsn": "https://user:***@host/?token=***"}
    assert report["target"]["redacted_options"] == ["dsn"]
    cx_name = next(n for n in texts if n.startswith("counterexample-"))
    assert "ConnectionError: no connection to https://user:***@host/?token=***" in texts[cx_name]

    # Replay needs the redacted option back, and then reproduces the counterexample.
    cx = str(out_dir / cx_name)
    assert main(["replay", cx]) == 2
    assert "--target-option dsn=VALUE" in capsys.readouterr().err
    assert main(["replay", cx, "--target-option", f"dsn={DSN}"]) == 1
    out = capsys.readouterr().out
    assert "verdict: FAIL" in out and "secret" not in out


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("dsn", DSN, "https://user:***@host/?token=***"),
        ("dsn", "postgresql://app@db:5432/cases", "postgresql://app@db:5432/cases"),
        ("db_password", "hunter2", "***"),
        ("apiKey", "x", "***"),
        ("AUTH_TOKEN", "t", "***"),
        ("conn", "host=db user=app password=hunter2", "host=db user=app password=***"),
        ("odbc", "Server=db;Uid=app;Pwd=hunter2;", "Server=db;Uid=app;Pwd=***;"),
        ("url", "https://h/x?sig=zz&page=2", "https://h/x?sig=***&page=2"),
        ("url", "https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@h/r", "https://***@h/r"),
        ("header", "Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl", "Bearer ***"),
        ("client", "AKIAIOSFODNN7EXAMPLE0", "***"),
        ("region", "eu-north-1", "eu-north-1"),
        ("path", "/var/lib/cases/db.sqlite", "/var/lib/cases/db.sqlite"),
        ("monkey", "banana", "banana"),
    ],
)
def test_redaction(key: str, value: str, shown: str) -> None:
    assert redact_value(key, value) == shown


def test_a_redactor_scrubs_its_secrets_from_free_text_but_not_from_digests() -> None:
    redactor = Redactor.for_options({"dsn": DSN, "api_key": "k3y"})
    text = "failed: user:secret@host token abc and k3y; digest e3abc9f0 sha256:abc123"
    assert redactor.text(text) == (
        "failed: user:***@host token *** and ***; digest e3abc9f0 sha256:abc123"
    )
    assert secret_key("clientSecret") and secret_key("x-api-key") and not secret_key("keyspace")
    assert looks_like_token("AKIAIOSFODNN7EXAMPLE0") and not looks_like_token("eu-north-1")


# -- JUnit XML, for CI dashboards -----------------------------------------------------
def test_junit_xml_carries_clause_ids_and_verdicts(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--harness-target", FAMILIA, "--harness-examples", "10", "--junitxml=junit.xml",
        "--harness-report", "report",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    tree = ET.parse(pytester.path / "junit.xml")
    properties = [
        (p.get("name"), p.get("value"))
        for case in tree.iter("testcase")
        for p in case.iter("property")
    ]
    assert {name for name, _ in properties} == set(CLAUSE_IDS)
    assert {v for _, v in properties} <= {"pass", "fail", "not-exercised"}
    # A clause broken by any family's examples is failed, as in report.json.
    report = json.loads((pytester.path / "report" / "report.json").read_text(encoding="utf-8"))
    failed = {c["id"] for c in report["clauses"] if c["verdict"] == "fail"}
    assert failed and {name for name, v in properties if v == "fail"} == failed


def test_pytest_under_xdist_writes_the_report_harness_run_writes(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    common = ["--seed", "5", "--examples", "20", "--target", FAMILIA]
    cli = run(tmp_path / "cli", *common)
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "xdist", "--harness-target", FAMILIA, "--harness-seed", "5",
        "--harness-examples", "20", "--harness-report", str(tmp_path / "xdist"),
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    xdist = json.loads((tmp_path / "xdist" / "report.json").read_text(encoding="utf-8"))
    assert validate("report", xdist) == []
    assert [(c["id"], c["verdict"]) for c in xdist["clauses"]] == [
        (c["id"], c["verdict"]) for c in cli["clauses"]
    ]
    assert xdist["outcomes"] == cli["outcomes"]
    assert xdist["faults"] == cli["faults"]
