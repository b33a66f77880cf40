"""The pytest plugin, driven through `pytester` in a subprocess (as xdist's acceptance tests do)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from helpers import EXAMPLES, FAMILIA_ABS_SPEC, REFERENCE_SPEC, failing, run_cli_in

from harness.report.verify import verify_report
from harness.suite.search import FAMILIES

FEW = "5"  # for tests about collection, not about what the suite finds
TIMEOUT = 180  # seconds; only against a harness that hangs, never reached otherwise


# -- small helpers over pytester -------------------------------------------------------
def run_suite(
    pytester: pytest.Pytester, spec: str, *args: str, examples: str = EXAMPLES
) -> pytest.RunResult:
    """`pytest --harness-target SPEC --harness-examples 30 ARGS...` in a fresh process."""
    return pytester.runpytest_subprocess(
        "--harness-target", spec, "--harness-examples", examples, *args, timeout=TIMEOUT
    )


def run_plain(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, timeout=TIMEOUT)


def output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def tail(result: pytest.RunResult, n: int = 25) -> str:
    """The end of a run's output, for an assertion message that stays readable."""
    return "\n".join((result.outlines + result.errlines)[-n:])


def report_in(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    return data


def assert_usage_error(result: pytest.RunResult, *needles: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, tail(result)
    errors = "\n".join(result.errlines)
    for needle in needles:
        assert needle in errors, (needle, errors)
    assert "Traceback" not in output(result)
    assert "harness contract:" not in output(result), "no contract item may run"


def junit_cases(path: Path) -> dict[str, ET.Element]:
    return {case.attrib["name"]: case for case in ET.parse(path).getroot().iter("testcase")}


def properties(case: ET.Element) -> dict[str, str]:
    return {p.attrib["name"]: p.attrib["value"] for p in case.iter("property")}


# -- the contract suite as test items -----------------------------------------------------
def assert_report_written_once(result: pytest.RunResult, report_dir: Path) -> dict[str, Any]:
    written = [ln for ln in result.outlines if "report written to" in ln]
    assert len(written) == 1, result.outlines
    report = report_in(report_dir)
    assert report["verdict"] == "fail"
    assert "SOR-1" in failing(report)
    assert report["examples"] == int(EXAMPLES)
    # every family's result reached the report (from the workers, under xdist)
    assert [f["family"] for f in report["families"]] == list(FAMILIES)
    assert list(report_dir.glob("counterexample-*.json"))
    assert verify_report(report_dir / "report.json").problems == []
    return report


def test_familia_fails_the_delivery_item_and_the_report_says_so(
    pytester: pytest.Pytester,
) -> None:
    result = run_suite(pytester, FAMILIA_ABS_SPEC, "-rA", "--harness-report", "rep")

    assert result.ret == pytest.ExitCode.TESTS_FAILED, tail(result)
    result.stdout.fnmatch_lines(["FAILED harness-contract::delivery*"])
    assert "SOR-1" in result.stdout.str()
    assert "0+00:00:00.050" in result.stdout.str(), "the failure shows its timeline"
    report = assert_report_written_once(result, pytester.path / "rep")
    assert report["workers"] == 1


def test_under_xdist_the_controller_writes_the_same_report_once(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result = run_suite(pytester, FAMILIA_ABS_SPEC, "-n", "2", "-rA", "--harness-report", "rep")

    assert result.ret == pytest.ExitCode.TESTS_FAILED, tail(result)
    result.stdout.fnmatch_lines(["*2 workers*", "FAILED harness-contract::delivery*"])
    assert "SOR-1" in result.stdout.str()
    report = assert_report_written_once(result, pytester.path / "rep")
    assert report["workers"] == 2
    # what the workers found, merged, is what one process finds with the same seed
    cli = run_cli_in(
        tmp_path, "run", "--target", FAMILIA_ABS_SPEC, "--examples", EXAMPLES, "--report", "cli"
    )
    assert cli.code == 1, cli.out + cli.err
    alone = report_in(tmp_path / "cli")
    assert report["clauses"] == alone["clauses"]
    assert report["outcomes"] == alone["outcomes"]
    assert report["families"] == alone["families"]


def test_reference_passes_all_three_items(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, REFERENCE_SPEC)

    result.assert_outcomes(passed=len(FAMILIES))
    assert result.ret == pytest.ExitCode.OK


def test_the_contract_items_count_as_collected(pytester: pytest.Pytester) -> None:
    listed = run_suite(pytester, REFERENCE_SPEC, "--collect-only", "-q")

    listed.stdout.fnmatch_lines([f"harness-contract::{f}" for f in FAMILIES])
    assert "no tests collected" not in listed.stdout.str()
    listed.stdout.fnmatch_lines([f"{len(FAMILIES)} tests collected*"])


# -- ini keys ---------------------------------------------------------------------
def test_ini_keys_configure_the_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        f"""
        [pytest]
        harness_target = {FAMILIA_ABS_SPEC}
        harness_examples = 20
        harness_seed = 7
        harness_report = from-ini
        """
    )
    result = run_plain(pytester, "-rA")

    assert result.ret == pytest.ExitCode.TESTS_FAILED, tail(result)
    result.stdout.fnmatch_lines(["FAILED harness-contract::delivery*"])
    report = report_in(pytester.path / "from-ini")
    assert (report["examples"], report["seed"]) == (20, 7)
    assert "SOR-1" in failing(report)


def test_bad_ini_value_is_a_usage_error_naming_the_key(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        f"""
        [pytest]
        harness_target = {REFERENCE_SPEC}
        harness_examples = zero
        """
    )
    result = run_plain(pytester)
    assert_usage_error(result, "harness_examples", "'zero'")


# -- options validated at parse time ------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--harness-examples", "0"),
        ("--harness-examples", "3"),  # fewer than the search's slices: 3 FAILED items before
        ("--harness-seed", "-1"),
        ("--harness-seed", "abc"),
    ],
)
def test_bad_option_value_is_a_usage_error_repeating_it(
    pytester: pytest.Pytester, option: str, value: str
) -> None:
    result = run_plain(pytester, "--harness-target", REFERENCE_SPEC, option, value)
    assert_usage_error(result, option, repr(value))


def test_a_report_folder_that_is_a_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "taken").write_text("not a folder\n", encoding="utf-8")
    result = run_plain(pytester, "--harness-target", REFERENCE_SPEC, "--harness-report", "taken")
    assert_usage_error(result, "--harness-report 'taken' is a file")
    assert (pytester.path / "taken").read_text(encoding="utf-8") == "not a folder\n"


@pytest.mark.parametrize(
    "spec",
    ["no_such_adapter.py:make_case_system", "harness.components.case_system:nope", "no_colon"],
)
def test_bad_target_is_a_usage_error(pytester: pytest.Pytester, spec: str) -> None:
    result = run_plain(pytester, "--harness-target", spec)
    assert_usage_error(result, spec, "a valid SPEC is")


# -- which tests are collected ------------------------------------------------------------
USER_TEST = """
    def test_users_own():
        assert False, "the user's own test ran"
"""


def test_target_without_paths_collects_only_the_contract_suite(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_mine=USER_TEST)
    result = run_suite(pytester, REFERENCE_SPEC, "-v", examples=FEW)

    result.assert_outcomes(passed=len(FAMILIES))
    assert "test_users_own" not in result.stdout.str()


def test_target_with_paths_collects_them_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mine=USER_TEST)
    result = run_suite(pytester, REFERENCE_SPEC, "-v", "test_mine.py", examples=FEW)

    result.assert_outcomes(passed=len(FAMILIES), failed=1)
    result.stdout.fnmatch_lines(["*test_mine.py::test_users_own FAILED*"])


# -- junit xml ------------------------------------------------------------------------------
def test_junitxml_carries_each_items_clause_verdicts(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, FAMILIA_ABS_SPEC, "--junitxml", "junit.xml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, tail(result)

    cases = junit_cases(pytester.path / "junit.xml")
    assert set(cases) == set(FAMILIES)
    assert properties(cases["delivery"])["SOR-1"] == "fail"
    problems = []
    for family, case in cases.items():
        props = properties(case)
        assert set(FAMILIES[family]) <= set(props), (family, props)
        assert set(props.values()) <= {"pass", "fail", "not-exercised"}
        failure = case.find("failure")
        # an item fails exactly when one of the clauses it reports failed ...
        if (failure is not None) != ("fail" in props.values()):
            problems.append(f"{family}: failed={failure is not None} but properties {props}")
        # ... and a failing item shows the counterexample's timeline
        if failure is not None and "0+00:00:" not in (failure.text or ""):
            problems.append(f"{family} fails without a timeline: {failure.text!r}")
    assert problems == []


# -- fixtures and marker --------------------------------------------------------------
def test_own_property_test_with_the_fixture_passes_against_the_reference(
    pytester: pytest.Pytester,
) -> None:
    """Written as a Hypothesis user writes it: nothing suppressed."""
    pytester.makepyfile(
        test_own_property="""
        from hypothesis import given, settings

        from harness.strategies import plans


        @settings(max_examples=10, deadline=None)
        @given(plans(max_reports=2))
        def test_reference_never_loses_a_report(harness_simulate, plan):
            run, result = harness_simulate(plan)
            assert run.completed
            assert not result.failed, result.violations
        """
    )
    result = run_plain(pytester, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_own_property_test_finds_familias_bug_through_the_fixture(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_own_property=f"""
        import pytest
        from hypothesis import HealthCheck, given, settings

        from harness.strategies import plans

        CHECKS = [HealthCheck.function_scoped_fixture]


        @settings(max_examples=10, deadline=None, suppress_health_check=CHECKS)
        @given(plans(max_reports=2))
        def test_reference(harness_simulate, plan):
            run, result = harness_simulate(plan)
            assert not result.failed, result.violations


        @pytest.mark.harness(target={FAMILIA_ABS_SPEC!r})
        @settings(
            max_examples=200, deadline=None, derandomize=True, suppress_health_check=CHECKS
        )
        @given(plans(max_reports=2))
        def test_familia(harness_simulate, plan):
            run, result = harness_simulate(plan)
            assert "SOR-1" not in result.failed
        """
    )
    result = run_plain(pytester, "-p", "no:cacheprovider", "-rA")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_own_property.py::test_familia*"])


def test_marker_switches_the_target(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_marker=f"""
        import pytest

        from harness import Fault, Plan, ReportSpec

        FAMILIA = {FAMILIA_ABS_SPEC!r}
        PLAN = Plan(0, (ReportSpec(0),), (Fault("storage.execute.error", 0),))


        @pytest.mark.harness(target=FAMILIA)
        def test_marked(harness_target, harness_simulate):
            assert harness_target.spec == FAMILIA
            assert "SOR-1" in harness_target.expects  # familia's own EXPECTS
            run, result = harness_simulate(PLAN)
            assert "SOR-1" in result.failed


        def test_unmarked(harness_target, harness_simulate):
            assert harness_target.spec == {REFERENCE_SPEC!r}
            run, result = harness_simulate(PLAN)
            assert not result.failed, result.violations
        """
    )
    result = run_plain(pytester, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_marker_options_reach_the_simulated_case_system(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        picky_adapter="""
        from harness import ReferenceCaseSystem


        def make(env):
            if dict(env.options) != {"table": "meldinger"}:
                raise RuntimeError(f"built with options {dict(env.options)!r}")
            return ReferenceCaseSystem(env)
        """,
        test_options="""
        import pytest

        from harness import Plan, ReportSpec


        @pytest.mark.harness(target="picky_adapter.py:make", options={"table": "meldinger"})
        def test_options(harness_simulate):
            run, result = harness_simulate(Plan(0, (ReportSpec(0),)))
            crashes = [e.data for e in run.history if e.kind == "crash"]
            assert crashes == []
            assert not result.failed, result.violations
        """,
    )
    result = run_plain(pytester, "-p", "no:cacheprovider", "test_options.py")
    result.assert_outcomes(passed=1)


# -- a cheap plugin import ----------------------------------------------------------
def modules_after_importing_the_plugin() -> dict[str, bool]:
    code = textwrap.dedent(
        """
        import json
        import sys

        import harness.pytest_plugin

        print(json.dumps({
            "hypothesis": "hypothesis" in sys.modules,
            "engine": any(m.startswith(("harness.core", "harness.sim")) for m in sys.modules),
        }))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: dict[str, bool] = json.loads(done.stdout)
    return loaded


def test_importing_the_plugin_does_not_import_hypothesis() -> None:
    assert modules_after_importing_the_plugin()["hypothesis"] is False


def test_importing_the_plugin_does_not_import_the_engine() -> None:
    """The plugin's docstring: 'Importing this module is cheap (no Hypothesis, no engine)'."""
    assert modules_after_importing_the_plugin()["engine"] is False
