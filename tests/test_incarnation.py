"""Each incarnation of the case system starts as a restarted process would: fresh modules."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from harness import Fault, Plan, ReportSpec, check, simulate
from harness.sim.fresh_modules import FreshFactory
from harness.target import REFERENCE_SPEC, load_target

# An adapter that keeps what it learns in module globals, class attributes and a module
# beside it, and writes each observation to storage, where the test reads it back.
_OBSERVER = """
    from harness import MOTTATT, REPORT_JSON, StoredRecord, BEKYMRINGSMELDING_ID
    import {helper} as helper

    STARTS = []  # module global

    class Adapter:
        seen = []  # class attribute

        def __init__(self, env):
            STARTS.append(1)
            helper.COUNT.append(1)
            self.db = env.storage.connect()
            self.db.execute("CREATE TABLE IF NOT EXISTS log (what TEXT)")

        def handle(self, message, channel):
            from {helper} import COUNT  # an import inside a function reaches the same copy
            self.seen.append(1)
            note = f"starts={{len(STARTS)}} seen={{len(self.seen)}} helper={{len(COUNT)}}"
            with self.db:
                self.db.execute("INSERT INTO log VALUES (?)", (note,))
            channel.reply(MOTTATT)
            channel.ack()

        def records(self):
            return []

    def make_case_system(env):
        return Adapter(env)
"""


def _write(folder: Path, name: str) -> Path:
    helper = f"{name}_helper"  # unique: every test's folder stays on sys.path
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{helper}.py").write_text("COUNT = []\n", encoding="utf-8")
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(_OBSERVER.format(helper=helper)), encoding="utf-8")
    return path


def _logged(factory: object, plan: Plan) -> list[str]:
    """What the adapter wrote into its log table, read back after the run."""
    import sqlite3

    from harness.sim import world

    seen: list[str] = []
    real_destroy = world.Storage.destroy

    def keep(storage: world.Storage) -> None:
        with sqlite3.connect(storage.path) as db:
            seen.extend(r[0] for r in db.execute("SELECT what FROM log"))
        real_destroy(storage)

    world.Storage.destroy = keep  # type: ignore[method-assign]
    try:
        simulate(plan, factory)  # type: ignore[arg-type]
    finally:
        world.Storage.destroy = real_destroy  # type: ignore[method-assign]
    return seen


CRASHY = Plan(
    0,
    (ReportSpec(0), ReportSpec(10_000), ReportSpec(20_000)),
    (Fault("case_system.crash.before_store", 1),),
)


def test_a_crash_forgets_module_globals_class_attributes_and_sibling_modules(
    tmp_path: Path,
) -> None:
    target = load_target(f"{_write(tmp_path, 'observer')}:make_case_system")
    assert isinstance(target.factory, FreshFactory)
    logged = _logged(target.factory, CRASHY)
    # Four handles: report 0; report 1 crashes before handle, then its redelivery and
    # report 2 run in the second incarnation. The durability probes build instances of
    # their own, in copies of their own, so they never count here.
    assert logged == [
        "starts=1 seen=1 helper=1",
        "starts=1 seen=1 helper=1",
        "starts=1 seen=2 helper=1",
    ]


def test_state_does_not_leak_between_runs(tmp_path: Path) -> None:
    target = load_target(f"{_write(tmp_path, 'observer_runs')}:make_case_system")
    plan = Plan(0, (ReportSpec(0),))
    assert _logged(target.factory, plan) == ["starts=1 seen=1 helper=1"]
    assert _logged(target.factory, plan) == ["starts=1 seen=1 helper=1"]


def test_without_fresh_modules_the_state_would_survive(tmp_path: Path) -> None:
    """The same adapter called through its plain function: the first module's globals
    count every incarnation (what this file guards against)."""
    target = load_target(f"{_write(tmp_path, 'observer_plain')}:make_case_system")
    plain = target.module.make_case_system
    logged = _logged(plain, CRASHY)
    assert logged[-1] != "starts=1 seen=2 helper=1"


def test_a_package_target_copies_its_package_and_relative_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "vendorpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("LOADED = []\n", encoding="utf-8")
    source = textwrap.dedent(_OBSERVER.format(helper="vendorpkg.state"))
    assert "import vendorpkg.state as helper" in source
    source = source.replace("import vendorpkg.state as helper", "from . import state as helper")
    (pkg / "adapter.py").write_text(source, encoding="utf-8")
    (pkg / "state.py").write_text("COUNT = []\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    target = load_target("vendorpkg.adapter:make_case_system")
    assert isinstance(target.factory, FreshFactory)
    assert _logged(target.factory, CRASHY)[-1] == "starts=1 seen=2 helper=1"
    for name in [n for n in sys.modules if n.startswith("vendorpkg")]:
        del sys.modules[name]


def test_sys_modules_names_the_first_module_again_after_a_run(tmp_path: Path) -> None:
    target = load_target(f"{_write(tmp_path, 'observer_sys')}:make_case_system")
    name = target.module.__name__
    helper = sys.modules["observer_sys_helper"]
    simulate(CRASHY, target.factory)
    assert sys.modules[name] is target.module
    assert sys.modules["observer_sys_helper"] is helper


def test_modules_outside_the_target_folder_are_shared(tmp_path: Path) -> None:
    (tmp_path / "shared_probe.py").write_text(
        textwrap.dedent(
            """
            import json, harness
            from harness import StoredRecord
            IDS = (id(json), id(harness), id(StoredRecord))
            def make_case_system(env):
                from harness import ReferenceCaseSystem
                return ReferenceCaseSystem(env)
            """
        ),
        encoding="utf-8",
    )
    import json

    import harness
    from harness import StoredRecord

    target = load_target(f"{tmp_path / 'shared_probe.py'}:make_case_system")
    assert isinstance(target.factory, FreshFactory)
    copy, _ = target.factory.copy()
    assert copy.target is not target.module
    assert (id(json), id(harness), id(StoredRecord)) == copy.target.IDS


def test_the_reference_is_not_copied() -> None:
    target = load_target(REFERENCE_SPEC)
    assert not isinstance(target.factory, FreshFactory)


def test_a_target_loaded_twice_keeps_one_factory(tmp_path: Path) -> None:
    spec = f"{_write(tmp_path, 'observer_twice')}:make_case_system"
    assert load_target(spec).factory is load_target(spec).factory


def test_a_dataclass_and_pickle_work_inside_a_copy(tmp_path: Path) -> None:
    (tmp_path / "pickling.py").write_text(
        textwrap.dedent(
            """
            from __future__ import annotations
            import pickle
            from dataclasses import dataclass
            from harness import MOTTATT, REPORT_JSON, REPORT_PDF, BEKYMRINGSMELDING_ID
            from harness import StoredRecord

            @dataclass(frozen=True)
            class Row:
                id: str
                files: dict[str, bytes]

            class Adapter:
                def __init__(self, env):
                    self.db = env.storage.connect()
                    self.db.execute("CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, row BLOB)")
                def handle(self, message, channel):
                    row = Row(message.headers[BEKYMRINGSMELDING_ID], dict(message.files))
                    with self.db:
                        self.db.execute("INSERT OR IGNORE INTO t VALUES (?, ?)",
                                        (row.id, pickle.dumps(row)))
                    channel.reply(MOTTATT)
                    channel.ack()
                def records(self):
                    for (blob,) in self.db.execute("SELECT row FROM t"):
                        row = pickle.loads(blob)
                        yield StoredRecord(row.id, row.files)

            def make_case_system(env):
                return Adapter(env)
            """
        ),
        encoding="utf-8",
    )
    target = load_target(f"{tmp_path / 'pickling.py'}:make_case_system")
    run = simulate(CRASHY, target.factory)
    assert not [e for e in run.history if e.kind == "crash" and e.data["cause"] != "fault"]
    result = check(run.history)
    assert not result.failed


def test_a_module_that_cannot_run_twice_is_a_bad_target_that_says_why(tmp_path: Path) -> None:
    """Module-level code that registers itself in a library's registry (a metrics
    registry, say) fails when a restart runs it again: the target is refused at load."""
    import builtins

    from harness.errors import TargetError

    (tmp_path / "registers.py").write_text(
        textwrap.dedent(
            """
            import builtins
            from harness import ReferenceCaseSystem
            if getattr(builtins, "_harness_test_registry", None):
                raise ValueError("Duplicated timeseries in CollectorRegistry")
            builtins._harness_test_registry = True
            def make_case_system(env):
                return ReferenceCaseSystem(env)
            """
        ),
        encoding="utf-8",
    )
    try:
        with pytest.raises(TargetError, match="afresh raised ValueError: Duplicated timeseries"):
            load_target(f"{tmp_path / 'registers.py'}:make_case_system")
    finally:
        del builtins._harness_test_registry  # type: ignore[attr-defined]
