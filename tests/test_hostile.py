"""Hostile adapters (tests/hostile/) against process isolation: no attempt changes the
verdict. Each adapter has the incident's bug (SOR-1, SOR-2) and tries to pass anyway,
to end the run without a report, or to hurt another run. Every report written is true
(FAIL) or none is written and the exit status says why."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.checker.clauses import check
from harness.core.plan import Plan
from harness.core.workload import ReportSpec
from harness.errors import TargetError
from harness.report.verify import verify_report
from harness.sim.isolation import proxy
from harness.sim.isolation.sandbox import running_as_root
from harness.sim.world import simulate
from harness.suite.run import SuiteConfig, SuiteResult, run_suite
from harness.target import load_target

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "tests" / "hostile"
BUG = {"SOR-1", "SOR-2"}
ONE = Plan(0, (ReportSpec(0),))
as_root = pytest.mark.skipif(
    not running_as_root(),
    reason="as any other user the adapter's processes run as that user and can read what "
    "it can (README: trust model); the separate user exists when the harness runs as root",
)


def spec(name: str) -> str:
    return f"{HOSTILE / name}.py:make_case_system"


@pytest.fixture(autouse=True)
def stop_processes() -> Iterator[None]:
    try:
        yield
    finally:
        proxy.shutdown()


def isolated_suite(name: str) -> SuiteResult:
    return run_suite(
        SuiteConfig(target=spec(name), examples=5, families=("delivery",), isolation="process")
    )


def harness_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_cli(name: str, tmp: Path, *extra: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return harness_cli(
        "run",
        "--target",
        spec(name),
        "--families",
        "delivery",
        "--examples",
        "5",
        "--report",
        str(tmp / "report"),
        *extra,
        cwd=tmp,
        **kw,  # type: ignore[arg-type]
    )


def assert_true_or_absent(
    tmp: Path, proc: subprocess.CompletedProcess[str], broken: set[str] = BUG
) -> None:
    """A report that says FAIL (at least `broken`) and verifies, with exit 1; or no report
    and no exit 0."""
    path = tmp / "report" / "report.json"
    if path.exists():
        report = json.loads(path.read_text())
        assert report["verdict"] == "fail", proc.stderr
        assert broken <= {c["id"] for c in report["clauses"] if c["verdict"] == "fail"}
        assert not verify_report(path).problems
        assert proc.returncode == 1, proc.stderr
    else:
        assert proc.returncode != 0, proc.stderr


def keypair(tmp: Path, passphrase: bytes | None = None) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    enc = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    private, public = tmp / "key.pem", tmp / "key.pub.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


# -- attempts on the checker, the report writer and the interpreter's modules ------------
def test_patching_the_checker_at_import_has_no_effect() -> None:
    result = isolated_suite("patch_checker")
    assert set(result.failed) >= BUG
    assert check.__module__ == "harness.checker.clauses"  # this process's checker untouched


def test_patching_the_checker_does_pass_in_process(tmp_path: Path) -> None:
    """The attack is real: in the harness's own process it turns the FAIL into a PASS."""
    proc = run_cli("patch_checker", tmp_path, "--isolation", "inprocess")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["verdict"] == "pass"
    assert report["isolation"] == {"mode": "inprocess", "separate_user": False}
    assert verify_report(tmp_path / "report" / "report.json", require_isolation=True).problems


def test_patching_the_report_writer_has_no_effect(tmp_path: Path) -> None:
    assert set(isolated_suite("patch_report").failed) >= BUG
    proc = run_cli("patch_report", tmp_path, "--isolation", "process")
    assert_true_or_absent(tmp_path, proc)
    assert (tmp_path / "report" / "report.json").exists()


def test_replacing_modules_in_sys_modules_has_no_effect() -> None:
    assert set(isolated_suite("sys_modules").failed) >= BUG
    assert type(sys.modules["harness.checker.clauses"].check).__name__ == "function"


def test_emptying_the_history_it_can_find_has_no_effect() -> None:
    assert set(isolated_suite("change_history").failed) >= BUG


# -- attempts on the report file, the key, the harness's process -------------------------
def test_an_atexit_hook_that_rewrites_and_resigns_the_report_has_no_effect(
    tmp_path: Path,
) -> None:
    private, public = keypair(tmp_path)
    proc = run_cli("atexit_report", tmp_path, "--sign-key", str(private))
    assert_true_or_absent(tmp_path, proc, {"SOR-2"})  # it dies unacked: the portal prints
    path = tmp_path / "report" / "report.json"
    assert path.exists(), proc.stderr
    assert json.loads(path.read_text())["isolation"]["mode"] == "process"  # --sign-key's default
    assert not verify_report(path, public, require_isolation=True).problems


@as_root
def test_the_adapter_cannot_read_the_signing_key_its_passphrase_or_the_harness_memory(
    tmp_path: Path,
) -> None:
    private, _ = keypair(tmp_path, passphrase=b"correct horse")
    drop = Path(tempfile.mkdtemp(prefix="hostile-drop-"))
    try:
        drop.chmod(0o1777)
        proc = run_cli(
            "read_key",
            tmp_path,
            "--sign-key",
            str(private),
            env={"HOSTILE_DROP": str(drop), "HARNESS_SIGN_KEY_PASSPHRASE": "correct horse"},
        )
        assert_true_or_absent(tmp_path, proc)
        loot = [p.read_text() for p in drop.iterdir()]
    finally:
        subprocess.run(["rm", "-rf", str(drop)], check=False)
    assert loot, "the adapter never ran its attempt"
    for found in loot:
        assert "PRIVATE KEY" not in found
        assert "key: PermissionError" in found
        assert "passphrase: None" in found
        assert "memory: PermissionError" in found


def test_killing_or_signalling_its_parent_has_no_effect_on_the_verdict(tmp_path: Path) -> None:
    proc = run_cli("kill_parent", tmp_path, "--isolation", "process")
    assert_true_or_absent(tmp_path, proc, {"SOR-2"})
    if running_as_root():  # a user of its own cannot signal the harness: the run ends normally
        assert (tmp_path / "report" / "report.json").exists(), proc.stderr


def test_ignoring_sigalrm_and_looping_is_stopped_as_a_hang() -> None:
    before = signal.getsignal(signal.SIGALRM)
    target = load_target(spec("ignore_alarm"), guard_seconds=0.5, isolation="process")
    run = simulate(ONE, target.factory, guard_seconds=0.5)
    assert run.hung is not None and "did not return within 0.5 s" in run.hung
    crashes = [e for e in run.history if e.kind == "crash"]
    assert [e.data["cause"] for e in crashes] == ["hung"]
    assert signal.getsignal(signal.SIGALRM) is before


@pytest.mark.parametrize("name", ["exit_at_import", "systemexit_at_import"])
def test_ending_the_process_at_import_is_refused_not_a_pass(name: str, tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"ended|SystemExit"):
        load_target(spec(name), isolation="process")
    proc = run_cli(name, tmp_path, "--isolation", "process")
    assert proc.returncode == 2, proc.stderr
    assert "harness: error:" in proc.stderr
    assert not (tmp_path / "report").exists()


def test_a_thread_that_never_ends_does_not_keep_the_run_alive(tmp_path: Path) -> None:
    proc = run_cli("lingering_thread", tmp_path, "--isolation", "process", timeout=180)
    assert_true_or_absent(tmp_path, proc)
    assert (tmp_path / "report" / "report.json").exists()


@as_root
def test_deleting_another_runs_database_is_not_possible() -> None:
    victims = Path(tempfile.mkdtemp(prefix="harness-run-", dir="/dev/shm"))
    try:
        folder = victims / "harness-db-other"
        folder.mkdir(mode=0o700)
        path = folder / "case_system.sqlite3"
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE reports (id TEXT)")
        db.execute("INSERT INTO reports VALUES ('kept')")
        db.commit()
        db.close()
        assert set(isolated_suite("delete_other_runs").failed) >= BUG
        db = sqlite3.connect(path)
        assert db.execute("SELECT id FROM reports").fetchall() == [("kept",)]
        db.close()
    finally:
        subprocess.run(["rm", "-rf", str(victims)], check=False)


# -- state that a crash must take with it ----------------------------------------------
def test_reports_kept_in_a_module_global_are_caught_in_process_mode() -> None:
    assert BUG & set(isolated_suite("module_global").failed)


# -- a child that breaks the protocol, floods its output or its memory --------------------
def crash_details(name: str, **kw: float) -> list[str]:
    target = load_target(spec(name), isolation="process")
    run = simulate(ONE, target.factory, **kw)
    return [str(e.data["detail"]) for e in run.history if e.kind == "crash"]


def test_garbage_on_the_socket_is_a_crash_of_the_adapter() -> None:
    details = crash_details("garbage_on_socket")
    assert details and all("AdapterProtocolError" in d for d in details)


def test_a_flood_of_output_is_a_crash_and_reaches_stderr_bounded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    details = crash_details("flood_output")
    assert details and all("AdapterOutputFlood" in d for d in details)
    captured = capsys.readouterr()
    assert len(captured.err) < 2 * proxy.SHOWN_OUTPUT
    assert "further output is not shown" in captured.err


def test_running_out_of_memory_is_a_crash_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proxy, "MEMORY_LIMIT_MB", 512)
    details = crash_details("memory_hog")
    assert details and all("memory limit" in d for d in details)
