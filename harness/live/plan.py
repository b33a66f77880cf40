"""A live plan: the reports, the faults keyed to events the harness sees, the timing.

A plan is data: it goes into the counterexample file as JSON, and `harness replay`
runs the same plan again. Faults are keyed to reports (the n-th report of the
workload), not to wall-clock time: in the sequential mode, one report in flight at
a time, "when the reply for report 3 arrives" names one moment in every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core.timing import SECOND, Timing
from harness.core.workload import ReportSpec

# kind -> what it does (docs/live.md lists the same).
FAULT_KINDS: dict[str, str] = {
    "resend": "the portal publishes the report a second time at once: a new melding-id, "
    "the same klientMeldingId and bekymringsmelding-id",
    "kill_at_reply": "SIGKILL the service's process group when its reply for the report "
    "arrives at the send API, before answering it; then restart the service",
    "kill_at_download": "send the report by reference (dokumentlager-id, empty body) and "
    "SIGKILL the service when it downloads it: at its delivery, before it can store; "
    "then restart it",
    "close_connection": "close the service's broker connection when its reply for the "
    "report arrives, before answering: the message it has not acked yet is redelivered "
    "(needs a private node: the management API)",
    "storage_down": "the service's database refuses every write from just before the "
    "report is published, for `seconds` (new sessions read-only, open ones terminated)",
}
NEEDS_MANAGEMENT = frozenset({"close_connection"})


@dataclass(frozen=True)
class LiveFault:
    kind: str
    report: int  # index into the workload
    seconds: float = 0.0  # storage_down: how long

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown live fault {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.report < 0:
            raise ValueError(f"a live fault's report must be >= 0, not {self.report}")

    @property
    def point(self) -> str:
        return f"live.{self.kind}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "report": self.report}
        if self.kind == "storage_down":
            out["seconds"] = self.seconds
        return out


@dataclass(frozen=True)
class LiveTiming:
    """The simulated world's hours, scaled down to seconds of wall-clock time."""

    resend_after: float = 4.0  # the portal's 6 h of silence
    deadline: float = 12.0  # the portal's 48 h net
    print_delay: float = 0.2  # printing takes 1 h in the simulation
    ttl: float = 60.0  # the message TTL, 24 h in the simulation
    settle: float = 0.5  # quiet time after the last report before reconciling
    ready_timeout: float = 30.0  # how long the service may take to consume

    def to_timing(self) -> Timing:
        def ms(seconds: float) -> int:
            return max(1, round(seconds * SECOND))

        return Timing(
            latency=1,
            resend_after=ms(self.resend_after),
            deadline=ms(self.deadline),
            print_delay=ms(self.print_delay),
            ttl=ms(self.ttl),
        )

    @property
    def resolution_bound(self) -> int:
        """SOR-7 in this world: deadline + print time + one second (of wall clock)."""
        t = self.to_timing()
        return t.deadline + t.print_delay + SECOND


@dataclass(frozen=True)
class LivePlan:
    seed: int
    reports: int
    faults: tuple[LiveFault, ...] = ()
    timing: LiveTiming = field(default_factory=LiveTiming)

    def __post_init__(self) -> None:
        if self.reports < 1:
            raise ValueError(f"a live plan needs at least one report, not {self.reports}")
        late = [f for f in self.faults if f.report >= self.reports]
        if late:
            raise ValueError(
                f"fault {late[0].kind} strikes report {late[0].report}, but the plan has "
                f"only reports 0-{self.reports - 1}"
            )

    def specs(self) -> tuple[ReportSpec, ...]:
        """The workload: both forms, version 2, in turn (the same as the simulation's)."""
        return tuple(
            ReportSpec(0, "privat" if i % 2 else "offentlig", 2) for i in range(self.reports)
        )

    def faults_for(self, report: int, kind: str) -> list[LiveFault]:
        return [f for f in self.faults if f.report == report and f.kind == kind]

    def to_json(self) -> dict[str, Any]:
        t = self.timing
        return {
            "tier": "live",
            "seed": self.seed,
            "reports": self.reports,
            "faults": [f.to_json() for f in self.faults],
            "timing": {
                "resend_after": t.resend_after,
                "deadline": t.deadline,
                "print_delay": t.print_delay,
                "ttl": t.ttl,
                "settle": t.settle,
                "ready_timeout": t.ready_timeout,
            },
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LivePlan:
        t = raw.get("timing") or {}
        return cls(
            int(raw["seed"]),
            int(raw["reports"]),
            tuple(
                LiveFault(str(f["kind"]), int(f["report"]), float(f.get("seconds", 0)))
                for f in raw.get("faults", ())
            ),
            LiveTiming(**{k: float(v) for k, v in t.items() if k in _TIMING_KEYS}),
        )

    @property
    def size(self) -> tuple[int, int]:
        return (self.reports + len(self.faults), 0)


_TIMING_KEYS = frozenset(
    ("resend_after", "deadline", "print_delay", "ttl", "settle", "ready_timeout")
)


def default_plan(seed: int = 0, *, management: bool = True) -> LivePlan:
    """The checklist `harness run --service` runs: one report a fault, a plain one first
    and last, in the sequential mode. Each fault alone catches one class of bug."""
    faults = [
        LiveFault("resend", 1),
        LiveFault("storage_down", 2, 1.5),
        LiveFault("kill_at_reply", 3),
        LiveFault("kill_at_download", 4),
    ]
    if management:
        faults.append(LiveFault("close_connection", 5))
    return LivePlan(seed, len(faults) + 2, tuple(faults))
