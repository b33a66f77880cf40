"""The vendor's service as a command: started, watched, killed and restarted.

The command runs through `/bin/sh -c` in a process group of its own, with the
endpoints in its environment; its stdout and stderr go to a log file (one per run,
in the report folder), never into the harness's output. A kill is SIGKILL to the
whole group, so a wrapper script cannot leave its child running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import requests

from harness.errors import UsageError

READY_PATH = "/harness/v1/ready"


class ServiceError(UsageError):
    """The service cannot be used: which, and how to fix it, in one line."""


class Service:
    def __init__(
        self,
        command: str,
        env: Mapping[str, str],
        log: Path,
        reconcile_url: str | None,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.command = command
        self.on_line = on_line
        self.env = dict(env)
        self.log = log
        self.reconcile_url = reconcile_url
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._copiers: list[threading.Thread] = []

    def start(self) -> None:
        """Start the command; a thread copies its output to the log, line by line, and
        hands each line to `on_line` (the history shows what the service said)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"--- harness: start #{self.starts}\n".encode())
        proc = self.process = subprocess.Popen(
            ["/bin/sh", "-c", self.command],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        thread = threading.Thread(target=self._copy, args=(proc,), daemon=True)
        thread.start()
        self._copiers.append(thread)

    def _copy(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with self.log.open("ab") as out, proc.stdout:
            for raw in proc.stdout:
                out.write(raw)
                out.flush()
                if self.on_line is not None:
                    line = raw.decode("utf-8", "replace").rstrip()
                    if line:
                        self.on_line(line[:500])

    def flush(self) -> None:
        """Wait for the output of processes that have ended to reach the log."""
        for thread in self._copiers:
            if self.process is None or not thread.is_alive() or not self.alive:
                thread.join(2)
        self._copiers = [t for t in self._copiers if t.is_alive()]

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, consumers: Callable[[], int], timeout: float) -> float:
        """Until `GET /harness/v1/ready` answers 200 and the queue has a consumer.
        Returns the seconds it took; raises ServiceError saying what never happened."""
        began = time.monotonic()
        ready = self.reconcile_url is None  # SQL reconciliation: consuming is enough
        consuming = False
        last = "no answer"
        while time.monotonic() - began < timeout:
            self._exited()
            if not ready:
                try:
                    r = requests.get(f"{self.reconcile_url}{READY_PATH}", timeout=1)
                    ready = r.status_code == 200
                    last = f"HTTP {r.status_code}"
                except requests.RequestException as exc:
                    last = type(exc).__name__
            if ready and not consuming:
                consuming = consumers() > 0
            if ready and consuming:
                return time.monotonic() - began
            time.sleep(0.05)
        time.sleep(0.2)
        self._exited()  # a slow start that ended in an exit says so, not "never ready"
        if not ready:
            raise ServiceError(
                f"the service never answered GET {READY_PATH} with 200 within {timeout:.0f} s "
                f"(last: {last}): serve the reconciliation API on HARNESS_RECONCILE_PORT "
                "(docs/live.md)"
            )
        raise ServiceError(
            f"the service never started consuming its queue within {timeout:.0f} s: "
            "consume HARNESS_FIKSIO_QUEUE at HARNESS_AMQP_URL with manual acks (docs/live.md)"
        )

    def _exited(self) -> None:
        if not self.alive:
            code = self.process.returncode if self.process is not None else None
            raise ServiceError(
                f"the service exited at once (exit status {code}; its output is in "
                f"{self.log}): check --service runs on its own with the HARNESS_* "
                "environment (docs/live.md)"
            )

    def kill(self) -> None:
        """SIGKILL the whole process group and wait for it."""
        proc = self.process
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        _reap_group(proc.pid)

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM the group, then SIGKILL what is left."""
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        _reap_group(proc.pid)


def _reap_group(pgid: int) -> None:
    """Children of the group outlive its leader for a moment after SIGKILL: wait them out."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.02)
