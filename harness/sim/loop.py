"""One event loop, virtual time, one seeded random source: the whole world of a run.

Nothing here reads the wall clock or starts a thread, so the same seed and the
same plan give the same order of events, byte for byte.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable

_FIRST_LANE = 2**62  # subtracted from the sequence number of `first` actions


class EventLoop:
    """A discrete-event scheduler. Ties at one instant run in scheduling order."""

    def __init__(self, seed: int) -> None:
        self.now = 0
        self.rng = random.Random(seed)
        # (at, seq, action): tuples compare in C; seq breaks ties in scheduling order
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self.steps = 0
        self.stopped = False

    def call_at(self, at: int, action: Callable[[], None], first: bool = False) -> None:
        """Run `action` at virtual time `at`. Ties run in scheduling order, except that
        `first` actions (submissions) run before every other action at that time, so a
        workload scheduled up front and one scheduled as it goes give the same order."""
        if self.stopped:
            return  # an abandoned run schedules nothing more
        self._seq += 1
        key = self._seq - _FIRST_LANE if first else self._seq
        heapq.heappush(self._queue, (max(at, self.now), key, action))

    def call_later(self, delay: int, action: Callable[[], None]) -> None:
        self.call_at(self.now + delay, action)

    def advance(self, delay: int) -> None:
        """Let virtual time pass inside a step (a slow write, say)."""
        self.now += max(0, delay)

    def run(self, max_steps: int) -> bool:
        """Run until nothing is scheduled. False when the step budget ran out first."""
        while self._queue:
            if self.steps >= max_steps:
                return False
            at, _, action = heapq.heappop(self._queue)
            self.now = max(self.now, at)
            self.steps += 1
            action()
        return True

    def stop(self) -> None:
        """Abandon the run: drop everything scheduled, and anything scheduled later."""
        self.stopped = True
        self._queue.clear()

    def new_id(self) -> str:
        """A UUID-shaped id drawn from the seeded source (never uuid4, which is unseeded)."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"
