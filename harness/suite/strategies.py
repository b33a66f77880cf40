"""Hypothesis strategies for plans: workloads and fault plans that shrink well.

Shrinking goes toward fewer reports, fewer faults, nth = 0, count = 1, the first
points of the catalogue and plain data, so a counterexample reads in one glance.
Points are drawn by weight (see faults.CATALOGUE), biasing the search toward the
step boundaries where reports get lost.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from hypothesis import strategies as st

from harness.core.faults import CATALOGUE, Fault
from harness.core.hostile import DATA_PROFILES, INCOMPLETE, clock_start
from harness.core.plan import Plan
from harness.core.timing import HOUR, SECOND
from harness.core.workload import DEFECTS, ReportSpec
from harness.sim.documents import DOKUMENTLAGER

FAULT_POINTS = tuple(p.name for p in CATALOGUE)
# Repeating a point by its weight makes sampled_from draw it more often, while
# shrinking still moves toward the catalogue's first (plainest) entries. HTTP
# points are drawn only for adapters that use HTTP (plans(http=True)): for the
# others they are never reached, and the draws stay what they always were.
_WEIGHTED_POINTS = tuple(
    p.name for p in CATALOGUE if not p.name.startswith("http.") for _ in range(p.weight)
)
# Data profiles by weight, as points are: a package just under 5 MB, or free text of
# a mebibyte, costs as much to run as tens of ordinary reports, and the sweep tries
# each on every run, so the search draws them a third as often as the other profiles.
_PROFILE_WEIGHT = {"near_limit": 1, "long_text_1m": 1}
_WEIGHTED_PROFILES = tuple(
    profile for profile in DATA_PROFILES for _ in range(_PROFILE_WEIGHT.get(profile, 3))
)
# Plans with invalid input also draw packages without a usable PDF, which the portal
# sends and the case system must refuse.
_INVALID_PROFILES = _WEIGHTED_PROFILES + tuple(p for p in INCOMPLETE for _ in range(3))
# For an HTTP adapter, half the reports drawn with a data profile (a quarter of all)
# travel through the document store instead.
_HTTP_PROFILES = (DOKUMENTLAGER,) * len(_WEIGHTED_PROFILES) + _WEIGHTED_PROFILES
_HTTP_INVALID_PROFILES = (DOKUMENTLAGER,) * len(_INVALID_PROFILES) + _INVALID_PROFILES
_WEIGHTED_HTTP_POINTS = tuple(p.name for p in CATALOGUE for _ in range(p.weight))
_HTTP_POINTS = tuple(
    p.name for p in CATALOGUE if p.name.startswith("http.") for _ in range(p.weight)
)


# Strategies are built once and reused: Hypothesis checks a new strategy object on
# first use, which cost more than the simulation itself when done on every draw.
@cache
def faults(points: tuple[str, ...] = _WEIGHTED_POINTS) -> st.SearchStrategy[Fault]:
    return st.builds(
        Fault, st.sampled_from(points), st.integers(0, 3), st.sampled_from((1, 1, 1, 2, 3))
    )


_GAPS = st.sampled_from((0, 1 * SECOND, 10 * SECOND))
_FORMS = st.sampled_from(("privat", "offentlig"))
_VERSIONS = st.sampled_from((2, 1))
_DEFECT = st.none() | st.sampled_from(DEFECTS)
_PROFILE = st.none() | st.sampled_from(_WEIGHTED_PROFILES)
_INVALID_PROFILE = st.none() | st.sampled_from(_INVALID_PROFILES)
_HTTP_PROFILE = st.none() | st.sampled_from(_HTTP_PROFILES)
_HTTP_INVALID_PROFILE = st.none() | st.sampled_from(_HTTP_INVALID_PROFILES)
_HTTP_ONLY_PROFILE = st.none() | st.sampled_from((DOKUMENTLAGER,))
_SEEDS = st.integers(0, 2**16)
_TWINS = st.sampled_from((False, False, False, True))


@st.composite
def report_specs(
    draw: st.DrawFn, *, invalid: bool, hostile: bool = True, http: bool = False
) -> ReportSpec:
    """One report; its `at` is the gap after the previous one (plans() adds them up).
    Gaps are often zero: two reports in the same second. With `http`, a quarter
    of the reports travel through the document store (downloaded over HTTP)."""
    gap = draw(_GAPS)
    form = draw(_FORMS)
    version = draw(_VERSIONS)
    defect = draw(_DEFECT) if invalid else None
    if http:  # as many choices as below: the shrinker deletes reports as easily
        if not hostile:
            data = draw(_HTTP_ONLY_PROFILE)
        else:
            data = draw(_HTTP_INVALID_PROFILE if invalid else _HTTP_PROFILE)
    else:
        data = draw(_INVALID_PROFILE if invalid else _PROFILE) if hostile else None
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
    http: bool = False,
) -> Plan:
    """A plan. `invalid` mixes in broken submissions, `hostile` hard but valid data;
    `always` names injection points that every plan includes, to aim a search at them;
    `http` adds HTTP faults and reports sent through the document store (for adapters
    that call the simulated HTTP APIs).

    Each report is drawn whole (gap included) and the choices that span reports
    are drawn first, so the shrinker can delete a report without shifting the rest.
    """
    seed = draw(_SEEDS)
    twins = draw(_TWINS)
    specs = draw(_report_lists(invalid, hostile, http, max_reports))
    if twins and len(specs) > 1:
        # Two reports with byte-identical content, as when a form is sent twice.
        twin = ReportSpec(
            specs[1].at, specs[0].form, specs[0].version, specs[0].defect, "identical"
        )
        specs[:2] = [replace(twin, at=specs[0].at), twin]
    at, timed = 0, []
    for spec in specs:
        # The second pass of 02:30 comes an hour after the report before it.
        at += spec.at + (HOUR if spec.data == "dst_repeat" else 0)
        timed.append(replace(spec, at=at))
    chosen = [draw(faults((point,))) for point in always]
    chosen += draw(_fault_lists(_WEIGHTED_HTTP_POINTS if http else _WEIGHTED_POINTS, max_faults))
    if http and draw(st.integers(0, 3)):  # 3 plans in 4: one more fault, at an HTTP edge
        chosen.append(draw(faults(_HTTP_POINTS)))  # drawn last: dropping it shifts nothing
    start = clock_start(spec.data for spec in timed)
    return Plan(seed, tuple(timed), tuple(dict.fromkeys(chosen)), start=start)


@cache
def _report_lists(
    invalid: bool, hostile: bool, http: bool, most: int
) -> st.SearchStrategy[list[ReportSpec]]:
    return st.lists(
        report_specs(invalid=invalid, hostile=hostile, http=http), min_size=1, max_size=most
    )


@cache
def _fault_lists(points: tuple[str, ...], most: int) -> st.SearchStrategy[list[Fault]]:
    return st.lists(faults(points), max_size=most)
