"""The sweep: a short, fixed checklist of plans a family runs before its search.

Most ways of losing a report need one fault at one step, on one ordinary report.
Hypothesis draws such plans too, but only by chance; the sweep tries each of them
on purpose, in a few milliseconds each: one plain report, two reports in the
same second, byte-identical twins, every injection point struck at its first
occurrence, each hostile data profile (long free text in both forms; 02:30 twice,
an hour apart, in the night the clocks go back) and each other form, and each
package without a usable PDF. Each plan is one or
two reports and at most one fault, as small as shrinking makes a plan, and they
run in the shrinker's order (plainest first, points in catalogue order), so a
plan the sweep breaks needs no shrinking. The search then spends its budget on
combinations the checklist does not cover.
"""

from __future__ import annotations

from functools import cache

from harness.core.faults import CATALOGUE, Fault
from harness.core.hostile import DATA_PROFILES, INCOMPLETE, LONG_TEXT, clock_start
from harness.core.plan import Plan
from harness.core.timing import HOUR
from harness.core.workload import FORMS, ReportSpec
from harness.sim.documents import DOKUMENTLAGER

# A report sent by reference is downloaded twice (the JSON, then the PDF): a
# download fault is struck at each, since a damaged PDF is what goes unnoticed.
_DOWNLOAD_OCCURRENCES = (0, 1)


@cache
def sweep_plans(*, http: bool = False, always: tuple[str, ...] = ()) -> tuple[Plan, ...]:
    """The checklist, in the order it runs. `http` adds the HTTP edges (for adapters
    that use them); `always` names points every plan includes, as in plans()."""
    aimed = tuple(Fault(point, 0) for point in always)
    plain = ReportSpec(0)
    by_reference = ReportSpec(0, data=DOKUMENTLAGER)
    twin = ReportSpec(0, data="identical")
    checklist: list[tuple[tuple[ReportSpec, ...], tuple[Fault, ...]]] = [
        ((plain,), ()),
        ((plain, ReportSpec(0, "offentlig")), ()),  # two reports, one second: keys collide
        ((twin, twin), ()),  # the same form sent twice: two reports, equal bytes
    ]
    for point in CATALOGUE:
        if point.name.startswith("http.download."):
            if http:
                checklist += [
                    ((by_reference,), (Fault(point.name, nth),)) for nth in _DOWNLOAD_OCCURRENCES
                ]
        elif point.name.startswith("http."):
            if http:
                checklist.append(((plain,), (Fault(point.name, 0),)))
        else:
            checklist.append(((plain,), (Fault(point.name, 0),)))
    for profile in DATA_PROFILES:
        if profile == "dst_repeat":  # 02:30 twice, an hour apart: CEST, then CET
            first = ReportSpec(0, data="dst_fallback")
            checklist.append(((first, ReportSpec(HOUR, "offentlig", data=profile)), ()))
        else:
            checklist.append(((ReportSpec(0, data=profile),), ()))
        if profile in LONG_TEXT:  # offentlig has two free texts where privat has one
            checklist.append(((ReportSpec(0, "offentlig", data=profile),), ()))
    # Packages the portal sends without a usable PDF, inline: the case system must refuse.
    checklist += [((ReportSpec(0, data=profile),), ()) for profile in INCOMPLETE]
    checklist += [((ReportSpec(0, *form),), ()) for form in FORMS if ReportSpec(0, *form) != plain]
    if http:
        checklist.append(((by_reference,), ()))
    plans = (
        Plan(
            0,
            reports,
            tuple(dict.fromkeys(aimed + faults)),
            start=clock_start(r.data for r in reports),
        )
        for reports, faults in checklist
    )
    return tuple(dict.fromkeys(plans))  # an aimed point struck anyway: that plan once
