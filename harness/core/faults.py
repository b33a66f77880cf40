"""Named injection points and the injector that fires a fault plan at them.

A fault is (point, nth): fire at the nth time (0-based) the run reaches that
point. Counting occurrences instead of clock times keeps a plan meaningful when
other faults shift the timeline, and lets Hypothesis shrink nth toward 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class InjectionPoint:
    name: str  # component.step.kind
    description: str
    weight: int = 1  # how often the search draws it: loss hides at the heavier ones


def _p(name: str, description: str, weight: int = 1) -> InjectionPoint:
    return InjectionPoint(name, description, weight)


# The catalogue. Order matters: Hypothesis shrinks toward the first entries, so
# the plainest faults come first. Weights bias the search toward the step
# boundaries where reports are lost (storage failures and crashes around the
# commit and the reply), as FoundationDB's BUGGIFY biases toward rare paths.
CATALOGUE: tuple[InjectionPoint, ...] = (
    _p(
        "storage.execute.error",
        "a write statement of the case system fails with a database error",
        3,
    ),
    _p(
        "storage.execute.timeout",
        "a write statement hangs for 30 s of virtual time, then times out",
        3,
    ),
    _p("storage.commit.error", "a commit fails; the transaction is rolled back", 2),
    _p(
        "storage.commit.lost_ack",
        "a commit is applied, but the database reports an error "
        "(the outcome looks unknown to the caller)",
        2,
    ),
    _p(
        "storage.connection.lost",
        "the database connection drops before a write: whatever the open transaction held is lost",
        2,
    ),
    _p("transport.send.drop", "a message from the portal is lost before the transport queues it"),
    _p(
        "transport.deliver.duplicate",
        "the transport delivers a message twice (at-least-once delivery)",
        2,
    ),
    _p(
        "transport.deliver.redeliver",
        "the channel resets after a delivery: its ack is void and it is redelivered",
        2,
    ),
    _p("transport.deliver.delay", "a message waits 2 h in the queue before its first delivery"),
    _p(
        "transport.deliver.reorder",
        "a message is held back 5 s, so messages sent after it overtake it",
    ),
    _p(
        "transport.deliver.corrupt",
        "the report JSON is damaged in the transport, for good: every later delivery carries it",
    ),
    _p(
        "transport.message.expire",
        "the message waits in the queue past its TTL; the sender gets tidsavbrudd",
    ),
    _p(
        "transport.message.dead_letter",
        "the broker dead-letters the message before the "
        "consumer sees it; the sender gets serverfeil",
    ),
    _p(
        "transport.ack.lost",
        "the consumer's ack is lost; the message is redelivered after the ack timeout",
        2,
    ),
    _p("transport.reply.lost", "a reply from the case system never reaches the portal", 2),
    _p(
        "case_system.crash.before_store",
        "the case system crashes on receiving a message, before it stores anything",
        2,
    ),
    _p(
        "case_system.crash.between_writes",
        "the case system crashes right after a write "
        "statement, before the next write or the commit",
        3,
    ),
    _p(
        "case_system.crash.after_commit",
        "the case system crashes right after a commit, before it replies",
        3,
    ),
    _p(
        "case_system.crash.after_reply", "the case system crashes after replying, before it acks", 3
    ),
    _p("case_system.clock.skew", "a (re)started case system's clock runs 2 h behind the portal's"),
    # HTTP edges, reached only by adapters that call the simulated APIs (requests, httpx)
    # (harness/sim/http_world.py). Appended, so the points above keep their places.
    *(
        _p(f"http.{endpoint}.{kind}", f"{what} ({call})", weight)
        for endpoint, call in (
            ("send", "POST to the send API, a reply"),
            ("download", "GET from the document store, a payload"),
        )
        for kind, what, weight in (
            (
                "connect_error",
                "the connection fails before the server sees the request: ConnectionError, "
                "nothing applied",
                1,
            ),
            (
                "timeout_before",
                "the connection times out before the server sees the request: ConnectTimeout, "
                "nothing applied",
                1,
            ),
            ("server_error", "the server answers 503 without applying the request", 1),
            (
                "rate_limited",
                "the server answers 429 with Retry-After: 30 without applying the request",
                1,
            ),
            (
                "response_lost",
                "the server applies the request, then the connection drops: the client gets "
                "ConnectionError",
                3,
            ),
            (
                "timeout_after",
                "the server applies the request, but its answer comes too late: the client "
                "gets ReadTimeout",
                3,
            ),
            (
                "slow",
                "the server takes 20 s of virtual time to answer (ReadTimeout, after the "
                "server applied it, when the client's timeout is shorter)",
                1,
            ),
        )
    ),
    _p(
        "http.download.truncated",
        "a payload arrives cut off halfway, as 200 OK (its Repr-Digest is the whole document's)",
        3,
    ),
    _p(
        "http.download.corrupt",
        "a payload arrives with damaged bytes, as 200 OK (its Repr-Digest is the whole document's)",
        3,
    ),
)
POINTS: dict[str, InjectionPoint] = {p.name: p for p in CATALOGUE}


@dataclass(frozen=True)
class Fault:
    """Fire at the nth time the run reaches `point` (0-based), and the `count - 1`
    times after it: a storm of one kind, such as storage overloaded for a while."""

    point: str
    nth: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.point not in POINTS:
            known = ", ".join(POINTS)
            raise ValueError(f"unknown injection point {self.point!r}; known points: {known}")
        if self.nth < 0 or self.count < 1:
            raise ValueError(
                f"fault {self.point!r}: nth must be 0 or more and count 1 or "
                f"more, got nth={self.nth} count={self.count}"
            )


class TimeWindow(Protocol):
    @property
    def point(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


class Injector:
    """Counts how often each point is reached and says when a planned fault fires."""

    def __init__(
        self,
        faults: Iterable[Fault],
        windows: Iterable[TimeWindow] = (),
        now: Callable[[], int] = lambda: 0,
    ) -> None:
        self._armed: dict[str, list[range]] = {}
        for f in faults:
            self._armed.setdefault(f.point, []).append(range(f.nth, f.nth + f.count))
        self._windows: dict[str, list[range]] = {}
        for w in windows:
            self._windows.setdefault(w.point, []).append(range(w.start, w.end))
        self._now = now
        self._planned = frozenset(self._armed) | frozenset(self._windows)
        self.reached: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()

    def hit(self, point: str) -> bool:
        # Called ~20 times a report: the common case (a point reached before, nothing
        # planned there) costs one dict look-up, a store and a set look-up.
        n = self.reached.get(point)
        if n is None:
            if point not in POINTS:  # a typo in a component would silently never fire
                raise KeyError(f"injection point {point!r} is not in the catalogue")
            n = 0
        self.reached[point] = n + 1
        if point not in self._planned:
            return False
        armed, windows = self._armed.get(point), self._windows.get(point)
        if (armed and any(n in occurrences for occurrences in armed)) or (
            windows and any(self._now() in span for span in windows)
        ):
            self.fired[point] += 1
            return True
        return False
