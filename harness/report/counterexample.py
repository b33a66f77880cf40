"""Counterexample files: everything `harness replay` needs to rerun one exactly.

A file records the target, where it was found (`locate`: the resolved file, the
module name and the folder it was imported from, so replay finds it again from
any folder), its options with secrets redacted (`redacted_options` names them),
the plan, the violations and the recorded history. Replay reruns the plan; a
redacted option must be given again with `--target-option KEY=VALUE`.

A file is checked in full before anything runs (`check_file`): a plan that does
not fit what `harness run` writes is one line saying what, never a traceback or
a replay that runs for hours.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.checker.clauses import check
from harness.core.faults import POINTS
from harness.core.hostile import DATA_PROFILES, INCOMPLETE
from harness.core.workload import DEFECTS, FORMS
from harness.errors import ReplayError
from harness.report.identity import file_sha256, is_file_spec, locate, resolve
from harness.report.redact import Redactor, redacted_keys
from harness.report.timeline import render
from harness.sim.documents import DOKUMENTLAGER
from harness.sim.world import Plan, RunResult, simulate
from harness.suite.search import Counterexample
from harness.target import Target, load_target

FORMAT = "harness-counterexample/1"
# What replay accepts. A search's counterexample has a handful of reports; a
# scenario's has all of its reports (the bundled ones: up to 2,000).
MAX_REPORTS = 10_000
MAX_FAULTS = 1_000
MAX_TIME_MS = 3_653 * 24 * 3_600_000  # ten years of virtual time (bergen-2023 spans three)
MAX_COUNT = 1_000_000  # a fault's nth and count
MAX_SEED = 2**64 - 1


def counterexample_json(
    cx: Counterexample,
    target: str,
    options: Mapping[str, str],
    redactor: Redactor | None = None,
    location: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    from harness import __version__

    redactor = redactor or Redactor.for_options(options)
    where = dict(location) if location is not None else locate(target)
    return {
        "format": FORMAT,
        "harness_version": __version__,
        "target": redactor.text(target),
        "locate": {k: redactor.text(v) if isinstance(v, str) else v for k, v in where.items()},
        "options": redactor.options(options),
        "redacted_options": redacted_keys(options),
        "family": cx.family,
        "clauses": cx.clauses,
        "shrunk": cx.shrunk,
        "plan": cx.plan.to_json(),
        "violations": [
            {"clause": v.clause, "report": v.report, "t": v.t, "message": redactor.text(v.message)}
            for v in cx.check.violations
        ],
        "history": [redactor.json(e.to_json()) for e in cx.history.events],
        **({"tier": "live", "live": redactor.json(cx.live)} if cx.live else {}),
    }


def dumps(data: Mapping[str, Any]) -> str:
    """The exact text of a report file (its digest is taken over these bytes)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def file_name(cx: Counterexample) -> str:
    family = cx.family.replace(":", "-")  # scenario:NAME; a colon is no file name on Windows
    return f"counterexample-{family}-{'-'.join(cx.clauses)}.json"


def _where(path: Path) -> str:
    return repr(str(path))


def load(path: Path) -> dict[str, Any]:
    """A counterexample file, checked in full; any problem is one ReplayError line."""
    hint = "pass a counterexample-*.json file from a report directory"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReplayError(f"cannot read {_where(path)}: {exc.strerror}; {hint}") from exc
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ReplayError(f"{_where(path)} is not UTF-8 text (byte {exc.start}); {hint}") from exc
    except RecursionError:
        raise ReplayError(
            f"{_where(path)} nests too deeply to be a counterexample; {hint}"
        ) from None
    except ValueError as exc:
        raise ReplayError(
            f"{_where(path)} is not JSON ({exc}); pass a counterexample-*.json "
            "file written by `harness run`"
        ) from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ReplayError(
            f'{_where(path)} is not a counterexample file (expected "format": "{FORMAT}")'
        )
    problem = check_file(raw)
    if problem:
        raise ReplayError(
            f"{_where(path)}: {problem}; it was not written by `harness run` (or was edited): "
            "replay the file as the run wrote it"
        )
    return raw


def _int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _moment(value: Any) -> bool:
    """An ISO 8601 date-time with its offset (Plan.start)."""
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _check_report(i: int, r: Any) -> str | None:
    if not isinstance(r, dict):
        return f"plan.reports[{i}] is not an object"
    if not _int(r.get("at"), 0, MAX_TIME_MS):
        return (
            f"plan.reports[{i}].at is {str(r.get('at'))[:40]}; it must be a whole number "
            f"of virtual milliseconds from 0 to {MAX_TIME_MS} (ten years)"
        )
    form, version = r.get("form", "privat"), r.get("version", 2)
    if (form, version) not in FORMS:
        known = ", ".join(f"{f} v{v}" for f, v in FORMS)
        return f"plan.reports[{i}] has form {str(form)[:40]!r} v{str(version)[:10]}; known: {known}"
    if r.get("defect") is not None and r.get("defect") not in DEFECTS:
        return f"plan.reports[{i}].defect {str(r.get('defect'))[:40]!r} is unknown"
    if r.get("data") is not None and r.get("data") not in (
        *DATA_PROFILES,
        *INCOMPLETE,
        DOKUMENTLAGER,
    ):
        return f"plan.reports[{i}].data {str(r.get('data'))[:40]!r} is not a data profile"
    fields = r.get("fields", {})
    if not isinstance(fields, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        return f"plan.reports[{i}].fields is not an object of texts"
    return None


def _check_fault(where: str, f: Any, keys: tuple[str, str]) -> str | None:
    if not isinstance(f, dict) or f.get("point") not in POINTS:
        point = f.get("point") if isinstance(f, dict) else f
        return f"{where} names no injection point harness knows ({str(point)[:60]!r})"
    low = {"nth": 0, "count": 1, "start": 0, "end": 1}
    high = {"nth": MAX_COUNT, "count": MAX_COUNT, "start": MAX_TIME_MS, "end": MAX_TIME_MS}
    for key in keys:
        present = key in f or key in ("start", "end")  # nth and count have defaults
        if present and not _int(f.get(key), low[key], high[key]):
            return (
                f"{where}.{key} is {str(f.get(key))[:40]}; it must be a whole number "
                f"from {low[key]} to {high[key]}"
            )
    return None


def check_plan(plan: Any) -> str | None:
    """What is wrong with a counterexample's plan, or None."""
    if not isinstance(plan, dict):
        return "it has no plan (the reports and faults to rerun)"
    if not _int(plan.get("seed"), 0, MAX_SEED):
        return "plan.seed is not a whole number from 0 to 2**64-1"
    reports = plan.get("reports")
    if not isinstance(reports, list) or not reports:
        return "plan.reports is not a non-empty list"
    if len(reports) > MAX_REPORTS:
        return (
            f"plan has {len(reports)} reports, more than replay takes ({MAX_REPORTS}); "
            "rerun a scenario that large with `harness run --scenario`"
        )
    for key, keys in (("faults", ("nth", "count")), ("windows", ("start", "end"))):
        items = plan.get(key, [])
        if not isinstance(items, list) or len(items) > MAX_FAULTS:
            return f"plan.{key} is not a list of at most {MAX_FAULTS}"
        for i, f in enumerate(items):
            problem = _check_fault(f"plan.{key}[{i}]", f, keys)
            if problem:
                return problem
    deadline = plan.get("deadline")
    if deadline is not None and not _int(deadline, 1, MAX_TIME_MS):
        return f"plan.deadline must be null or from 1 to {MAX_TIME_MS} ms"
    start = plan.get("start")
    if start is not None and not _moment(start):
        return f"plan.start {str(start)[:40]!r} is not a date-time with its offset"
    for i, r in enumerate(reports):
        problem = _check_report(i, r)
        if problem:
            return problem
    return None


def check_file(raw: Mapping[str, Any]) -> str | None:
    """What is wrong with a counterexample file's content, or None."""
    if "plan" not in raw:
        return "it has no plan (the reports and faults to rerun)"
    problem = check_plan(raw["plan"])
    if problem:
        return problem
    if raw.get("tier") == "live":  # a live run's target is a command (live/cli.py replays it)
        live = raw.get("live")
        if not isinstance(live, dict) or not isinstance(live.get("service"), str):
            return "its live block names no service command"
        if not isinstance(live.get("plan"), dict):
            return "its live block has no plan"
        return None
    if not isinstance(raw.get("target"), str) or ":" not in raw["target"]:
        return "it names no target (module:attr or path/to/file.py:attr)"
    options = raw.get("options") or {}
    if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
        return "its options are not an object of texts"
    if not isinstance(raw.get("locate", {}), dict):
        return "its locate entry is not an object"
    return None


def replay_options(path: Path, raw: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """The file's options, with those given on the command line in place of recorded ones."""
    options = {str(k): str(v) for k, v in (raw.get("options") or {}).items()}
    missing = [k for k in raw.get("redacted_options") or [] if k not in given]
    if missing:
        again = " ".join(f"--target-option {k}=VALUE" for k in missing)
        raise ReplayError(
            f"{str(path)!r} was written with secrets redacted from option(s) "
            f"{', '.join(missing)}; give them again: harness replay {path} {again}"
        )
    return {**options, **given}


def _candidates(raw: Mapping[str, Any]) -> list[str]:
    """Specs to try, best first: the file where it was found, then the spec as written."""
    spec = str(raw["target"])
    where, _, attr = spec.rpartition(":")
    found = raw.get("locate") or {}
    out = []
    if is_file_spec(where) and isinstance(found.get("path"), str):
        out.append(f"{found['path']}:{attr}")
    out.append(spec)
    return out


def find_target(
    path: Path, raw: Mapping[str, Any], options: Mapping[str, str], given: str | None
) -> tuple[Target, list[str]]:
    """The target to replay against, and notes for the reader (a changed adapter)."""
    if given is not None:
        return load_target(given, options), [f"target given with --target: {given}"]
    found = raw.get("locate") or {}
    root = found.get("root")
    known = isinstance(root, str) and Path(root).is_dir() and root not in sys.path
    if found.get("module") and known:
        sys.path.append(str(root))  # where the module was imported from when it was recorded
    missing = []
    for spec in _candidates(raw):
        where = spec.rpartition(":")[0]
        if is_file_spec(where) and not Path(where).is_file():
            missing.append(f"no file {where!r}")
            continue
        target = load_target(spec, options)
        now, recorded = resolve(spec)[1], found.get("sha256")
        notes = []
        if recorded and now is not None and file_sha256(now) != recorded:
            notes.append(
                f"note: {now.name} has changed since this counterexample was recorded "
                "(its SHA-256 differs): the replay runs today's code"
            )
        return target, notes
    raise ReplayError(
        f"{_where(path)}: cannot find its target {raw['target']!r} from here "
        f"({'; '.join(missing)}); point to it with --target SPEC"
    )


def replay(
    path: Path, given: Mapping[str, str] | None = None, target_spec: str | None = None
) -> tuple[dict[str, Any], RunResult, list[str], list[str], list[str]]:
    """Rerun a counterexample: (file, run, clauses broken now, timeline lines, notes)."""
    raw = load(path)
    plan = Plan.from_json(raw["plan"])
    options = replay_options(path, raw, given or {})
    target, notes = find_target(path, raw, options, target_spec)
    run = simulate(plan, target.factory, options=options)
    result = check(run.history, plan.resolution_bound)
    redactor = Redactor.for_options(options)
    lines = [redactor.text(ln) for ln in render(run.history.events, result.violations)]
    return raw, run, sorted(result.failed), lines, [redactor.text(n) for n in notes]
