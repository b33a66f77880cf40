"""A wall-clock scheduler with the simulated loop's interface.

Components call `call_later` and read `now` (milliseconds since the run began) as
they do in the simulation. Actions run one at a time, in the thread that calls
`run_until`; other threads (the HTTP server, the broker consumer) hand work to it
with `post` or `ask`, so every component and the history are only ever touched by
that one thread.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


class LoopStopped(Exception):
    """The run is over: nothing handed to the loop now will run."""


class WallLoop:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._start = time.monotonic()
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._cv = threading.Condition()
        self.stopped = False

    @property
    def now(self) -> int:
        return int((time.monotonic() - self._start) * 1000)

    def call_at(self, at: int, action: Callable[[], None], first: bool = False) -> None:
        with self._cv:
            if self.stopped:
                return
            self._seq += 1
            seq = self._seq - 2**62 if first else self._seq
            heapq.heappush(self._queue, (self._start + at / 1000, seq, action))
            self._cv.notify()

    def call_later(self, delay: int, action: Callable[[], None]) -> None:
        with self._cv:
            if self.stopped:
                return
            self._seq += 1
            at = time.monotonic() + max(0, delay) / 1000
            heapq.heappush(self._queue, (at, self._seq, action))
            self._cv.notify()

    def post(self, action: Callable[[], None]) -> None:
        """Run `action` in the loop's thread as soon as it is free (from any thread)."""
        self.call_later(0, action)

    def ask(self, fn: Callable[[], T], timeout: float) -> T:
        """Run `fn` in the loop's thread and wait for its result (from another thread)."""
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        if self.stopped:
            raise LoopStopped("the run is over")
        self.post(run)
        return future.result(timeout)

    def new_id(self) -> str:
        """A UUID-shaped id from the seeded source: the same seed gives the same ids."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Run due actions until `done()` holds; False when `timeout` seconds pass first."""
        limit = time.monotonic() + timeout
        while not done():
            with self._cv:
                now = time.monotonic()
                if now >= limit:
                    return False
                if not self._queue or self._queue[0][0] > now:
                    wake = min(limit, self._queue[0][0]) if self._queue else limit
                    self._cv.wait(max(0.0, wake - now))
                    continue
                _, _, action = heapq.heappop(self._queue)
            action()
        return True

    def sleep(self, seconds: float) -> None:
        """Let `seconds` pass while running whatever falls due."""
        limit = time.monotonic() + seconds
        self.run_until(lambda: time.monotonic() >= limit, seconds + 1)

    def stop(self) -> None:
        with self._cv:
            self.stopped = True
            self._queue.clear()
            self._cv.notify_all()
