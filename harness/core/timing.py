"""Units of time and the durations of the pipeline, shared by both worlds.

The simulation counts them in virtual milliseconds; the live tier scales them
down to wall-clock seconds. Nothing here knows which world it is in.
"""

from __future__ import annotations

from dataclasses import dataclass

SECOND = 1_000  # time is counted in whole milliseconds
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


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
    prefetch: int = 10  # unacked deliveries a consumer holds at once (Fiks IO: 10; 0: no limit)

    @property
    def resolution_bound(self) -> int:
        """SOR-7: how long after acceptance a report may take to be final."""
        return self.deadline + self.print_delay + MINUTE
