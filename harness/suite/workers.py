"""Worker processes for a parallel run: each takes one job at a time over its own pipe,
and can be stopped mid-job once its work is no longer needed (concurrent.futures
cannot).

A feeder thread in this process hands each worker its next job the moment it
reports the last one, while this process's main thread runs jobs of its own; the
thread only moves jobs and results through pipes and never touches a simulation.
A worker that dies (an adapter that kills its process, say) is an error naming the
job, never a wait without end. Each worker makes its databases in a folder of its
own, removed after it ends, however it ended.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import shutil
import tempfile
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.sim.storage import scratch_folder, use_scratch_root

Job = tuple[Any, ...]
_EXIT_GRACE_S = 5.0  # for a worker told to stop, before it is ended by force


class WorkerError(HarnessError):
    """A job failed or its worker died; the message names the job and says why."""


class Workers:
    def __init__(
        self,
        size: int,
        run: Callable[..., Any],
        take: Callable[[], Job | None],
        describe: Callable[[Job], str] = repr,
    ) -> None:
        """Start `size` workers running `run(*job)` for jobs from `take` (None: no more);
        `describe` names a job in an error. This process takes its own jobs through
        `take_here`, never directly: one lock covers taking a job and marking a
        worker busy with it."""
        # spawn: a clean process, never a fork of this one (which may hold the adapter's
        # connections or threads). It starts in the background: this process works on
        # while the worker imports, so a short run never waits for it.
        ctx = multiprocessing.get_context("spawn")
        self._take, self._describe = take, describe
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []
        self._scratch: list[str] = []
        self._jobs: list[Job | None] = []  # the job each worker is running
        self._results: queue.SimpleQueue[tuple[Job, bool, Any]] = queue.SimpleQueue()
        self._stopping = False
        self._lock = threading.Lock()
        self._wake_read, self._wake = ctx.Pipe(duplex=False)
        for _ in range(size):
            scratch = tempfile.mkdtemp(prefix="harness-worker-", dir=scratch_folder())
            parent, child = ctx.Pipe()
            # Not a daemon: an adapter may start processes of its own, as it may at -n 1.
            proc = ctx.Process(target=_serve, args=(child, run, scratch))
            proc.start()
            child.close()
            self._pipes.append(parent)
            self._procs.append(proc)
            self._scratch.append(scratch)
            self._jobs.append(None)
        self._hand_out()  # a first job each, before this process takes any
        self._feeder = threading.Thread(target=self._feed, name="harness-feeder", daemon=True)
        self._feeder.start()

    @property
    def busy(self) -> bool:
        """Whether a result is still to come (or is waiting to be collected)."""
        return any(job is not None for job in self._jobs) or not self._results.empty()

    @property
    def folders(self) -> list[Path]:
        """Each worker's own folder for databases (removed by `stop`)."""
        return [Path(folder) for folder in self._scratch]

    @property
    def alive(self) -> int:
        """How many worker processes are running."""
        return sum(proc.is_alive() for proc in self._procs)

    def take_here(self, take: Callable[[], Job | None]) -> Job | None:
        """A job from `take`, for this process to run itself."""
        with self._lock:
            return take()

    def results(self, block: bool) -> list[tuple[Job, Any]]:
        """(job, result) for every job that has finished; with `block`, waits for one."""
        out: list[tuple[Job, Any]] = []
        while True:
            try:
                job, ok, value = self._results.get(block=block and not out)
            except queue.Empty:
                return out
            if not ok:
                raise WorkerError(value)
            out.append((job, value))

    def stop(self) -> None:
        """End every worker; one still busy is running a job nobody needs any more."""
        self._stopping = True
        self._wake.send(None)
        self._feeder.join()
        for pipe, proc, job in zip(self._pipes, self._procs, self._jobs, strict=True):
            if job is None and proc.is_alive():
                with contextlib.suppress(OSError):  # it died meanwhile: nothing to tell it
                    pipe.send(None)  # done: it exits at once, whatever threads it has
            else:
                proc.terminate()
        for proc in self._procs:
            proc.join(_EXIT_GRACE_S)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for pipe, scratch in zip(self._pipes, self._scratch, strict=True):
            pipe.close()
            shutil.rmtree(scratch, ignore_errors=True)
        self._wake.close()
        self._wake_read.close()

    def _feed(self) -> None:
        """The feeder thread: keep every worker busy, pass results on, report deaths."""
        try:
            while not self._stopping:
                self._hand_out()
                busy = [i for i, job in enumerate(self._jobs) if job is not None]
                if not busy:
                    return  # nothing running and nothing left to hand out
                handles: list[Any] = [self._wake_read]
                for i in busy:
                    handles += [self._pipes[i], self._procs[i].sentinel]
                ready = wait(handles)
                if self._wake_read in ready:
                    return
                for i in busy:
                    self._collect(i, ready)
        except BaseException:  # whatever broke here, the main thread hears of it
            self._results.put(((), False, f"the worker feeder failed:\n{traceback.format_exc()}"))

    def _hand_out(self) -> None:
        """A job to every worker without one, while jobs are left."""
        for i, pipe in enumerate(self._pipes):
            if self._jobs[i] is None:
                with self._lock:  # so `busy` never misses a job between the two
                    job = self._jobs[i] = self._take()
                if job is not None:
                    pipe.send(job)

    def _collect(self, i: int, ready: list[Any]) -> None:
        pipe, proc, job = self._pipes[i], self._procs[i], self._jobs[i]
        if job is None or (pipe not in ready and proc.sentinel not in ready):
            return
        try:
            ok, value = pipe.recv()
            if not ok:
                value = f"{self._describe(job)} failed in a worker process:\n{value}"
        except (EOFError, OSError):  # the pipe closed without a result: the worker died
            proc.join()  # it has ended: this only collects its exit code
            ok = False
            value = (
                f"a worker process died (exit code {proc.exitcode}) running "
                f"{self._describe(job)}; the run is incomplete and no report was written"
            )
            self._stopping = True
        self._results.put((job, ok, value))  # before the worker counts as free: see `busy`
        self._jobs[i] = None


def _serve(pipe: Connection, run: Callable[..., Any], scratch: str) -> None:
    """A worker's loop: run each job it is sent until it is sent None, then exit at
    once (an adapter's leftover threads must not keep the run waiting)."""
    use_scratch_root(scratch)
    while (job := pipe.recv()) is not None:
        try:
            pipe.send((True, run(*job)))
        except BaseException:  # any failure goes back to the parent, as text
            pipe.send((False, traceback.format_exc()))
    pipe.close()
    os._exit(0)
