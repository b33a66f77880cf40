"""Wires portal, transport and case-system slot together and runs one plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from harness.components.portal import Portal
from harness.components.protocols import CaseSystemEnv, CaseSystemFactory, IncomingMessage
from harness.components.transport import DeliveryChannel, Transport
from harness.engine.case_slot import CaseSystemSlot
from harness.engine.context import Sim, Timing
from harness.engine.documents import DOKUMENTLAGER, DocumentStore
from harness.engine.faults import Injector
from harness.engine.history import HARNESS, HTTP, History
from harness.engine.http_world import HttpWorld
from harness.engine.loop import EventLoop
from harness.engine.plan import Plan, Window
from harness.engine.storage import Storage
from harness.engine.workload import ReportSpec, make_submission

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
        documents = DocumentStore(loop)
        transport = Transport(sim, documents)
        portal = Portal(
            sim,
            documents.sender(
                transport.send,
                lambda report: portal.reports[report].submission.spec.data == DOKUMENTLAGER,
            ),
        )
        env = CaseSystemEnv(storage, dict(options or {}))
        slot = CaseSystemSlot(sim, factory, env, guard_seconds)
        http = HttpWorld(sim, slot, documents, env.http)

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
        with http.serving():  # requests to the simulated APIs are answered in-process
            completed = loop.run(max_steps) and slot.hung is None
            sim.record(HARNESS, "end", None, completed=completed, steps=loop.steps)
            slot.reconcile()
        return RunResult(
            sim.history, completed, slot.hung, dict(sim.injector.reached), dict(sim.injector.fired)
        )
    finally:
        storage.destroy()


def uses_http(factory: CaseSystemFactory, options: Mapping[str, str] | None = None) -> bool:
    """Whether the adapter calls the simulated HTTP APIs: one pilot run, with one report
    sent inline and one sent by reference. The search adds HTTP faults and reports sent
    by reference only for such adapters, so nothing changes for the others."""
    pilot = Plan(0, (ReportSpec(0), ReportSpec(0, data=DOKUMENTLAGER)))
    run = simulate(pilot, factory, options=options)
    return any(e.component == HTTP for e in run.history)


__all__ = ["Plan", "RunResult", "Window", "simulate", "uses_http"]
