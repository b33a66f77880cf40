"""Wires portal, transport and case-system slot together and runs one plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from harness.components.portal import Portal
from harness.components.protocols import CaseSystemEnv, CaseSystemFactory, IncomingMessage
from harness.components.transport import DeliveryChannel, Transport
from harness.engine.case_slot import CaseSystemSlot
from harness.engine.context import Sim, Timing
from harness.engine.faults import Injector
from harness.engine.history import HARNESS, History
from harness.engine.loop import EventLoop
from harness.engine.plan import Plan, Window
from harness.engine.storage import Storage
from harness.engine.workload import make_submission

DEFAULT_GUARD_SECONDS = 5.0


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
    timing = timing or Timing()
    if plan.deadline is not None:
        timing = replace(timing, deadline=plan.deadline)
    injector = Injector(plan.faults, plan.windows, lambda: loop.now)
    sim = Sim(loop, History(), injector, timing)
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


__all__ = ["Plan", "RunResult", "Window", "simulate"]
