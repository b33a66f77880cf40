"""Hypothesis strategies for plans: workloads and fault plans that shrink well.

Shrinking goes toward fewer reports, fewer faults, nth = 0, count = 1, the first
points of the catalogue and plain data, so a counterexample reads in one glance.
Points are drawn by weight (see faults.CATALOGUE), biasing the search toward the
step boundaries where reports get lost.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from harness.engine.faults import CATALOGUE, Fault
from harness.engine.hostile import DATA_PROFILES
from harness.engine.loop import SECOND
from harness.engine.plan import Plan
from harness.engine.workload import DEFECTS, ReportSpec

FAULT_POINTS = tuple(p.name for p in CATALOGUE)
# Repeating a point by its weight makes sampled_from draw it more often, while
# shrinking still moves toward the catalogue's first (plainest) entries.
_WEIGHTED_POINTS = tuple(p.name for p in CATALOGUE for _ in range(p.weight))


def faults(points: tuple[str, ...] = _WEIGHTED_POINTS) -> st.SearchStrategy[Fault]:
    return st.builds(
        Fault, st.sampled_from(points), st.integers(0, 3), st.sampled_from((1, 1, 1, 2, 3))
    )


@st.composite
def report_specs(draw: st.DrawFn, *, invalid: bool, hostile: bool = True) -> ReportSpec:
    """One report; its `at` is the gap after the previous one (plans() adds them up).
    Gaps are often zero: two reports in the same second."""
    gap = draw(st.sampled_from((0, 1 * SECOND, 10 * SECOND)))
    form = draw(st.sampled_from(("privat", "offentlig")))
    version = draw(st.sampled_from((2, 1)))
    defect = draw(st.none() | st.sampled_from(DEFECTS)) if invalid else None
    data = draw(st.none() | st.sampled_from(DATA_PROFILES)) if hostile else None
    return ReportSpec(gap, form, version, defect, data)


@st.composite
def plans(
    draw: st.DrawFn,
    *,
    max_reports: int = 4,
    max_faults: int = 4,
    invalid: bool = False,
    hostile: bool = True,
    always: tuple[str, ...] = (),
) -> Plan:
    """A plan. `invalid` mixes in broken submissions, `hostile` hard but valid data;
    `always` names injection points that every plan includes, to aim a search at them.

    Each report is drawn whole (gap included) and the choices that span reports
    are drawn first, so the shrinker can delete a report without shifting the rest.
    """
    seed = draw(st.integers(0, 2**16))
    twins = draw(st.sampled_from((False, False, False, True)))
    specs = draw(
        st.lists(report_specs(invalid=invalid, hostile=hostile), min_size=1, max_size=max_reports)
    )
    if twins and len(specs) > 1:
        # Two reports with byte-identical content, as when a form is sent twice.
        twin = ReportSpec(
            specs[1].at, specs[0].form, specs[0].version, specs[0].defect, "identical"
        )
        specs[:2] = [replace(twin, at=specs[0].at), twin]
    at, timed = 0, []
    for spec in specs:
        at += spec.at
        timed.append(replace(spec, at=at))
    chosen = [draw(faults((point,))) for point in always]
    chosen += draw(st.lists(faults(), max_size=max_faults))
    return Plan(seed, tuple(timed), tuple(dict.fromkeys(chosen)))
