"""Fresh copies of the target's own modules: a simulated restart forgets what a real one does.

A real restart starts a new process, so module globals, class attributes and
singletons of the adapter start empty. In-process, each incarnation of the case
system (and each instance the harness builds to read records back) gets a *copy*
of the target's module family: the target module and the modules beside it that
it imports from its own folder or package, each executed afresh into a new module
object from code compiled once. Executing a cached code object costs about as
much as building the adapter; importing through the finders would cost forty
times more, so nothing here touches the finders after the first look-up.

Imports inside a copy go through an `__import__` of the copy's own (its modules'
`__builtins__`), so `import helpers`, `from .store import X` and an import inside
a function all reach the same copy. Everything else (the standard library, the
harness, third-party packages) is the one module the process has: what an
in-process run cannot reset (state in third-party libraries, threads, open
files) is for process isolation.

A copy is *installed* while its instance runs: `sys.modules` then names the
copy's modules, as a real import would, so pickling, `typing.get_type_hints` and
libraries that look a class's module up (pydantic, dataclasses) see the copy.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

_HARNESS_DIR = Path(__file__).resolve().parent.parent  # the harness's own code is never copied
_THIRD_PARTY = ("site-packages", "dist-packages", "__pypackages__")
_real_import = builtins.__import__
_BUILTINS = vars(builtins)


class _Source:
    """One module of the family: its code (None: a namespace package) and the module
    attributes an import sets, worked out once (a spec computes some on each read)."""

    __slots__ = ("attrs", "code", "path")

    def __init__(self, spec: ModuleSpec, code: CodeType | None) -> None:
        self.code = code
        self.attrs: dict[str, Any] = {
            "__spec__": spec,
            "__loader__": spec.loader,
            "__package__": spec.parent,
        }
        if spec.has_location and spec.origin:
            self.attrs["__file__"] = spec.origin
            if spec.cached:
                self.attrs["__cached__"] = spec.cached
        locations = spec.submodule_search_locations
        self.path = None if locations is None else list(locations)


def _root_of(module: ModuleType) -> Path | None:
    """The folder whose modules are the target's own: the target file's folder, or the
    folder of the top-level package a module target lives in."""
    top = sys.modules.get(module.__name__.partition(".")[0], module)
    paths = list(getattr(top, "__path__", ()) or ())
    where = paths[0] if paths else getattr(module, "__file__", None)
    if not where:
        return None
    root = Path(where).resolve()
    root = root if paths else root.parent
    if root == _HARNESS_DIR or _HARNESS_DIR in root.parents:
        return None  # the reference and the harness itself: stateless, and its types must stay one
    return root


def _origin_in(spec: ModuleSpec, root: Path) -> bool:
    places = [spec.origin] if spec.has_location and spec.origin else []
    places += list(spec.submodule_search_locations or [])
    if not places:
        return False
    for place in places:
        path = Path(place).resolve()
        if path != root and root not in path.parents:
            return False
        if path == _HARNESS_DIR or _HARNESS_DIR in path.parents:
            return False
        if any(part in _THIRD_PARTY for part in path.relative_to(root).parts):
            return False  # a virtual environment inside the project folder
    return True


class FreshCopyError(Exception):
    """The target's module raised when executed a second time, into a fresh copy."""


def _put_back(name: str, module: ModuleType | None) -> None:
    if module is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = module


class ModuleFamily:
    """The target module and the modules of its folder or package, compiled once."""

    def __init__(self, module: ModuleType, root: Path) -> None:
        self.name = module.__name__
        self.root = root
        self._sources: dict[str, _Source | None] = {}  # None: not ours, the process's own module
        spec = module.__spec__
        if spec is None or spec.loader is None or not hasattr(spec.loader, "get_code"):
            raise ValueError(f"module {self.name!r} has no source code to execute afresh")
        self._sources[self.name] = _Source(spec, spec.loader.get_code(self.name))

    @classmethod
    def of(cls, module: ModuleType) -> ModuleFamily | None:
        """The family of a target module, or None when it has none to copy."""
        root = _root_of(module)
        if root is None:
            return None
        try:
            return cls(module, root)
        except (ValueError, ImportError, OSError, SyntaxError):
            return None

    def source(self, name: str) -> _Source | None:
        """What to execute for module `name`, if it is one of ours (found once, then cached)."""
        try:
            return self._sources[name]
        except KeyError:
            pass
        found: _Source | None = None
        try:
            known = sys.modules.get(name)
            spec = getattr(known, "__spec__", None) if known is not None else None
            spec = spec or importlib.util.find_spec(name)
            if spec is not None and _origin_in(spec, self.root):
                loader = spec.loader
                if spec.origin is None or not spec.has_location:
                    found = _Source(spec, None)  # a namespace package: nothing to execute
                elif loader is not None and hasattr(loader, "get_code"):
                    code = loader.get_code(name)
                    found = _Source(spec, code) if code is not None else None
        except (ImportError, ValueError, OSError, SyntaxError):
            found = None  # the real import will say what is wrong, as it would have
        self._sources[name] = found
        return found

    def copy(self) -> ModuleCopy:
        """A new copy of the family, with the target module executed in it."""
        copy = ModuleCopy(self)
        with copy.installed():
            try:
                copy.load(self.name)
            except Exception as exc:
                source = self._sources[self.name]
                shown = Path(source.attrs.get("__file__", self.name)).name if source else self.name
                raise FreshCopyError(
                    f"running {shown!r} afresh raised {type(exc).__name__}: {exc} "
                    "(each incarnation runs your module's code again, as a restart does; "
                    "module-level code that registers itself in a library, such as a "
                    "metrics registry, must tolerate that)"
                ) from exc
        return copy


class ModuleCopy:
    """One incarnation's modules: the target and the siblings it imported, all fresh."""

    def __init__(self, family: ModuleFamily) -> None:
        self.family = family
        self.modules: dict[str, ModuleType] = {}
        self._builtins = dict(_BUILTINS)
        self._builtins["__import__"] = self._import
        self._previous: list[dict[str, ModuleType | None]] = []

    @property
    def target(self) -> ModuleType:
        return self.modules[self.family.name]

    # -- sys.modules ---------------------------------------------------------
    def install(self) -> None:
        """Make `sys.modules` name this copy's modules (stacked: `uninstall` undoes it)."""
        previous = {name: sys.modules.get(name) for name in self.modules}
        sys.modules.update(self.modules)
        self._previous.append(previous)

    def uninstall(self) -> None:
        for name, module in self._previous.pop().items():
            _put_back(name, module)

    @contextmanager
    def installed(self) -> Iterator[None]:
        self.install()
        try:
            yield
        finally:
            self.uninstall()

    # -- loading -------------------------------------------------------------
    def load(self, name: str) -> ModuleType:
        """This copy's module `name` (one of the family), executed on first use."""
        module = self.modules.get(name)
        if module is not None:
            return module
        source = self.family.source(name)
        if source is None:
            raise ModuleNotFoundError(f"{name!r} is not a module of the target", name=name)
        parent_name, _, child = name.rpartition(".")
        parent = self.resolve(parent_name) if parent_name else None
        module = ModuleType(name)
        attrs = module.__dict__
        attrs.update(source.attrs)
        attrs["__builtins__"] = self._builtins
        if source.path is not None:
            attrs["__path__"] = list(source.path)
        code = source.code
        self.modules[name] = module
        previous = sys.modules.get(name)
        frame = self._previous[-1] if self._previous else None
        if frame is not None:
            frame.setdefault(name, previous)  # `uninstall` puts it back
        sys.modules[name] = module  # as a real import does while the module runs
        try:
            if code is not None:
                exec(code, attrs)
        except BaseException:
            del self.modules[name]
            _put_back(name, previous)
            raise
        finally:
            if frame is None:  # not installed: leave sys.modules as it was
                _put_back(name, previous)
        if parent is not None:
            setattr(parent, child, module)
        return module

    def resolve(self, name: str) -> ModuleType:
        """Module `name` as this copy sees it: a fresh one of ours, or the process's own."""
        if self.family.source(name) is not None:
            return self.load(name)
        known = sys.modules.get(name)
        return known if known is not None else importlib.import_module(name)

    def _import(
        self,
        name: str,
        globals: Mapping[str, Any] | None = None,
        locals: Mapping[str, Any] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> ModuleType:
        if level == 0:
            top = name.partition(".")[0]
            if self.family.source(top) is None:  # the common case: not ours, the plain import
                return _real_import(name, globals, locals, fromlist or (), level)
            absolute = name
        else:
            package = (globals or {}).get("__package__")
            if not package:
                return _real_import(name, globals, locals, fromlist or (), level)
            absolute = importlib.util.resolve_name("." * level + name, package)
            top = absolute.partition(".")[0]
        module = self.resolve(absolute)
        if not fromlist:
            if level == 0:
                return self.resolve(top)
            if not name:
                return module
            # `import` with a relative name and no fromlist: the first part of it
            cut = len(name) - len(name.partition(".")[0])
            return self.resolve(absolute[: len(absolute) - cut])
        if hasattr(module, "__path__"):
            names = list(fromlist)
            if "*" in names:
                names.remove("*")
                names += list(getattr(module, "__all__", ()))
            for sub in names:
                if not hasattr(module, sub):
                    try:
                        self.resolve(f"{module.__name__}.{sub}")
                    except ModuleNotFoundError as exc:
                        if exc.name != f"{module.__name__}.{sub}":
                            raise  # a real failure inside the submodule
        return module


class FreshFactory:
    """A case-system factory that builds each instance from a fresh copy of its module.

    Called as a plain factory, it makes a copy for that one call. The slot instead
    asks for `copy()` and keeps the copy installed while the instance lives.
    """

    def __init__(self, family: ModuleFamily, attr: str) -> None:
        self.family = family
        self.attr = attr

    def __repr__(self) -> str:
        return f"FreshFactory({self.family.name}:{self.attr})"

    def copy(self) -> tuple[ModuleCopy, Callable[..., Any]]:
        """A fresh copy of the family and the factory inside it."""
        copy = self.family.copy()
        return copy, getattr(copy.target, self.attr)

    def __call__(self, env: Any) -> Any:
        copy, factory = self.copy()
        with copy.installed():
            return factory(env)


def fresh_factory(module: ModuleType, attr: str) -> FreshFactory | None:
    """A factory building each instance from a fresh copy of `module`, when it has a family."""
    family = ModuleFamily.of(module)
    return None if family is None else FreshFactory(family, attr)
