"""Named injection points and the injector that fires a fault plan at them.

A fault is (point, nth): fire at the nth time (0-based) the run reaches that
point. Counting occurrences instead of clock times keeps a plan meaningful when
other faults shift the timeline, and lets Hypothesis shrink nth toward 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class InjectionPoint:
    name: str  # component.step.kind
    description: str


# The catalogue. Order matters: Hypothesis shrinks toward the first entries,
# so the plainest faults come first.
CATALOGUE: tuple[InjectionPoint, ...] = (
    InjectionPoint(
        "storage.execute.error", "a write statement of the case system fails with a database error"
    ),
    InjectionPoint(
        "storage.execute.timeout",
        "a write statement hangs for 30 s of virtual time, then times out",
    ),
    InjectionPoint("storage.commit.error", "a commit fails; the transaction is rolled back"),
    InjectionPoint(
        "transport.send.drop", "a message from the portal is lost before the transport queues it"
    ),
    InjectionPoint(
        "transport.deliver.duplicate",
        "the transport delivers a message twice (at-least-once delivery)",
    ),
    InjectionPoint(
        "transport.deliver.redeliver",
        "the channel resets after a delivery: its ack is void and it is redelivered",
    ),
    InjectionPoint(
        "transport.ack.lost",
        "the consumer's ack is lost; the message is redelivered after the ack timeout",
    ),
    InjectionPoint(
        "transport.deliver.corrupt",
        "the report JSON is damaged in the transport, for good: every later delivery carries it",
    ),
    InjectionPoint("transport.reply.lost", "a reply from the case system never reaches the portal"),
    InjectionPoint(
        "case_system.crash.before_store",
        "the case system crashes on receiving a message, before it stores anything",
    ),
    InjectionPoint(
        "case_system.crash.after_commit",
        "the case system crashes right after a commit, before it replies",
    ),
    InjectionPoint(
        "case_system.crash.after_reply", "the case system crashes after replying, before it acks"
    ),
)
POINTS: dict[str, InjectionPoint] = {p.name: p for p in CATALOGUE}


@dataclass(frozen=True)
class Fault:
    point: str
    nth: int = 0

    def __post_init__(self) -> None:
        if self.point not in POINTS:
            known = ", ".join(POINTS)
            raise ValueError(f"unknown injection point {self.point!r}; known points: {known}")
        if self.nth < 0:
            raise ValueError(f"fault {self.point!r}: nth must be 0 or more, got {self.nth}")


class Injector:
    """Counts how often each point is reached and says when a planned fault fires."""

    def __init__(self, faults: Iterable[Fault]) -> None:
        self._armed: set[tuple[str, int]] = {(f.point, f.nth) for f in faults}
        self.reached: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()

    def hit(self, point: str) -> bool:
        if point not in POINTS:  # a typo in a component would silently never fire
            raise KeyError(f"injection point {point!r} is not in the catalogue")
        n = self.reached[point]
        self.reached[point] = n + 1
        if (point, n) in self._armed:
            self.fired[point] += 1
            return True
        return False
