"""The sweep, families in slices, and the worker processes that run slices in parallel."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import (
    EXIT_IN_WORKERS_ADAPTER,
    REPO_ROOT,
    job_block,
    job_echo,
    job_exit,
    job_leave_a_thread,
    job_make_storage,
    job_raise,
    run_cli,
    write_module,
)

from harness.checker.clauses import CheckResult
from harness.core.faults import CATALOGUE, Fault
from harness.core.history import History
from harness.core.plan import Plan
from harness.core.workload import ReportSpec
from harness.sim.documents import DOKUMENTLAGER
from harness.suite.run import SuiteConfig, run_suite
from harness.suite.search import (
    SLICES,
    Counterexample,
    FamilyResult,
    family_to_json,
    merge_slices,
    search_family,
    slices_to_merge,
)
from harness.suite.sweep import sweep_plans
from harness.suite.workers import WorkerError, Workers
from harness.target import load_target

CORE = [p.name for p in CATALOGUE if not p.name.startswith("http.")]
HTTP = [p.name for p in CATALOGUE if p.name.startswith("http.")]


def example(name: str) -> str:
    return f"{REPO_ROOT / 'examples' / name}.py:make_case_system"


# -- the sweep ---------------------------------------------------------------------------
def test_the_sweep_strikes_every_core_point_once_on_one_plain_report() -> None:
    plans = sweep_plans()
    struck = [p.faults for p in plans if p.faults]
    assert sorted(f.point for (f,) in struck) == sorted(CORE)
    assert all(f.nth == 0 and f.count == 1 for (f,) in struck)
    assert all(p.reports == (ReportSpec(0),) for p in plans if p.faults)
    assert plans[0] == Plan(0, (ReportSpec(0),)), "the plainest plan runs first"


def test_the_sweep_of_an_http_adapter_strikes_each_download_twice() -> None:
    plans = sweep_plans(http=True)
    struck = Counter(f.point for p in plans for f in p.faults)
    assert {p: struck[p] for p in HTTP if ".download." in p} == {
        p: 2 for p in HTTP if ".download." in p
    }
    downloads = [p for p in plans if any(".download." in f.point for f in p.faults)]
    assert all(p.reports == (ReportSpec(0, data=DOKUMENTLAGER),) for p in downloads)
    assert {f.nth for p in downloads for f in p.faults} == {0, 1}  # the JSON, then the PDF


def test_every_plan_of_an_aimed_sweep_carries_the_aimed_fault() -> None:
    aimed = Fault("transport.deliver.corrupt", 0)
    assert all(aimed in p.faults for p in sweep_plans(always=(aimed.point,)))


def test_a_bug_the_sweep_catches_ends_the_family_without_a_search() -> None:
    factory = load_target(example("familia_2023")).factory
    result = search_family("delivery", factory, seed=0, examples=100)
    assert result.counterexample is not None
    assert result.counterexample.plan == Plan(
        0, (ReportSpec(0),), (Fault("storage.execute.error", 0),)
    )
    assert result.counterexample.clauses == ["SOR-1", "SOR-2"]
    assert result.examples == result.swept < len(sweep_plans())


def test_the_sweep_catches_a_resend_bug_on_the_smallest_budget() -> None:
    # Duplicates appear only when the portal resends after a lost reply: one fault at
    # one step, which a search of one example rarely draws and the sweep always tries.
    factory = load_target(example("dedup_on_melding_id")).factory
    result = search_family("integrity", factory, seed=0, examples=1)
    assert result.counterexample is not None and result.counterexample.clauses == ["SOR-3"]
    assert result.counterexample.plan.faults == (Fault("transport.reply.lost", 0),)


# -- slices ------------------------------------------------------------------------------
def _part(examples: int, failing: str | None = None, also: str | None = None) -> FamilyResult:
    def cx(clause: str, reports: int) -> Counterexample:
        plan = Plan(0, tuple(ReportSpec(0) for _ in range(reports)))
        return Counterexample("delivery", plan, [clause], CheckResult(), History())

    part = FamilyResult("delivery", examples=examples, outcomes=Counter(STORED=examples))
    if failing:
        part.counterexample = cx(failing, 1)
    if also:
        part.also_failed[also] = cx(also, examples)
    return part


def test_a_family_waits_for_every_slice_before_the_first_that_ends_it() -> None:
    done, ends = _part(4), _part(4, failing="SOR-1")
    assert slices_to_merge({2: ends}) is None, "slices 0 and 1 may end it earlier"
    assert slices_to_merge({0: done, 2: ends}) is None
    assert slices_to_merge({0: done, 1: done, 2: ends}) == [done, done, ends]
    assert slices_to_merge({0: ends, 3: done}) == [ends], "slices after it do not count"
    assert slices_to_merge({k: done for k in range(SLICES)}) == [done] * SLICES
    assert slices_to_merge({k: done for k in range(SLICES - 1)}) is None


def test_the_same_unit_named_twice_runs_once() -> None:
    config = SuiteConfig(scenarios=("bergen-2023", "bergen-2023"), families=("delivery",) * 2)
    assert config.units == ("scenario:bergen-2023",)
    assert SuiteConfig(families=("delivery", "delivery")).units == ("delivery",)


def test_a_sweep_plan_that_breaks_other_clauses_too_is_one_counterexample() -> None:
    factory = load_target(example("familia_2023")).factory
    result = search_family("rejection", factory, seed=0, examples=10)
    assert result.counterexample is not None and result.counterexample.clauses == ["SOR-6"]
    assert result.also_failed["SOR-4"] is result.counterexample


def test_slices_merge_in_order_up_to_the_first_counterexample() -> None:
    parts = [_part(5, also="SOR-4"), _part(3, failing="SOR-1", also="SOR-4"), _part(7, "SOR-5")]
    merged = merge_slices("delivery", parts)
    assert merged.counterexample is parts[1].counterexample
    assert merged.examples == 8 and merged.outcomes == Counter(STORED=8)
    # The smallest example of each other clause, among the slices that count.
    assert merged.also_failed == {"SOR-4": parts[1].also_failed["SOR-4"]}


def test_a_family_budget_is_shared_among_its_slices() -> None:
    factory = load_target(None).factory
    result = search_family("integrity", factory, seed=0, examples=SLICES * 3 + 1)
    assert result.examples - result.swept == SLICES * 3 + 1


@pytest.mark.parametrize("name", ["trusts_redelivered_flag", "case_system"])
def test_workers_change_nothing_the_suite_finds(name: str) -> None:
    target = example(name) if name != "case_system" else None
    runs = {
        n: run_suite(SuiteConfig(target=target, seed=4, examples=16, workers=n)) for n in (1, 2, 3)
    }
    as_json = {
        n: json.dumps([family_to_json(f) for f in r.families], sort_keys=True)
        for n, r in runs.items()
    }
    assert as_json[1] == as_json[2] == as_json[3]
    assert runs[1].failed == (["SOR-1", "SOR-2", "SOR-6"] if target else [])


# -- worker processes ----------------------------------------------------------------------
def _queue(*jobs: tuple[int, ...]) -> Callable[[], tuple[int, ...] | None]:
    waiting = list(jobs)
    return lambda: waiting.pop(0) if waiting else None


def _drain(workers: Workers) -> list[tuple[tuple[int, ...], int]]:
    out = []
    while workers.busy:
        out += workers.results(block=True)
    return out


def test_workers_and_this_process_share_the_jobs() -> None:
    take = _queue(*[(n,) for n in range(9)])
    workers = Workers(2, job_echo, take)
    try:
        here = []
        while (job := workers.take_here(take)) is not None:
            here.append((job, job_echo(*job)))
        got = here + _drain(workers)
    finally:
        workers.stop()
    assert sorted(got) == [((n,), 2 * n) for n in range(9)]


def test_a_job_that_raises_is_an_error_naming_the_job_and_the_cause() -> None:
    workers = Workers(1, job_raise, _queue((41,)))
    try:
        with pytest.raises(WorkerError, match=r"(?s)\(41,\) failed in a worker.*broken on purpose"):
            _drain(workers)
    finally:
        workers.stop()


def test_a_worker_that_dies_is_an_error_not_a_wait_without_end() -> None:
    workers = Workers(1, job_exit, _queue((3,)))
    try:
        with pytest.raises(WorkerError, match=r"died \(exit code 3\) running \(3,\)"):
            _drain(workers)
    finally:
        workers.stop()


def test_stopping_ends_a_worker_in_the_middle_of_a_job() -> None:
    workers = Workers(1, job_block, _queue((1,)))
    assert workers.busy and workers.results(block=False) == []
    assert workers.alive == 1
    workers.stop()
    assert workers.alive == 0


def test_a_worker_with_a_thread_left_running_still_stops() -> None:
    workers = Workers(1, job_leave_a_thread, _queue((1,)))
    try:
        assert _drain(workers) == [((1,), 0)]
    finally:
        workers.stop()
    assert workers.alive == 0


def test_a_worker_stopped_mid_job_leaves_no_database_behind() -> None:
    workers = Workers(1, job_make_storage, _queue((0,), (1,)))
    (_, made), *_ = workers.results(block=True)  # the first job; the second is running
    made_in = Path(made).parent
    assert made_in in workers.folders and made_in.name.startswith("harness-worker-")
    workers.stop()
    assert not any(folder.exists() for folder in workers.folders)


def test_a_dead_worker_is_one_line_without_secrets_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_module(tmp_path, "exits_in_workers", EXIT_IN_WORKERS_ADAPTER)
    spec = f"{tmp_path / 'exits_in_workers.py'}:make"
    args = ("run", "--target", spec, "-n", "2", "--examples", "8")
    result = run_cli(
        capsys, *args, "--target-option", "password=hunter2", "--report", str(tmp_path / "r")
    )
    assert result.code == 2, result.err
    (error,) = [ln for ln in result.err_lines if ln.startswith("harness: error:")]
    assert "died (exit code -9)" in error and "family" in error
    assert "hunter2" not in result.err + result.out
    assert not (tmp_path / "r" / "report.json").exists()
