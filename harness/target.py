"""Turns a `--target` SPEC into a case-system factory, or says exactly why it cannot."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from harness.components.protocols import CaseSystem, CaseSystemEnv, CaseSystemFactory
from harness.errors import TargetError
from harness.sim.case_slot import describe
from harness.sim.fresh_modules import fresh_factory
from harness.sim.guard import AdapterExited, AdapterHung, guarded
from harness.sim.http_world import offline
from harness.sim.storage import Storage

REFERENCE_SPEC = "harness.components.case_system:make_case_system"
SPEC_HELP = (
    "a valid SPEC is 'module:attr' (e.g. mypackage.adapter:make_case_system) or "
    "'path/to/file.py:attr' (e.g. examples/familia_2023.py:make_case_system)"
)


@dataclass(frozen=True)
class Target:
    spec: str
    factory: CaseSystemFactory
    module: Any

    @property
    def expects(self) -> set[str] | None:
        """The clauses a bundled example declares it breaks (`EXPECTS`), if any."""
        raw = getattr(self.module, "EXPECTS", None)
        return None if raw is None else {str(c) for c in raw}


def _fail(spec: str, problem: str) -> TargetError:
    return TargetError(f"bad --target {spec!r}: {problem}; {SPEC_HELP}")


def _load_module(spec: str, where: str) -> Any:
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where)
        if not path.is_file():
            raise _fail(spec, f"no file {where!r} (paths are relative to the current directory)")
        name = f"harness_target_{zlib.crc32(str(path.resolve()).encode()):08x}"
        if name in sys.modules:
            return sys.modules[name]
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.append(folder)  # so the adapter can import the modules beside it
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise _fail(spec, f"{where!r} cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise _fail(spec, f"importing {where!r} raised {describe(exc)}") from exc
        return module
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as `python -m` would: the project is importable
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as exc:
        raise _fail(spec, f"no module named {exc.name!r}") from exc
    except Exception as exc:
        raise _fail(spec, f"importing {where!r} raised {describe(exc)}") from exc


def load_target(
    spec: str | None,
    options: Mapping[str, str] | None = None,
    guard_seconds: float = 5.0,
    isolation: str = "inprocess",
) -> Target:
    """The target's factory. With `isolation="process"` the adapter is imported and run in
    processes of its own (harness/sim/isolation/), never in this one."""
    spec = spec or REFERENCE_SPEC
    if isolation == "process":
        from harness.sim.isolation.proxy import expects_namespace, isolated_factory

        factory = isolated_factory(spec, options or {}, guard_seconds)
        return Target(spec, factory, expects_namespace(factory))
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise _fail(spec, "it has no ':attr' part")
    module = _load_module(spec, where)
    if not hasattr(module, attr):
        public = sorted(
            n for n in vars(module) if callable(getattr(module, n)) and not n.startswith("_")
        )
        raise _fail(
            spec,
            f"{where!r} has no attribute {attr!r} (callables there: {', '.join(public) or 'none'})",
        )
    factory = getattr(module, attr)
    if not callable(factory):
        raise _fail(
            spec,
            f"{attr!r} is a {type(factory).__name__}, not a factory "
            "(a callable taking a CaseSystemEnv)",
        )
    # Each incarnation runs in a fresh copy of the target's own modules (sim/fresh_modules.py).
    key = (module.__name__, attr)
    if key not in _FRESH or _FRESH[key][0] is not factory:
        _FRESH[key] = (factory, fresh_factory(module, attr) or factory)
    built = cast(CaseSystemFactory, _FRESH[key][1])
    _trial_build(spec, built, options or {}, guard_seconds)
    return Target(spec, built, module)


# One fresh factory per target, so loading a target twice gives the same factory (the
# search caches what it learns about a factory, such as whether it calls HTTP).
_FRESH: dict[tuple[str, str], tuple[object, object]] = {}


def _trial_build(
    spec: str, factory: CaseSystemFactory, options: Mapping[str, str], guard_seconds: float
) -> None:
    """Build one instance over throwaway storage, so a wrong object fails now, clearly."""
    storage = Storage()
    try:
        with offline("the harness is only trying out the factory; HTTP is served during a run"):
            instance: object = guarded(
                lambda: factory(CaseSystemEnv(storage, dict(options))), guard_seconds
            )
    except (Exception, SystemExit, AdapterHung, AdapterExited) as exc:
        raise _fail(spec, f"calling the factory raised {describe(exc)}") from exc
    finally:
        storage.destroy()
    if not isinstance(instance, CaseSystem):
        missing = [m for m in ("handle", "records") if not callable(getattr(instance, m, None))]
        raise _fail(
            spec,
            f"the factory returned a {type(instance).__name__}, which is not a "
            f"case-system adapter (missing: {', '.join(missing)})",
        )
