"""Wires portal, transport and case-system slot together and runs one plan."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from harness.components.portal import Portal
from harness.components.protocols import CaseSystemEnv, CaseSystemFactory
from harness.components.transport import Transport
from harness.core.collector import paused_collector
from harness.core.faults import Injector
from harness.core.history import HARNESS, HTTP, Event, History
from harness.core.plan import Plan, Window
from harness.core.timing import Timing
from harness.core.workload import ReportSpec, make_submission
from harness.sim.case_slot import CaseSystemSlot
from harness.sim.context import Sim
from harness.sim.documents import DOKUMENTLAGER, DocumentStore
from harness.sim.guard import installed as guard_installed
from harness.sim.http_world import HttpWorld
from harness.sim.loop import EventLoop
from harness.sim.settle import Settler
from harness.sim.storage import Storage

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
    stream: Callable[[Event], None] | None = None,
) -> RunResult:
    """Run one plan. With `stream`, every event goes there and none is kept, reports
    are submitted as their time comes and forgotten once settled, so memory follows
    the reports in flight, not the length of the run (see engine/settle.py)."""
    loop = EventLoop(plan.seed)
    timing = timing or Timing()
    if plan.deadline is not None:
        timing = replace(timing, deadline=plan.deadline)
    injector = Injector(plan.faults, plan.windows, lambda: loop.now)
    digests: dict[bytes, bytes] | None = None if stream else {}
    sim = Sim(loop, History(sink=stream), injector, timing, digests, plan.clock_start)
    storage = Storage()
    slot: CaseSystemSlot | None = None
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

        transport.connect(slot.deliver, portal.on_receipt)
        slot.on_lost = transport.consumer_lost
        settler = None
        if stream is None:
            for index, spec in enumerate(plan.reports):
                sub = make_submission(index, spec, plan.seed, sim.start)
                loop.call_at(spec.at, lambda sub=sub: portal.submit(sub), first=True)  # type: ignore[misc]
        else:
            settler = Settler(sim, slot, portal.forget)
            portal.on_closed = settler.closed
            _submit_in_turn(loop, portal, plan, 0)
        # Requests to the simulated APIs are answered in-process; the hang guard's
        # handler stays in place for the whole run; adapter calls see virtual time
        # (sim/virtual_time.py); a batch run, which keeps its history, pauses the
        # garbage collector (core/collector.py).
        with (
            http.serving(),
            guard_installed(),
            slot.time.running(),
            paused_collector(stream is None),
        ):
            completed = loop.run(max_steps) and slot.hung is None
            sim.record(HARNESS, "end", None, completed=completed, steps=loop.steps)
            if settler is None:
                slot.reconcile()
            else:
                slot.forget_instance()
                settler.reconcile_rest()
        return RunResult(
            sim.history, completed, slot.hung, dict(sim.injector.reached), dict(sim.injector.fired)
        )
    finally:
        if slot is not None:
            slot.forget_instance()  # also when the run was interrupted: sys.modules as it was
        storage.destroy()


def _submit_in_turn(loop: EventLoop, portal: Portal, plan: Plan, index: int) -> None:
    """Schedule one submission, which schedules the next: no workload held in memory."""
    if index >= len(plan.reports):
        return
    spec = plan.reports[index]

    def submit() -> None:
        portal.submit(make_submission(index, spec, plan.seed, plan.clock_start))
        _submit_in_turn(loop, portal, plan, index + 1)

    loop.call_at(spec.at, submit, first=True)


def uses_http(factory: CaseSystemFactory, options: Mapping[str, str] | None = None) -> bool:
    """Whether the adapter calls the simulated HTTP APIs: one pilot run, with one report
    sent inline and one sent by reference. The search adds HTTP faults and reports sent
    by reference only for such adapters, so nothing changes for the others."""
    pilot = Plan(0, (ReportSpec(0), ReportSpec(0, data=DOKUMENTLAGER)))
    run = simulate(pilot, factory, options=options)
    return any(e.component == HTTP for e in run.history)


__all__ = ["Plan", "RunResult", "Window", "simulate", "uses_http"]
