"""Pausing Python's garbage collector while a long history is built or read.

Each full collection walks every live object, and a batch run keeps its whole
history alive: at 50,000 reports the collector spent about a quarter of a run, and
half of the check, walking events to find a few objects of cyclic garbage a report.
Paused for the call and restored after; anything it would have found is collected
then. Streamed runs, which must stay flat in memory, do not pause it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_collector(pause: bool = True) -> Iterator[None]:
    paused = pause and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
