"""The shared context of one simulated run, handed to every component."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from harness.core.faults import Injector
from harness.core.history import Event, History
from harness.core.timing import Timing
from harness.core.wire import EPOCH_AT
from harness.sim.loop import EventLoop


@dataclass
class Sim:
    loop: EventLoop
    history: History
    injector: Injector
    timing: Timing = field(default_factory=Timing)
    # JSON digests by payload, kept for the run (see digest.content_digest); None in a
    # streamed run, whose memory must follow the reports in flight.
    digests: dict[bytes, bytes] | None = None
    start: datetime = EPOCH_AT  # the local moment virtual time 0 stands for (Plan.clock_start)

    def record(self, component: str, kind: str, report: str | None = None, **data: object) -> None:
        # Built here, not through History.add: one keyword dictionary, not two.
        self.history.append(Event(self.loop.now, component, kind, report, data))
