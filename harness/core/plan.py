"""A plan: everything that decides a run. Same plan, same history, byte for byte."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from harness.core.faults import POINTS, Fault
from harness.core.timing import Timing
from harness.core.wire import EPOCH_AT
from harness.core.workload import ReportSpec


@dataclass(frozen=True)
class Window:
    """A fault that strikes every time `point` is reached in [start, end) of virtual
    time: storage overloaded for a minute, say. Scenarios use these."""

    point: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.point not in POINTS:
            raise ValueError(
                f"unknown injection point {self.point!r}; known points: {', '.join(POINTS)}"
            )
        if self.end <= self.start:
            raise ValueError(f"window for {self.point!r} ends before it starts")


@dataclass(frozen=True)
class Plan:
    seed: int
    reports: Sequence[ReportSpec]  # a tuple, or a workload made on demand
    faults: tuple[Fault, ...] = ()
    windows: tuple[Window, ...] = ()
    deadline: int | None = None  # the portal's own deadline in ms, when a scenario sets one
    # The local moment virtual time 0 stands for (ISO 8601 with its offset), when not
    # wire.EPOCH: plans with a report of the night the clocks go back start in that night.
    start: str | None = None

    def __post_init__(self) -> None:
        if self.start is not None:
            moment = datetime.fromisoformat(self.start)  # ValueError names a bad one
            if moment.tzinfo is None:
                raise ValueError(f"plan start {self.start!r} needs its offset, e.g. +02:00")

    @property
    def clock_start(self) -> datetime:
        """The aware moment of virtual time 0."""
        return EPOCH_AT if self.start is None else datetime.fromisoformat(self.start)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seed": self.seed,
            "reports": [_spec_json(r) for r in self.reports],
            "faults": [{"point": f.point, "nth": f.nth, "count": f.count} for f in self.faults],
            "windows": [{"point": w.point, "start": w.start, "end": w.end} for w in self.windows],
            "deadline": self.deadline,
        }
        if self.start is not None:  # only then: older plans read and digest as they did
            out["start"] = self.start
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Plan:
        deadline = raw.get("deadline")
        return cls(
            int(raw["seed"]),
            tuple(_spec_from(r) for r in raw["reports"]),
            tuple(
                Fault(str(f["point"]), int(f.get("nth", 0)), int(f.get("count", 1)))
                for f in raw.get("faults", ())
            ),
            tuple(
                Window(str(w["point"]), int(w["start"]), int(w["end"]))
                for w in raw.get("windows", ())
            ),
            None if deadline is None else int(deadline),
            None if raw.get("start") is None else str(raw["start"]),
        )

    @property
    def resolution_bound(self) -> int:
        """SOR-7's bound for this plan: its own deadline when a scenario set one."""
        timing = Timing() if self.deadline is None else replace(Timing(), deadline=self.deadline)
        return timing.resolution_bound

    @property
    def size(self) -> tuple[int, int]:
        """How big a counterexample is: fewer reports and faults read faster."""
        return (
            len(self.reports) + len(self.faults) + len(self.windows),
            sum(f.nth + f.count for f in self.faults),
        )


def _spec_json(r: ReportSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "at": r.at,
        "form": r.form,
        "version": r.version,
        "defect": r.defect,
        "data": r.data,
    }
    if r.fields:
        out["fields"] = dict(r.fields)
    return out


def _spec_from(raw: Mapping[str, Any]) -> ReportSpec:
    fields = raw.get("fields") or {}
    return ReportSpec(
        int(raw["at"]),
        str(raw.get("form", "privat")),
        int(raw.get("version", 2)),
        raw.get("defect"),
        raw.get("data"),
        tuple((str(k), str(v)) for k, v in fields.items()),
    )
