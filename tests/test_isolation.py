"""Process isolation: the same history as in-process, byte for byte, and real crashes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from harness.core.plan import Plan
from harness.sim.isolation.proxy import shutdown
from harness.sim.world import simulate, uses_http
from harness.suite.strategies import plans
from harness.suite.sweep import sweep_plans
from harness.target import REFERENCE_SPEC, Target, load_target

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
SPECS = [REFERENCE_SPEC, *(f"{p}:make_case_system" for p in EXAMPLES)]


@pytest.fixture
def isolated() -> Iterator[None]:
    """Every template and child a test starts is stopped when it ends, also on failure."""
    try:
        yield
    finally:
        shutdown()


def drawn(count: int, http: bool) -> list[Plan]:
    """`count` plans as the search draws them, the same ones on every run."""
    out: list[Plan] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(plans(http=http, invalid=True))
    def collect(plan: Plan) -> None:
        out.append(plan)

    collect()
    return out


def some_plans(target: Target) -> list[Plan]:
    http = uses_http(target.factory)
    sweep = sweep_plans(http=http)
    return [*sweep[::4], *drawn(4, http)]


@pytest.mark.parametrize("spec", SPECS, ids=["reference", *(p.stem for p in EXAMPLES)])
def test_same_plan_gives_the_same_history_bytes_in_both_modes(spec: str, isolated: None) -> None:
    inprocess = load_target(spec)
    process = load_target(spec, isolation="process")
    assert process.expects == inprocess.expects  # read from the template's import
    chosen = some_plans(inprocess)
    assert len(chosen) >= 8
    for plan in chosen:
        want = simulate(plan, inprocess.factory).history.to_bytes()
        got = simulate(plan, process.factory).history.to_bytes()
        assert got == want, f"{spec}: the histories of {plan.to_json()} differ"
