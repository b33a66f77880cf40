"""Small helpers shared by the CLI and plugin tests (in the spirit of xdist's acceptance tests).

Every path is derived from this file's location, so the tests run from any checkout.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
FAMILIA_FILE = REPO_ROOT / "examples" / "familia_2023.py"
# Relative to REPO_ROOT, as a vendor types it from a checkout.
FAMILIA_SPEC = "examples/familia_2023.py:make_case_system"
# Absolute, for runs whose working directory is elsewhere (pytester, spawned workers).
FAMILIA_ABS_SPEC = f"{FAMILIA_FILE}:make_case_system"
REFERENCE_SPEC = "harness.components.case_system:make_case_system"
# Low enough to keep the tests fast, high enough that familia is caught (within a few examples).
EXAMPLES = "30"
CLAUSE_IDS = [f"SOR-{n}" for n in range(1, 9)]
# Fields of report.json that describe when and where a run happened, not what it found
# (documented in harness/report/json_report.py); the digest covers them, so it varies too.
VOLATILE_REPORT_FIELDS = ("started", "finished", "environment", "digest", "signature")


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def out_lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> CliResult:
    """`harness ARGV...` in-process; returns the exit code and what it printed."""
    capsys.readouterr()  # drop anything printed before
    code = main(list(argv))
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


def run_cli_in(cwd: Path, *argv: str) -> CliResult:
    """`harness ARGV...` in-process from `cwd`, for fixtures shared by several tests."""
    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    finally:
        os.chdir(old)
    return CliResult(code, out.getvalue(), err.getvalue())


def read_report(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    return data


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in report["clauses"]}


def failing(report: dict[str, Any]) -> set[str]:
    return {cid for cid, verdict in verdicts(report).items() if verdict == "fail"}


def stable_part(report: dict[str, Any]) -> dict[str, Any]:
    """report.json without the fields that may differ between two identical runs."""
    return {k: v for k, v in report.items() if k not in VOLATILE_REPORT_FIELDS}


def write_module(directory: Path, name: str, source: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return path


def counterexamples(out_lines: list[str]) -> list[tuple[list[str], Path]]:
    """Each counterexample in a run's summary: its timeline lines and its replay file."""
    found = []
    prefix = "replay: harness replay "
    starts = [i for i, ln in enumerate(out_lines) if ln.startswith("counterexample for ")]
    for start in starts:
        end = next(i for i in range(start, len(out_lines)) if out_lines[i].startswith("replay: "))
        assert out_lines[end].startswith(prefix), out_lines[end]
        path = Path(out_lines[end].removeprefix(prefix).split(" --")[0])
        found.append((out_lines[start + 1 : end], path))
    return found


def first_counterexample(out_lines: list[str]) -> tuple[list[str], Path]:
    found = counterexamples(out_lines)
    assert found, "no counterexample in the output"
    return found[0]


def replay_timeline(out_lines: list[str]) -> list[str]:
    """The timeline lines `harness replay` printed: between its header and its verdict."""
    assert out_lines[0].startswith("replay of "), out_lines[:1]
    end = next(i for i, ln in enumerate(out_lines) if ln.startswith("verdict: "))
    return out_lines[1:end]


RAISING_ADAPTER = """
    from harness import CaseSystemEnv, IncomingMessage, ReplyChannel, StoredRecord


    class Raising:
        def __init__(self, env: CaseSystemEnv) -> None:
            self.env = env

        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            raise RuntimeError("adapter exploded on purpose")

        def records(self) -> list[StoredRecord]:
            return []


    def make(env: CaseSystemEnv) -> Raising:
        return Raising(env)
"""

HANGING_ADAPTER = """
    import threading

    from harness import CaseSystemEnv, IncomingMessage, ReplyChannel, StoredRecord


    class Hanging:
        def __init__(self, env: CaseSystemEnv) -> None:
            self.env = env

        def handle(self, message: IncomingMessage, channel: ReplyChannel) -> None:
            # A blocking call that never returns (time.sleep would pass in virtual time).
            threading.Event().wait()

        def records(self) -> list[StoredRecord]:
            return []


    def make(env: CaseSystemEnv) -> Hanging:
        return Hanging(env)
"""

NOT_AN_ADAPTER = """
    def make(env):
        return object()
"""


# -- jobs for the worker-process tests: importable by name in a spawned process --------
def job_echo(value: int) -> int:
    return value * 2


def job_raise(value: int) -> int:
    raise ValueError(f"job {value} is broken on purpose")


def job_exit(code: int) -> int:
    os._exit(code)  # a worker process that dies without a word


def job_block(_: int) -> int:
    import threading

    threading.Event().wait()  # never set: the job runs until its worker is stopped
    return 0


def job_leave_a_thread(_: int) -> int:
    import threading

    threading.Thread(target=threading.Event().wait).start()  # not a daemon, never ends
    return 0


def job_make_storage(then_block: int) -> str:
    import threading

    from harness.sim.storage import Storage

    made = str(Storage().directory)  # left for the worker's own folder to take away
    if then_block:
        threading.Event().wait()  # stopped mid-job, with a database made
    return made


EXIT_IN_WORKERS_ADAPTER = """
import multiprocessing
import os
import signal

from harness.components.case_system import make_case_system


def make(env):
    if multiprocessing.parent_process() is not None:
        os.kill(os.getpid(), signal.SIGKILL)  # a worker process dies, whatever catches what
    return make_case_system(env)
"""
