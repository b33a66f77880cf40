"""The shared context of one simulated run, handed to every component."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.engine.faults import Injector
from harness.engine.history import Event, History
from harness.engine.loop import HOUR, MINUTE, SECOND, EventLoop


@dataclass(frozen=True)
class Timing:
    """Virtual durations of the simulated world (milliseconds)."""

    latency: int = 50  # one hop through the transport
    redelivery_delay: int = 1 * SECOND
    restart_delay: int = 5 * SECOND  # a crashed case system takes this long to come back
    ack_timeout: int = 30 * MINUTE  # an unacked delivery is requeued after this
    ttl: int = 24 * HOUR  # the protocol's recommended message TTL
    resend_after: int = 6 * HOUR  # the portal resends once when it has heard nothing
    max_resends: int = 1
    deadline: int = 48 * HOUR  # the portal's own net: no mottatt by then means print
    print_delay: int = 1 * HOUR
    storage_timeout: int = 30 * SECOND
    max_deliveries: int = 3  # failed deliveries before the dead-letter queue

    @property
    def resolution_bound(self) -> int:
        """SOR-7: how long after acceptance a report may take to be final."""
        return self.deadline + self.print_delay + MINUTE


@dataclass
class Sim:
    loop: EventLoop
    history: History
    injector: Injector
    timing: Timing = field(default_factory=Timing)
    # JSON digests by payload, kept for the run (see digest.content_digest); None in a
    # streamed run, whose memory must follow the reports in flight.
    digests: dict[bytes, bytes] | None = None

    def record(self, component: str, kind: str, report: str | None = None, **data: object) -> None:
        # Built here, not through History.add: one keyword dictionary, not two.
        self.history.append(Event(self.loop.now, component, kind, report, data))
