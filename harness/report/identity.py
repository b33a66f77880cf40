"""Which adapter a report is about: its file's SHA-256, its package version, its VCS commit.

A target SPEC names an adapter (`path/to/file.py:attr` or `module:attr`), but the
same name can hold different code tomorrow. The report therefore records what the
name resolved to when the suite ran:

- `adapter_identity(spec)`: for `report.json` (`target.adapter`): the module name,
  the file (relative to its repository when it is in one, else its name only: a
  report carries no path of the machine that wrote it), the SHA-256 of its bytes,
  the distribution that installs it (name and version) and the git commit it is at.
- `locate(spec)`: for counterexample files, so that `harness replay` finds the
  target again from any folder: the resolved path of the file, the module name and
  the folder that module was imported from.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

GIT_TIMEOUT = 5.0  # seconds; a repository that takes longer is recorded as none


def is_file_spec(where: str) -> bool:
    """The same rule as the target loader: a path names a file, anything else a module."""
    return where.endswith(".py") or "/" in where or "\\" in where


def _module_file(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)  # from sys.modules when already imported
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.has_location:
        return None
    return Path(spec.origin).resolve()


def _import_root(module: str, file: Path) -> Path:
    """The folder on sys.path from which `module` was imported as `file`."""
    depth = module.count(".") + (1 if file.name == "__init__.py" else 0)
    root = file.parent
    for _ in range(depth):
        root = root.parent
    return root


def resolve(spec: str) -> tuple[str | None, Path | None]:
    """(module name or None, resolved file or None) that SPEC names, without importing it."""
    where = spec.rpartition(":")[0]
    if not where:
        return None, None
    if is_file_spec(where):
        path = Path(where)
        return None, (path.resolve() if path.is_file() else None)
    return where, _module_file(where)


def file_sha256(path: Path) -> str | None:
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@cache
def _vcs(path: Path) -> dict[str, Any] | None:
    """The git commit the file is at, and whether it differs from that commit."""
    folder = path.parent
    if _git(folder, "ls-files", "--error-unmatch", "--", path.name) is None:
        return None  # not in a repository, or not tracked by it
    commit = _git(folder, "rev-parse", "HEAD")
    top = _git(folder, "rev-parse", "--show-toplevel")
    if commit is None or top is None:
        return None
    status = _git(folder, "status", "--porcelain", "--", path.name)
    return {
        "system": "git",
        "commit": commit,
        "modified": bool(status),
        "path": path.relative_to(Path(top).resolve()).as_posix()
        if path.is_relative_to(Path(top).resolve())
        else path.name,
    }


def _package(module: str | None) -> dict[str, str] | None:
    if module is None:
        return None
    top = module.partition(".")[0]
    # Editable installs often list no top-level names: then try the name itself.
    names = [*(metadata.packages_distributions().get(top) or []), top]
    for name in names:
        try:
            return {"name": name, "version": metadata.version(name)}
        except metadata.PackageNotFoundError:
            continue
    return None


def adapter_identity(spec: str) -> dict[str, Any]:
    """`target.adapter` of report.json: what SPEC resolved to in this process."""
    module, path = resolve(spec)
    vcs = dict(_vcs(path) or {}) if path is not None else {}
    file = None
    if path is not None:
        short = f"{path.parent.name}/{path.name}" if path.name == "__init__.py" else path.name
        file = vcs.pop("path", short)
    return {
        "module": module,
        "file": file,
        "sha256": file_sha256(path) if path is not None else None,
        "package": _package(module),
        "vcs": vcs or None,
    }


def locate(spec: str) -> dict[str, Any]:
    """`locate` of a counterexample file: where replay looks for the target again."""
    module, path = resolve(spec)
    return {
        "path": str(path) if path is not None else None,
        "module": module,
        "root": str(_import_root(module, path)) if module and path else None,
        "sha256": file_sha256(path) if path is not None else None,
    }
