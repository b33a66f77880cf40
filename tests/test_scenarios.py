"""Scenarios as data: the file format, its errors, the bundled set, and Bergen 2023."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import SHARED

from harness.core.faults import POINTS
from harness.core.hostile import DATA_PROFILES
from harness.core.workload import DEFECTS
from harness.scenarios.model import ScenarioError, bundled, load, parse
from harness.scenarios.runner import run_scenario
from harness.target import load_target

REPO = Path(__file__).resolve().parent.parent
FAMILIA = f"{REPO / 'examples' / 'familia_2023.py'}:make_case_system"
MINIMAL = """
name = "tiny"
description = "two reports and one crash"
[[workload.reports]]
at = "2023-06-01T10:00:00"
[[workload.reports]]
at = "2023-06-01T10:00:00"
form = "offentlig"
[[faults.plan]]
point = "case_system.crash.after_commit"
"""


def run(name_or_path: str, target: str | None = None):  # type: ignore[no-untyped-def]
    return run_scenario(load(name_or_path), load_target(target).factory, reference=target is None)


def test_bergen_with_the_incidents_bug_loses_all_21_published_reports() -> None:
    result = run("bergen-2023", FAMILIA)
    assert result.outcomes["LOST"] == 21
    assert {"SOR-1", "SOR-2"} <= result.failed
    assert [line.outcome for line in result.lines] == ["LOST"] * 21


def test_bergen_lines_are_the_published_timestamps_and_districts() -> None:
    published = SHARED / "bergen-2023-lost.csv"
    if not published.is_file():
        pytest.skip(
            "../shared/bergen-2023-lost.csv is absent: Bergen's published list is "
            "not available on this machine"
        )
    with published.open(encoding="utf-8") as f:
        rows = [(r["sent_local"], r["district"]) for r in csv.DictReader(f)]
    lines = run("bergen-2023", FAMILIA).lines
    assert [(line.sent, line.district) for line in lines] == rows


def test_bergen_with_the_reference_falls_back_21_times_and_breaks_nothing() -> None:
    result = run("bergen-2023")
    assert result.outcomes["FALLBACK"] == 21 and result.outcomes["LOST"] == 0
    assert result.failed == set() and result.problems == []


@pytest.mark.parametrize("name", sorted(bundled()))
def test_every_bundled_scenario_meets_its_expectations_on_the_reference(name: str) -> None:
    scenario = load(name)
    assert scenario.expect is not None, f"{name} should say what a correct system yields"
    result = run(name)
    assert result.problems == [] and result.failed == set()


def test_a_new_scenario_is_a_file_dropped_into_a_folder(tmp_path: Path) -> None:
    path = tmp_path / "mine" / "tiny.toml"
    path.parent.mkdir()
    path.write_text(MINIMAL, encoding="utf-8")
    result = run(str(path))
    assert result.examples == 1 and result.outcomes["STORED"] == 2
    assert result.fired["case_system.crash.after_commit"] == 1


@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        (
            '[[faults.windows]]\npoint = "storage.melt"\n'
            'from = "2023-06-01T10:00:00"\nseconds = 1\n',
            "faults.windows[0].point",
            "'storage.melt' is not allowed; allowed: case_system",
        ),
        ('colour = "red"\n', "(top level)", "unknown key 'colour'; allowed: deadline_hours"),
        ('seed = "one"\n', "seed", "'one' is not of type 'integer'"),
        ("[expect]\noutcomes = { KEPT = 1 }\n", "expect.outcomes", "unknown key 'KEPT'"),
    ],
)
def test_a_bad_scenario_names_the_file_the_key_and_what_is_allowed(
    tmp_path: Path, change: str, key: str, says: str
) -> None:
    path = tmp_path / "bad.toml"
    head, _, tail = MINIMAL.partition("[[workload.reports]]")
    path.write_text(head + change + "[[workload.reports]]" + tail, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: key {key}:"), message
    assert says in message and "\n" not in message


def test_unknown_names_and_unreadable_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no scenario 'nope': give a bundled name"):
        load("nope")
    (tmp_path / "x.toml").write_text("name = ", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load(str(tmp_path / "x.toml"))
    with pytest.raises(ScenarioError, match="before the scenario's start"):
        parse(
            {
                "name": "early",
                "description": "d",
                "start": "2023-01-02T00:00:00",
                "workload": {"reports": [{"at": "2023-01-01T00:00:00"}]},
            },
            "early.toml",
        )


def test_the_scenario_schema_knows_every_point_profile_and_defect() -> None:
    schema = json.loads((REPO / "harness" / "scenarios" / "scenario.schema.json").read_text())
    props = schema["properties"]
    window = props["faults"]["properties"]["windows"]["items"]["properties"]
    assert set(window["point"]["enum"]) == set(POINTS)
    generate = props["workload"]["properties"]["generate"]["properties"]
    assert set(generate["data"]["items"]["enum"]) == {"plain", *DATA_PROFILES}
    report = props["workload"]["properties"]["reports"]["items"]["properties"]
    assert set(report["defect"]["enum"]) == set(DEFECTS)


# -- the command line ----------------------------------------------------------------
def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from harness.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_bergen_with_familia_exits_1_and_lists_the_21_lost_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys, "run", "--scenario", "bergen-2023", "--target", FAMILIA, "--report", str(tmp_path)
    )
    assert code == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outcomes"]["LOST"] == 21
    lost = [line for line in out.splitlines() if line.strip().startswith("LOST ")]
    assert len(lost) == 21
    assert "2021-02-25T13:03:46" in lost[0] and "Bergenhus/Årstad" in lost[0]
    assert "2023-05-02T14:27:22" in lost[-1] and "Fyllingsdalen/Laksevåg" in lost[-1]
    sent = [r["sent"] for r in report["scenarios"][0]["reports"]]
    assert sent == sorted(sent) and len(set(sent)) == 21


def test_cli_bergen_with_the_reference_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "run", "--scenario", "bergen-2023", "--report", str(tmp_path))
    assert code == 0, out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outcomes"] == {"FALLBACK": 21}
    assert all(c["verdict"] != "fail" for c in report["clauses"])
    assert report["scenarios"][0]["problems"] == []


def test_cli_unknown_fault_in_a_scenario_file_exits_2_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "typo.toml"
    path.write_text(MINIMAL.replace("crash.after_commit", "crash.after_comit"), encoding="utf-8")
    code, out, err = cli(capsys, "run", "--scenario", str(path), "--report", str(tmp_path / "r"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert str(path) in err and "faults.plan[0].point" in err and "'case_system.crash" in err


def test_cli_runs_a_dropped_in_scenario_and_lists_the_bundled_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    code, out, _ = cli(capsys, "run", "--scenario", str(path), "--report", str(tmp_path / "r"))
    assert code == 0, out
    assert "scenario:tiny: STORED 2" in out
    code, out, _ = cli(capsys, "scenarios")
    assert code == 0
    assert [ln.split()[0] for ln in out.splitlines()[: len(bundled())]] == sorted(bundled())


def test_cli_an_unmet_expectation_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wrong.toml"
    path.write_text(MINIMAL + "[expect]\noutcomes = { STORED = 3 }\n", encoding="utf-8")
    code, out, _ = cli(capsys, "run", "--scenario", str(path), "--report", str(tmp_path / "r"))
    assert code == 1
    assert "expectation not met: scenario tiny: expected STORED = 3, got 2" in out


def test_cli_replays_a_scenario_counterexample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "run", "--scenario", "bergen-2023", "--target", FAMILIA, "--report", str(tmp_path))
    (file,) = tmp_path.glob("counterexample-*.json")
    code, out, _ = cli(capsys, "replay", str(file))
    assert code == 1 and "verdict: FAIL (SOR-1, SOR-2)" in out


def test_the_worked_example_in_the_docs_runs_and_meets_its_expectations(tmp_path: Path) -> None:
    text = (REPO / "docs" / "scenarios.md").read_text(encoding="utf-8")
    block = text.split("## A worked example", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    path = tmp_path / "night-batch.toml"
    path.write_text(block, encoding="utf-8")
    result = run(str(path))
    assert result.problems == [] and result.failed == set()
    assert sum(result.outcomes.values()) >= 40
