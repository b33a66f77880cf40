"""Worker processes for a parallel run: each takes jobs over its own pipe, and can be
stopped mid-job once its work is no longer needed (concurrent.futures cannot).

A worker that dies (an adapter that kills its process, say) is an error naming the
job, never a wait without end.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

# Each worker holds up to this many jobs: one running and one waiting in its pipe, so
# it never waits for the parent to hand it the next.
DEPTH = 2


class WorkerError(RuntimeError):
    """A job failed or its worker died; the message names the job and says why."""


class Workers:
    def __init__(self, size: int, run: Callable[..., Any]) -> None:
        # spawn: a clean process, never a fork of this one (which may hold the adapter's
        # connections or threads). It starts in the background: this process works on
        # while the worker imports, so a short run never waits for it.
        ctx = multiprocessing.get_context("spawn")
        self._run = run
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []
        self._jobs: list[list[tuple[Any, ...]]] = []  # per worker, in the order sent
        for _ in range(size):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, run), daemon=True)
            proc.start()
            child.close()
            self._pipes.append(parent)
            self._procs.append(proc)
            self._jobs.append([])

    @property
    def busy(self) -> bool:
        return any(self._jobs)

    @property
    def alive(self) -> int:
        """How many worker processes are running."""
        return sum(proc.is_alive() for proc in self._procs)

    def feed(self, take: Callable[[], tuple[Any, ...] | None]) -> None:
        """Top every worker up to DEPTH jobs from `take` (None: nothing left)."""
        for pipe, jobs in zip(self._pipes, self._jobs, strict=True):
            while len(jobs) < DEPTH and (job := take()) is not None:
                pipe.send(job)
                jobs.append(job)

    def results(self, block: bool) -> list[tuple[tuple[Any, ...], Any]]:
        """(job, result) for every job that has finished; with `block`, waits for one."""
        ready = wait(self._busy_handles(), timeout=None if block else 0)
        out = []
        for i, (pipe, proc) in enumerate(zip(self._pipes, self._procs, strict=True)):
            while self._jobs[i] and (pipe in ready or proc.sentinel in ready) and pipe.poll():
                try:
                    ok, value = pipe.recv()
                except (EOFError, OSError):  # the pipe closed: the worker is gone
                    break
                job = self._jobs[i].pop(0)
                if not ok:
                    raise WorkerError(f"job {job} failed in a worker process:\n{value}")
                out.append((job, value))
            if self._jobs[i] and not proc.is_alive():
                proc.join()  # it has ended: this only collects its exit code
                raise WorkerError(
                    f"a worker process died (exit code {proc.exitcode}) running job "
                    f"{self._jobs[i][0]}"
                )
        return out

    def stop(self) -> None:
        """End every worker; one still busy is running a job nobody needs any more."""
        for pipe, proc, jobs in zip(self._pipes, self._procs, self._jobs, strict=True):
            if jobs or not proc.is_alive():
                proc.terminate()
            else:
                pipe.send(None)
        for pipe, proc in zip(self._pipes, self._procs, strict=True):
            proc.join()
            pipe.close()

    def _busy_handles(self) -> list[Any]:
        handles: list[Any] = []
        for pipe, proc, jobs in zip(self._pipes, self._procs, self._jobs, strict=True):
            if jobs:
                handles += [pipe, proc.sentinel]
        return handles


def _serve(pipe: Connection, run: Callable[..., Any]) -> None:
    """A worker's loop: run each job it is sent until it is sent None."""
    while (job := pipe.recv()) is not None:
        try:
            pipe.send((True, run(*job)))
        except BaseException:
            pipe.send((False, traceback.format_exc()))
