"""Wires portal, transport and case-system slot together and runs one plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.components.portal import Portal
from harness.components.protocols import CaseSystemEnv, CaseSystemFactory, IncomingMessage
from harness.components.transport import DeliveryChannel, Transport
from harness.engine.case_slot import CaseSystemSlot
from harness.engine.context import Sim, Timing
from harness.engine.faults import Fault, Injector
from harness.engine.history import HARNESS, History
from harness.engine.loop import EventLoop
from harness.engine.storage import Storage
from harness.engine.workload import ReportSpec, make_submission

DEFAULT_GUARD_SECONDS = 5.0


@dataclass(frozen=True)
class Plan:
    """Everything that decides a run: the seed, the workload and the fault plan."""

    seed: int
    reports: tuple[ReportSpec, ...]
    faults: tuple[Fault, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "reports": [
                {
                    "at": r.at,
                    "form": r.form,
                    "version": r.version,
                    "defect": r.defect,
                    "data": r.data,
                }
                for r in self.reports
            ],
            "faults": [{"point": f.point, "nth": f.nth, "count": f.count} for f in self.faults],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Plan:
        return cls(
            int(raw["seed"]),
            tuple(
                ReportSpec(
                    int(r["at"]),
                    str(r.get("form", "privat")),
                    int(r.get("version", 2)),
                    r.get("defect"),
                    r.get("data"),
                )
                for r in raw["reports"]
            ),
            tuple(
                Fault(str(f["point"]), int(f.get("nth", 0)), int(f.get("count", 1)))
                for f in raw["faults"]
            ),
        )

    @property
    def size(self) -> tuple[int, int]:
        """How big a counterexample is: fewer reports and faults read faster."""
        return (len(self.reports) + len(self.faults), sum(f.nth + f.count for f in self.faults))


@dataclass
class RunResult:
    history: History
    completed: bool
    hung: str | None
    reached: dict[str, int] = field(default_factory=dict)
    fired: dict[str, int] = field(default_factory=dict)


def simulate(
    plan: Plan,
    factory: CaseSystemFactory,
    *,
    options: Mapping[str, str] | None = None,
    timing: Timing | None = None,
    guard_seconds: float = DEFAULT_GUARD_SECONDS,
    max_steps: int = 200_000,
) -> RunResult:
    loop = EventLoop(plan.seed)
    sim = Sim(loop, History(), Injector(plan.faults), timing or Timing())
    storage = Storage()
    try:
        transport = Transport(sim)
        portal = Portal(sim, transport.send)
        slot = CaseSystemSlot(
            sim, factory, CaseSystemEnv(storage, dict(options or {})), guard_seconds
        )

        def consume(message: IncomingMessage, channel: DeliveryChannel) -> bool:
            crashed = slot.deliver(message, channel)
            if slot.hung:  # one hang is enough: waiting out every redelivery would take minutes
                sim.record(HARNESS, "aborted", None, reason=slot.hung)
                loop.stop()
            return crashed

        transport.connect(consume, portal.on_receipt)
        for index, spec in enumerate(plan.reports):
            sub = make_submission(index, spec, plan.seed)
            loop.call_at(spec.at, lambda sub=sub: portal.submit(sub))  # type: ignore[misc]
        completed = loop.run(max_steps) and slot.hung is None
        sim.record(HARNESS, "end", None, completed=completed, steps=loop.steps)
        slot.reconcile()
        return RunResult(
            sim.history, completed, slot.hung, dict(sim.injector.reached), dict(sim.injector.fired)
        )
    finally:
        storage.destroy()
