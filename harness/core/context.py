"""What a component needs from the world it runs in, whichever world that is.

The simulated world (`sim/context.py`: virtual time) and the live world
(`live/context.py`: wall-clock time, scaled down) both provide this, so the
reference portal is one class in both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from harness.core.timing import Timing


class Scheduler(Protocol):
    """Time in whole milliseconds since the run began; actions run one at a time."""

    @property
    def now(self) -> int: ...

    def call_later(self, delay: int, action: Callable[[], None]) -> None: ...

    def new_id(self) -> str: ...


class Context(Protocol):
    """A scheduler, the run's durations, and the recorder of its history."""

    @property
    def loop(self) -> Scheduler: ...

    @property
    def timing(self) -> Timing: ...

    @property
    def digests(self) -> dict[bytes, bytes] | None: ...

    def record(
        self, component: str, kind: str, report: str | None = None, **data: object
    ) -> None: ...
