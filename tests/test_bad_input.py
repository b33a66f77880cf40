"""Bad input to every command: exit 2, one line saying what is wrong and how to fix it,
found before any simulation runs, and nothing of the user's lost."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    FAMILIA_FILE,
    FAMILIA_SPEC,
    REPO_ROOT,
    CliResult,
    counterexamples,
    replay_timeline,
    run_cli,
    run_cli_in,
    write_module,
)

import harness.report.counterexample
import harness.sim.world
import harness.suite.run
from harness.core.workload import ReportSpec, make_submission
from harness.report.counterexample import MAX_REPORTS, MAX_TIME_MS


def assert_one_line_error(result: CliResult, *needles: str) -> None:
    assert result.code == 2, result
    assert "Traceback" not in result.out + result.err
    assert result.out == "", "nothing but the error line may be printed"
    assert len(result.err_lines) == 1, f"expected one line on stderr, got:\n{result.err}"
    line = result.err_lines[0]
    assert line.startswith("harness: error: "), line
    assert len(line) < 400, f"one readable line, not {len(line)} characters"
    for needle in needles:
        assert needle in line, (needle, line)


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any simulation is a test failure: bad input must be refused before one starts."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a simulation ran before the bad input was refused")

    monkeypatch.setattr(harness.suite.run, "run_suite", refuse)
    monkeypatch.setattr(harness.sim.world, "simulate", refuse)
    monkeypatch.setattr(harness.report.counterexample, "simulate", refuse)


@pytest.fixture(scope="module")
def familia(tmp_path_factory: pytest.TempPathFactory) -> tuple[CliResult, Path]:
    """A failing run from the repository root, with a relative --target (as a vendor types it)."""
    report = tmp_path_factory.mktemp("familia")
    result = run_cli_in(
        REPO_ROOT, "run", "--target", FAMILIA_SPEC, "--examples", "4", "--report", str(report)
    )
    assert result.code == 1, result
    return result, report


def a_counterexample(familia: tuple[CliResult, Path]) -> dict[str, Any]:
    path = sorted(familia[1].glob("counterexample-delivery-*.json"))[0]
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# -- run: --examples ---------------------------------------------------------------------
@pytest.mark.parametrize("n", ["1", "2", "3"])
def test_fewer_examples_than_slices_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], no_simulation: None, tmp_path: Path, n: str
) -> None:
    result = run_cli(capsys, "run", "--examples", n, "--report", str(tmp_path / "r"))
    assert_one_line_error(result, f"'{n}' examples is too few", "at least 4")
    assert not (tmp_path / "r").exists()


# -- run: --report -----------------------------------------------------------------------
def test_report_that_is_a_file(
    capsys: pytest.CaptureFixture[str], no_simulation: None, tmp_path: Path
) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine\n", encoding="utf-8")
    result = run_cli(capsys, "run", "--report", str(taken))
    assert_one_line_error(result, "is a file, not a folder")
    assert taken.read_text(encoding="utf-8") == "mine\n"


def test_report_under_a_file(
    capsys: pytest.CaptureFixture[str], no_simulation: None, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    result = run_cli(capsys, "run", "--report", str(tmp_path / "notes.txt" / "report"))
    assert_one_line_error(result, "which is a file")


@pytest.mark.parametrize("below", [False, True], ids=["the-folder", "a-folder-under-it"])
def test_report_in_a_read_only_folder(
    capsys: pytest.CaptureFixture[str], no_simulation: None, tmp_path: Path, below: bool
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = run_cli(capsys, "run", "--report", str(locked / "r" if below else locked))
    finally:
        locked.chmod(stat.S_IRWXU)  # so the test's folder can be removed
    assert_one_line_error(result, "is read-only", "make it writable or give another folder")
    assert list(locked.iterdir()) == []


def test_empty_report_is_refused_and_the_current_folder_keeps_its_files(
    capsys: pytest.CaptureFixture[str],
    no_simulation: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "counterexample-of-my-own.json"
    mine.write_text("{}\n", encoding="utf-8")
    result = run_cli(capsys, "run", "--report", "")
    assert_one_line_error(result, "--report is empty")
    assert mine.read_text(encoding="utf-8") == "{}\n"


def test_a_folder_of_foreign_counterexample_files_is_not_emptied(
    capsys: pytest.CaptureFixture[str], no_simulation: None, tmp_path: Path
) -> None:
    mine = tmp_path / "counterexample-notes.json"
    mine.write_text("{}\n", encoding="utf-8")
    result = run_cli(capsys, "run", "--report", str(tmp_path))
    assert_one_line_error(result, "not a report folder", "give an empty or new folder")
    assert mine.is_file()


def test_a_previous_report_folder_is_replaced(
    tmp_path: Path, familia: tuple[CliResult, Path]
) -> None:
    """The one folder whose counterexample files a run may delete: a report folder."""
    import shutil

    folder = Path(shutil.copytree(familia[1], tmp_path / "old"))
    assert list(folder.glob("counterexample-*.json"))
    result = run_cli_in(REPO_ROOT, "run", "--examples", "4", "--report", str(folder))
    assert result.code == 0, result
    assert not list(folder.glob("counterexample-*.json"))


# -- run: scenario files -------------------------------------------------------------------
def test_a_scenario_file_that_is_not_utf8(
    capsys: pytest.CaptureFixture[str], no_simulation: None, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Årstad"\n'.encode("latin-1"))
    result = run_cli(capsys, "run", "--scenario", str(path), "--report", str(tmp_path / "r"))
    assert_one_line_error(result, "latin1.toml", "not UTF-8", "save the scenario file as UTF-8")


# -- replay: counterexample files ---------------------------------------------------------
def _broken(raw: dict[str, Any], how: str) -> dict[str, Any]:
    plan = raw["plan"]
    if how == "no-plan":
        del raw["plan"]
    elif how == "unknown-form":
        plan["reports"][0]["form"] = "anonym"
    elif how == "huge-at":
        plan["reports"][0]["at"] = 10**400
    elif how == "100000-reports":
        plan["reports"] = [dict(plan["reports"][0], at=i) for i in range(100_000)]
    elif how == "unknown-point":
        plan["faults"] = [{"point": "storage.nope", "nth": 0, "count": 1}]
    elif how == "negative-nth":
        plan["faults"] = [{"point": "storage.execute.error", "nth": -1, "count": 1}]
    return raw


@pytest.mark.parametrize(
    ("how", "needle"),
    [
        ("no-plan", "it has no plan"),
        ("unknown-form", "form 'anonym'"),
        ("huge-at", f"from 0 to {MAX_TIME_MS}"),
        ("100000-reports", f"100000 reports, more than replay takes ({MAX_REPORTS})"),
        ("unknown-point", "names no injection point"),
        ("negative-nth", ".nth is -1"),
    ],
)
def test_a_counterexample_file_that_harness_run_cannot_have_written(
    capsys: pytest.CaptureFixture[str],
    no_simulation: None,
    tmp_path: Path,
    familia: tuple[CliResult, Path],
    how: str,
    needle: str,
) -> None:
    path = tmp_path / "counterexample-broken.json"
    path.write_text(json.dumps(_broken(a_counterexample(familia), how)), encoding="utf-8")
    result = run_cli(capsys, "replay", str(path))
    assert_one_line_error(result, "counterexample-broken.json", needle)


def test_a_counterexample_file_with_an_unknown_format(
    capsys: pytest.CaptureFixture[str], no_simulation: None, tmp_path: Path
) -> None:
    path = tmp_path / "counterexample-x.json"
    path.write_text('{"format": "harness-counterexample/99"}', encoding="utf-8")
    assert_one_line_error(run_cli(capsys, "replay", str(path)), "is not a counterexample file")


def test_a_deeply_nested_counterexample_file(
    capsys: pytest.CaptureFixture[str], no_simulation: None, tmp_path: Path
) -> None:
    path = tmp_path / "counterexample-deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert_one_line_error(run_cli(capsys, "replay", str(path)), "nests too deeply")


def test_replay_target_is_not_read_as_target_option(
    familia: tuple[CliResult, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`--target X` points the replay elsewhere (here: at the reference, which passes)."""
    path = sorted(familia[1].glob("counterexample-delivery-*.json"))[0]
    reference = "harness.components.case_system:make_case_system"
    result = run_cli(capsys, "replay", str(path), "--target", reference)
    assert result.code == 0, result
    assert f"target {reference}" in result.out_lines[0]
    assert "the counterexample no longer reproduces" in result.out


def test_abbreviated_options_are_not_guessed(
    capsys: pytest.CaptureFixture[str], no_simulation: None, tmp_path: Path
) -> None:
    result = run_cli(capsys, "run", "--exam", "5", "--report", str(tmp_path / "r"))
    assert_one_line_error(result, "unrecognized arguments: --exam")


# -- replay from any folder --------------------------------------------------------------
def test_replay_from_another_folder_gives_the_same_timeline(
    familia: tuple[CliResult, Path], tmp_path: Path
) -> None:
    """The run took the relative `examples/familia_2023.py`; replay runs from elsewhere."""
    result, _ = familia
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for timeline, file in counterexamples(result.out_lines):
        raw = json.loads(file.read_text(encoding="utf-8"))
        assert raw["target"] == FAMILIA_SPEC
        assert raw["locate"]["path"] == str(FAMILIA_FILE)
        again = run_cli_in(elsewhere, "replay", str(file))
        assert again.code == 1, again
        assert replay_timeline(again.out_lines) == timeline


def test_replay_of_a_module_target_from_another_folder(tmp_path: Path) -> None:
    """A `module:attr` target is found again by its module name and the folder it came from."""
    project = tmp_path / "vendor"
    (project / "acme").mkdir(parents=True)
    (project / "acme" / "__init__.py").write_text("", encoding="utf-8")
    familia = FAMILIA_FILE.read_text(encoding="utf-8")
    write_module(project / "acme", "adapter", familia)
    run = run_cli_in(
        project, "run", "--target", "acme.adapter:make_case_system", "--examples", "4",
        "--report", str(tmp_path / "r"),
    )  # fmt: skip
    assert run.code == 1, run
    timeline, file = counterexamples(run.out_lines)[0]
    raw = json.loads(file.read_text(encoding="utf-8"))
    assert raw["locate"]["module"] == "acme.adapter"
    assert raw["locate"]["root"] == str(project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    import sys

    sys.path[:] = [p for p in sys.path if p not in (str(project), "")]
    for name in [m for m in sys.modules if m == "acme" or m.startswith("acme.")]:
        del sys.modules[name]  # as a new process from another folder would start
    again = run_cli_in(elsewhere, "replay", str(file))
    assert again.code == 1, again
    assert replay_timeline(again.out_lines) == timeline


def test_replay_says_when_the_adapter_changed_since_it_was_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    adapter = write_module(tmp_path, "mine", FAMILIA_FILE.read_text(encoding="utf-8"))
    spec = f"{adapter}:make_case_system"
    run = run_cli(
        capsys, "run", "--target", spec, "--examples", "4", "--report", str(tmp_path / "r")
    )
    assert run.code == 1
    file = counterexamples(run.out_lines)[0][1]
    adapter.write_text(adapter.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    again = run_cli(capsys, "replay", str(file))
    assert "mine.py has changed since this counterexample was recorded" in again.err


def test_replay_of_a_target_that_is_gone_names_it_and_the_fix(
    familia: tuple[CliResult, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_simulation: None,
) -> None:
    raw = a_counterexample(familia)
    raw["target"] = "gone/adapter.py:make_case_system"
    raw["locate"]["path"] = str(tmp_path / "gone" / "adapter.py")
    path = tmp_path / "counterexample-gone.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    result = run_cli(capsys, "replay", str(path))
    assert_one_line_error(result, "cannot find its target", "--target SPEC")


# -- verify and validate --------------------------------------------------------------------
def test_verify_of_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run_cli(capsys, "verify", str(tmp_path / "report.json"))
    assert_one_line_error(result, "cannot read", "No such file")


@pytest.mark.parametrize("command", ["verify", "validate"])
def test_verify_and_validate_of_deeply_nested_arrays(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    path = tmp_path / "report.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    extra = ["--type", "privat.v2"] if command == "validate" else []
    assert_one_line_error(run_cli(capsys, command, str(path), *extra), "too deeply")


def test_verify_of_a_crlf_converted_report_is_tampered(
    familia: tuple[CliResult, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    folder = Path(shutil.copytree(familia[1], tmp_path / "crlf"))
    path = folder / "report.json"
    assert run_cli(capsys, "verify", str(path)).code == 0
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    result = run_cli(capsys, "verify", str(path))
    assert result.code == 1
    assert "TAMPERED" in result.out and "CRLF" in result.out


def test_validate_of_a_50_mb_field_shows_its_start_not_all_of_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = json.loads(make_submission(0, ReportSpec(0), 0).files["bekymringsmelding.json"])
    body["kommunenummer"] = "9" * (50 * 1024 * 1024)
    path = tmp_path / "privat-v2.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    result = run_cli(capsys, "validate", str(path), "--type", "privat.v2")
    assert result.code == 1
    assert "$.kommunenummer" in result.out
    assert "characters left out" in result.out
    assert "does not match" in result.out  # the rule it broke is still named
    assert len(result.out) < 2_000


# -- keygen --------------------------------------------------------------------------------
def test_keygen_into_an_existing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    taken = tmp_path / "key.pem"
    taken.write_text("mine\n", encoding="utf-8")
    result = run_cli(capsys, "keygen", str(taken))
    assert_one_line_error(result, "is a file, not a folder")
    assert taken.read_text(encoding="utf-8") == "mine\n"
