"""Hypothesis strategies for plans: workloads and fault plans that shrink well.

Shrinking goes toward fewer reports, fewer faults, nth = 0, the first points of
the catalogue and the plainest form, so a counterexample reads in one glance.
"""

from __future__ import annotations

from hypothesis import strategies as st

from harness.engine.faults import CATALOGUE, Fault
from harness.engine.loop import SECOND
from harness.engine.workload import DEFECTS, ReportSpec
from harness.engine.world import Plan

FAULT_POINTS = tuple(p.name for p in CATALOGUE)


@st.composite
def report_specs(draw: st.DrawFn, *, invalid: bool) -> ReportSpec:
    form = draw(st.sampled_from(("privat", "offentlig")))
    version = draw(st.sampled_from((2, 1)))
    defect = draw(st.none() | st.sampled_from(DEFECTS)) if invalid else None
    return ReportSpec(0, form, version, defect)


@st.composite
def plans(
    draw: st.DrawFn,
    *,
    max_reports: int = 4,
    max_faults: int = 4,
    invalid: bool = False,
    always: tuple[str, ...] = (),
) -> Plan:
    """A plan. `invalid` mixes in broken submissions; `always` names injection points
    that every plan includes (at a drawn occurrence), to aim a search at them."""
    specs = draw(st.lists(report_specs(invalid=invalid), min_size=1, max_size=max_reports))
    # Gaps between submissions: often zero (two reports in the same second), sometimes spread.
    gaps = draw(
        st.lists(
            st.sampled_from((0, 1 * SECOND, 10 * SECOND)), min_size=len(specs), max_size=len(specs)
        )
    )
    at, timed = 0, []
    for spec, gap in zip(specs, gaps, strict=True):
        at += gap
        timed.append(ReportSpec(at, spec.form, spec.version, spec.defect))
    faults = [Fault(point, draw(st.integers(0, 3))) for point in always]
    faults += draw(
        st.lists(
            st.builds(Fault, st.sampled_from(FAULT_POINTS), st.integers(0, 3)),
            max_size=max_faults,
            unique=True,
        )
    )
    seed = draw(st.integers(0, 2**16))
    return Plan(seed, tuple(timed), tuple(dict.fromkeys(faults)))
