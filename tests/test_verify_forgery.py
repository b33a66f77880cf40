"""`harness verify` against a hostile vendor: edit the report folder of a failing run,
make the digest fit again and re-sign with the vendor's own key, as someone who holds
that key can. Every forgery that leaves the report contradicting itself is TAMPERED;
the one that does not is caught only by running the suite again, as the README says.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import FAMILIA_ABS_SPEC, FAMILIA_FILE, REPO_ROOT, run_cli, run_cli_in

from harness.core.history import History
from harness.report.counterexample import dumps
from harness.report.html_report import render_html, rerun_command
from harness.report.json_report import report_digest
from harness.report.signing import load_private_key, sign
from harness.report.verify import verify_report

Edit = Callable[[dict[str, Any], Path], None]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vendor-keys")
    assert run_cli_in(folder, "keygen", str(folder)).code == 0
    return folder


@pytest.fixture(scope="module")
def signed_fail(tmp_path_factory: pytest.TempPathFactory, keys: Path) -> Path:
    """A signed report folder of familia: FAIL, with LOST reports and counterexamples."""
    folder = tmp_path_factory.mktemp("signed-fail") / "report"
    key = keys / "harness-signing-key.pem"
    result = run_cli_in(
        REPO_ROOT, "run", "--target", FAMILIA_ABS_SPEC, "--examples", "8",
        "--report", str(folder), "--sign-key", str(key),
    )  # fmt: skip
    assert result.code == 1, result
    return folder


def copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "forged"))


def files_of(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in folder.glob("counterexample-*.json")}


def reseal(folder: Path, report: dict[str, Any], keys: Path) -> None:
    """What the vendor does after an edit: new digest, new signature, report.html again
    (where the files it lists are there to render it from)."""
    report.pop("signature", None)
    report["digest"] = report_digest(report)
    report["signature"] = sign(report["digest"], load_private_key(keys / "harness-signing-key.pem"))
    (folder / "report.json").write_text(dumps(report), encoding="utf-8")
    files = files_of(folder)
    named = {c["counterexample"]["file"] for c in report["clauses"] if c["counterexample"]}
    if set(report["files"]) | named <= set(files):
        (folder / "report.html").write_text(render_html(report, files), encoding="utf-8")


def forge(folder: Path, keys: Path, edit: Edit) -> list[str]:
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    edit(report, folder)
    reseal(folder, report, keys)
    found = verify_report(folder / "report.json", keys / "harness-signing-key.pub.pem")
    return found.problems


def file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def assert_caught(problems: list[str], needle: str) -> None:
    assert problems, "the forgery verified as intact"
    assert any(needle in p for p in problems), (needle, problems)


# -- edits -------------------------------------------------------------------------------
def say_pass(report: dict[str, Any], _: Path) -> None:
    report["verdict"] = "pass"


def clauses_pass(report: dict[str, Any], _: Path) -> None:
    report["verdict"] = "pass"
    for c in report["clauses"]:
        if c["verdict"] == "fail":
            c["verdict"], c["counterexample"] = "pass", None


def nothing_names_the_files(report: dict[str, Any], _: Path) -> None:
    clauses_pass(report, _)
    for fam in report["families"]:
        fam["counterexample"], fam["also_failed"] = None, {}


def clean_outcomes_only_at_the_top(report: dict[str, Any], _: Path) -> None:
    clauses_pass(report, _)
    bad = sum(report["outcomes"].pop(k, 0) for k in ("LOST", "CORRUPTED", "DUPLICATED"))
    report["outcomes"]["STORED"] = report["outcomes"].get("STORED", 0) + bad


def drop_a_file(report: dict[str, Any], folder: Path) -> None:
    (folder / sorted(report["files"])[0]).unlink()


def add_a_file(report: dict[str, Any], folder: Path) -> None:
    name = sorted(report["files"])[0]
    shutil.copy(folder / name, folder / "counterexample-extra.json")


def unlist_a_file(report: dict[str, Any], folder: Path) -> None:
    name = sorted(report["files"])[0]
    del report["files"][name]
    (folder / name).unlink()


def passing_history_in_the_counterexample(report: dict[str, Any], folder: Path) -> None:
    """Keep the file, but give it a history in which the report was stored: no violation."""
    name = next(c["counterexample"]["file"] for c in report["clauses"] if c["id"] == "SOR-1")
    path = folder / name
    raw = json.loads(path.read_text(encoding="utf-8"))
    events = History.from_json(raw["history"]).events
    kept = [e for e in events if e.component != "storage"]
    commit = next(i for i, e in enumerate(kept) if e.kind == "reply")
    record = {"t": kept[-1].t, "component": "harness", "kind": "record"}
    accepted = next(e for e in kept if e.kind == "accept")
    raw["history"] = [
        *[e.to_json() for e in kept[:commit]],
        {"t": kept[commit].t, "component": "storage", "kind": "commit", "report": accepted.report,
         "data": {}},
        *[dict(e.to_json(), data={**e.data, "durable": True}) if e.kind == "reply" else e.to_json()
          for e in kept[commit:]],
        {**record, "report": accepted.report,
         "data": {"digest": accepted.data["digest"], "files": ["bekymringsmelding.json"]}},
    ]  # fmt: skip
    path.write_text(dumps(raw), encoding="utf-8")
    report["files"][name] = file_digest(path)


def swap_the_contract(report: dict[str, Any], _: Path) -> None:
    report["contract"]["digest"] = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (say_pass, "the verdict says PASS, but clause SOR-1 says fail"),
        (clauses_pass, "the outcomes count LOST"),
        (nothing_names_the_files, "is listed in the report's files but no clause or family"),
        (clean_outcomes_only_at_the_top, "not the sums of the families' outcomes"),
        (drop_a_file, "is listed in the report but missing beside it"),
        (add_a_file, "counterexample-extra.json lies beside the report but is not listed"),
        (unlist_a_file, "is named as a counterexample but not listed in the report's files"),
        (passing_history_in_the_counterexample, "its history, checked again, does not"),
        (swap_the_contract, "it was checked against another contract"),
    ],
    ids=lambda v: v.__name__ if callable(v) else "",
)
def test_a_re_signed_forgery_that_contradicts_itself_is_tampered(
    signed_fail: Path, keys: Path, tmp_path: Path, edit: Edit, needle: str
) -> None:
    folder = copy(signed_fail, tmp_path)
    assert (
        verify_report(folder / "report.json", keys / "harness-signing-key.pub.pem").problems == []
    )
    assert_caught(forge(folder, keys, edit), needle)


def test_a_report_html_edited_to_say_pass_is_tampered(
    signed_fail: Path, keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy(signed_fail, tmp_path)
    page = folder / "report.html"
    page.write_text(page.read_text(encoding="utf-8").replace(">FAIL<", ">PASS<"), "utf-8")
    result = run_cli(capsys, "verify", str(folder / "report.json"))
    assert result.code == 1
    assert "report.html does not render from report.json" in result.out


def test_a_missing_report_html_is_tampered(signed_fail: Path, tmp_path: Path) -> None:
    folder = copy(signed_fail, tmp_path)
    (folder / "report.html").unlink()
    assert_caught(verify_report(folder / "report.json").problems, "report.html is missing")


def test_verify_prints_the_verdict_it_verified(
    signed_fail: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(
        capsys, "verify", str(signed_fail / "report.json"),
        "--public-key", str(keys / "harness-signing-key.pub.pem"),
    )  # fmt: skip
    assert result.code == 0, result
    report = json.loads((signed_fail / "report.json").read_text(encoding="utf-8"))
    failed = [c["id"] for c in report["clauses"] if c["verdict"] == "fail"]
    assert f"verdict verified: FAIL ({', '.join(failed)})" in result.out


def whole_lie(report: dict[str, Any], folder: Path) -> None:
    """The forgery that agrees with itself everywhere: every sum, every file, the HTML."""
    for entries in (report, *report["families"]):
        bad = sum(entries["outcomes"].pop(k, 0) for k in ("LOST", "CORRUPTED", "DUPLICATED"))
        if bad:
            entries["outcomes"]["STORED"] = entries["outcomes"].get("STORED", 0) + bad
    for fam in report["families"]:
        fam["counterexample"], fam["also_failed"] = None, {}
    clauses_pass(report, folder)
    for name in report["files"]:
        (folder / name).unlink()
    report["files"] = {}


def test_a_forgery_that_agrees_with_itself_is_caught_by_running_the_suite_again(
    signed_fail: Path, keys: Path, tmp_path: Path
) -> None:
    """The limit of verify, and the remedy the README gives a procurement team.

    A vendor holding its own key can sign a PASS that is consistent in every part.
    verify cannot know what the adapter does; the report names the adapter (its
    SHA-256) and the command that reruns the suite, and the rerun tells the truth.
    """
    folder = copy(signed_fail, tmp_path)
    assert forge(folder, keys, whole_lie) == []  # verify alone: intact, "PASS"
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "pass"
    # The procurement team checks the adapter it was given is the one the report names...
    assert report["target"]["adapter"]["sha256"] == file_digest(FAMILIA_FILE)
    # ...and runs the report's own command again.
    argv = [*shlex.split(rerun_command(report))[1:], "--report", str(tmp_path / "rerun")]
    rerun = run_cli_in(REPO_ROOT, *argv)
    assert rerun.code == 1, rerun
    again = json.loads((tmp_path / "rerun" / "report.json").read_text(encoding="utf-8"))
    assert again["verdict"] == "fail" and again["outcomes"] != report["outcomes"]
