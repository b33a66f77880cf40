"""The `harness` command, run in-process: exit codes, report files, replay and verify."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    CLAUSE_IDS,
    EXAMPLES,
    FAMILIA_SPEC,
    HANGING_ADAPTER,
    NOT_AN_ADAPTER,
    RAISING_ADAPTER,
    REFERENCE_SPEC,
    REPO_ROOT,
    CliResult,
    counterexamples,
    first_counterexample,
    read_report,
    replay_timeline,
    run_cli,
    run_cli_in,
    stable_part,
    verdicts,
    write_module,
)

from harness import Outcome, Plan, ReportSpec, check, simulate
from harness.target import load_target

HANG_TIMEOUT = 120  # seconds: far above the guard, reached only if the guard is broken
TIME = re.compile(r"\b\d+\+\d\d:\d\d:\d\d\.\d{3}\b")  # virtual time, e.g. 0+00:00:00.050


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository root, as a vendor runs `harness` from a checkout."""
    monkeypatch.chdir(REPO_ROOT)
    return REPO_ROOT


@pytest.fixture(scope="module")
def familia_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[CliResult, Path]:
    """One familia run from the repository root, shared by the tests that only read it."""
    report = tmp_path_factory.mktemp("familia")
    result = run_cli_in(
        REPO_ROOT, "run", "--target", FAMILIA_SPEC, "--examples", EXAMPLES, "--report", str(report)
    )
    return result, report


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[CliResult, Path]:
    """One run without --target (the bundled reference), shared by the tests that read it."""
    report = tmp_path_factory.mktemp("reference")
    result = run_cli_in(REPO_ROOT, "run", "--examples", EXAMPLES, "--report", str(report))
    return result, report


def copy_of(directory: Path, tmp_path: Path) -> Path:
    """A private copy of a shared report directory, for a test that changes it."""
    return Path(shutil.copytree(directory, tmp_path / directory.name))


def assert_one_line_error(result: CliResult, *needles: str) -> None:
    assert result.code == 2, result
    assert "Traceback" not in result.out + result.err
    assert len(result.err_lines) == 1, f"expected one line on stderr, got:\n{result.err}"
    for needle in needles:
        assert needle in result.err_lines[0], (needle, result.err_lines[0])


# -- run ------------------------------------------------------------------------------
def test_run_without_target_checks_the_reference_and_passes(
    reference_run: tuple[CliResult, Path],
) -> None:
    result, report_dir = reference_run

    assert result.code == 0, result.out + result.err
    report = read_report(report_dir)
    assert report["verdict"] == "pass"
    assert [c["id"] for c in report["clauses"]] == CLAUSE_IDS
    for clause in report["clauses"]:
        assert {"id", "verdict", "counterexample"} <= clause.keys()
        assert clause["verdict"] == "pass", clause
        assert clause["counterexample"] is None
    assert report["seed"] == 0
    assert report["examples"] == int(EXAMPLES)
    assert {"version", "digest"} <= report["contract"].keys()
    assert report["contract"]["digest"].startswith("sha256:")
    assert REFERENCE_SPEC in str(report["target"])
    assert report["outcomes"], "a passing run still counts the outcomes it saw"
    assert set(report["outcomes"]) <= {o.value for o in Outcome}
    assert sum(report["outcomes"].values()) > 0
    assert not list(report_dir.glob("counterexample-*.json"))
    assert (report_dir / "report.html").is_file()
    assert "verdict: PASS" in result.out


def test_run_against_familia_fails_with_a_timeline_and_a_replay_line(
    familia_run: tuple[CliResult, Path],
) -> None:
    result, report_dir = familia_run

    assert result.code == 1, result.out + result.err
    report = read_report(report_dir)
    assert report["verdict"] == "fail"
    assert verdicts(report)["SOR-1"] == "fail"
    sor1 = next(c for c in report["clauses"] if c["id"] == "SOR-1")
    assert sor1["counterexample"] is not None

    timeline, replay_file = first_counterexample(result.out_lines)
    text = "\n".join(timeline)
    assert TIME.search(text), text
    assert "0+00:00:00.050" in text
    for component in ("portal", "transport", "case_system"):
        assert component in text
    assert any(ln.startswith("replay: harness replay ") for ln in result.out_lines)
    assert replay_file.is_file()
    assert replay_file.parent == report_dir
    assert "Traceback" not in result.out + result.err


def test_replay_prints_the_same_timeline_the_run_printed(
    in_repo: Path, familia_run: tuple[CliResult, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run, _ = familia_run
    shown = counterexamples(run.out_lines)
    assert shown

    for timeline, replay_file in shown:
        replayed = run_cli(capsys, "replay", str(replay_file))

        assert replayed.code == 1, replayed.out + replayed.err
        assert replay_timeline(replayed.out_lines) == timeline, replay_file.name
        assert any(ln.startswith("verdict: FAIL") for ln in replayed.out_lines)


def test_familia_fails_exactly_the_clauses_it_expects(
    in_repo: Path, familia_run: tuple[CliResult, Path]
) -> None:
    _, report_dir = familia_run
    expects = load_target(FAMILIA_SPEC).expects
    assert expects is not None and "SOR-1" in expects

    report = read_report(report_dir)

    failing = {c["id"] for c in report["clauses"] if c["verdict"] == "fail"}
    assert failing == expects, f"familia broke {sorted(failing)}, but declares {sorted(expects)}"


def test_the_same_seed_gives_the_same_report(
    in_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    args = ("run", "--target", FAMILIA_SPEC, "--examples", EXAMPLES, "--seed", "5")
    first = run_cli(capsys, *args, "--report", str(a))
    second = run_cli(capsys, *args, "--report", str(b))

    assert first.code == second.code == 1
    # Only `started`, `finished` and `environment` may differ (and the digest over them).
    assert stable_part(read_report(a)) == stable_part(read_report(b))
    files_a = sorted(p.name for p in a.glob("counterexample-*.json"))
    assert files_a, "familia must leave counterexample files"
    assert files_a == sorted(p.name for p in b.glob("counterexample-*.json"))
    for name in files_a:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert first.out.replace(str(a), "DIR") == second.out.replace(str(b), "DIR")


def test_workers_do_not_change_what_is_found(
    in_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("run", "--target", FAMILIA_SPEC, "--examples", EXAMPLES, "--seed", "3")
    serial = run_cli(capsys, *args, "-n", "1", "--report", str(tmp_path / "one"))
    parallel = run_cli(capsys, *args, "-n", "2", "--report", str(tmp_path / "two"))

    assert serial.code == parallel.code == 1
    one, two = read_report(tmp_path / "one"), read_report(tmp_path / "two")
    assert (one["workers"], two["workers"]) == (1, 2)
    assert verdicts(one) == verdicts(two)
    assert one["outcomes"] == two["outcomes"]
    assert one["examples_run"] == two["examples_run"]
    assert one["clauses"] == two["clauses"]


# -- usage errors: exit 2, one line ------------------------------------------------------
def test_bad_target_missing_file(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = "examples/no_such_adapter.py:make_case_system"
    result = run_cli(capsys, "run", "--target", spec, "--report", "unused")
    assert_one_line_error(result, spec, "a valid SPEC is", "no_such_adapter.py")
    assert not (in_repo / "unused").exists()


def test_bad_target_missing_attribute(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = "examples/familia_2023.py:make_fagsystem"
    result = run_cli(capsys, "run", "--target", spec, "--report", "unused")
    # names the missing attribute and shows the candidates that do exist
    assert_one_line_error(result, spec, "a valid SPEC is", "make_fagsystem", "make_case_system")


def test_bad_target_not_an_adapter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_module(tmp_path, "not_adapter", NOT_AN_ADAPTER)
    spec = "not_adapter.py:make"
    result = run_cli(capsys, "run", "--target", spec, "--report", str(tmp_path / "r"))
    assert_one_line_error(result, spec, "a valid SPEC is", "not a case-system adapter")


@pytest.mark.parametrize("how", ["os._exit(0)", "raise SystemExit(0)"])
def test_a_factory_that_exits_is_a_bad_target_not_the_end_of_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    # Either way out would otherwise end the harness with status 0 and no report.
    monkeypatch.chdir(tmp_path)
    write_module(tmp_path, "exits", f"import os\n\ndef make(env):\n    {how}\n")
    result = run_cli(capsys, "run", "--target", "exits.py:make", "--report", str(tmp_path / "r"))
    assert_one_line_error(result, "exits.py:make", "calling the factory raised")
    assert not (tmp_path / "r").exists()


def test_bad_target_without_colon(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = "examples/familia_2023.py"
    result = run_cli(capsys, "run", "--target", spec, "--report", "unused")
    assert_one_line_error(result, repr(spec), "a valid SPEC is")


@pytest.mark.parametrize(
    ("flag", "value"), [("--examples", "0"), ("--seed", "-1"), ("--seed", "abc")]
)
def test_bad_flag_value_is_repeated_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    result = run_cli(capsys, "run", flag, value, "--report", str(tmp_path))
    assert_one_line_error(result, flag, repr(value))
    assert not (tmp_path / "report.json").exists()


# -- verify and replay ----------------------------------------------------------------
def test_verify_accepts_a_fresh_report_and_rejects_one_changed_character(
    reference_run: tuple[CliResult, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy_of(reference_run[1], tmp_path) / "report.json"

    intact = run_cli(capsys, "verify", str(path))
    assert intact.code == 0, intact.out + intact.err
    assert "intact" in intact.out

    text = path.read_text(encoding="utf-8")
    assert '"seed": 0,' in text
    path.write_text(text.replace('"seed": 0,', '"seed": 1,', 1), encoding="utf-8")
    tampered = run_cli(capsys, "verify", str(path))
    assert tampered.code == 1, tampered.out + tampered.err
    assert not tampered.out.startswith("intact")


def test_verify_notices_a_changed_counterexample_file(
    familia_run: tuple[CliResult, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_dir = copy_of(familia_run[1], tmp_path)
    assert run_cli(capsys, "verify", str(report_dir / "report.json")).code == 0
    cx = sorted(report_dir.glob("counterexample-*.json"))[0]
    text = cx.read_text(encoding="utf-8")
    cx.write_text(text.replace('"shrunk": ', '"shrunk":  ', 1), encoding="utf-8")

    assert run_cli(capsys, "verify", str(report_dir / "report.json")).code == 1


def test_replay_of_a_report_is_a_usage_error(
    reference_run: tuple[CliResult, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "replay", str(reference_run[1] / "report.json"))
    assert_one_line_error(result, "report.json", "not a counterexample file")


def test_replay_of_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "replay", str(tmp_path / "counterexample-nope.json"))
    assert_one_line_error(result, "counterexample-nope.json")


# -- robust to the code under test -----------------------------------------------------
def test_an_adapter_that_raises_is_history_not_a_harness_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_module(tmp_path, "raising", RAISING_ADAPTER)
    spec = "raising.py:make"

    result = run_cli(capsys, "run", "--target", spec, "--examples", EXAMPLES, "--report", "r")

    assert result.code in (0, 1), result.out + result.err
    assert "Traceback" not in result.out + result.err
    report = read_report(tmp_path / "r")
    assert set(verdicts(report).values()) <= {"pass", "fail", "not-exercised"}
    assert run_cli(capsys, "verify", str(tmp_path / "r" / "report.json")).code == 0

    # The history shows the raise as a crash of the case system, with what it raised.
    run = simulate(Plan(1, (ReportSpec(0),)), load_target(spec).factory)
    crashes = [e for e in run.history if e.component == "case_system" and e.kind == "crash"]
    assert crashes, [(e.component, e.kind) for e in run.history]
    assert all(e.data["cause"] == "raised" for e in crashes)
    assert "RuntimeError: adapter exploded on purpose" in crashes[0].data["detail"]
    assert run.completed and run.hung is None
    outcomes = set(check(run.history).outcomes.values())
    assert outcomes == {Outcome.FALLBACK}, outcomes  # never stored, the portal fell back


def test_an_adapter_that_hangs_is_stopped_and_reported(tmp_path: Path) -> None:
    # In a child process, so that a broken guard fails this test instead of hanging the
    # session; one worker per family, so the three guard periods (5 s each) overlap.
    write_module(tmp_path, "hanging", HANGING_ADAPTER)
    spec = f"{tmp_path / 'hanging.py'}:make"
    report_dir = tmp_path / "r"
    argv = ["run", "--target", spec, "--examples", EXAMPLES, "-n", "3", "--report", str(report_dir)]

    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", *argv],
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT,
        cwd=tmp_path,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    report = read_report(report_dir)
    assert report["verdict"] == "fail"
    assert "SOR-7" in {c["id"] for c in report["clauses"] if c["verdict"] == "fail"}
    assert "cause=hung" in done.stdout
    assert "did not return within" in done.stdout


def test_every_counterexample_file_is_listed_in_the_terminal(
    familia_run: tuple[CliResult, Path],
) -> None:
    result, report_dir = familia_run
    names = sorted(read_report(report_dir)["files"])
    assert len(names) >= 2, "familia breaks clauses of more than one family"
    assert sorted(p.name for p in report_dir.glob("counterexample-*.json")) == names
    listed = result.out[result.out.index("counterexample files (") :]
    for name in names:
        assert str(report_dir / name) in listed, name
