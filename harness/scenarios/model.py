"""Reading and checking scenario files.

A scenario file is TOML. It is checked against `scenario.schema.json` first, so
every mistake comes back as one line naming the file, the key and what is
allowed, then turned into a `Scenario` whose times are virtual milliseconds.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from harness.contracts import data_dir
from harness.core.faults import POINTS, Fault
from harness.core.plan import Window
from harness.core.workload import DEFECTS, ReportSpec
from harness.errors import UsageError

DEFAULT_START = "2023-06-01T00:00:00"
# A profile draws from these unless it names its points: HTTP points are reached
# only by adapters that call the simulated HTTP APIs, so by default they waste draws.
_CORE_POINTS = [p for p in POINTS if not p.startswith("http.")]


class ScenarioError(UsageError):
    """A scenario file or name that cannot be used."""


@dataclass(frozen=True)
class Profile:
    """Faults for Hypothesis to draw (and shrink) on top of the fixed schedule."""

    points: tuple[str, ...]
    max_faults: int = 4
    examples: int = 25


@dataclass(frozen=True)
class Expectation:
    target: str = "reference"  # whose runs it applies to: the reference only, or any target
    verdict: str | None = None
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    source: str  # the file it came from, for messages
    start: datetime
    seed: int
    deadline: int | None
    reports: tuple[ReportSpec, ...]
    faults: tuple[Fault, ...]
    windows: tuple[Window, ...]
    profile: Profile | None
    expect: Expectation | None


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads((Path(__file__).parent / "scenario.schema.json").read_text("utf-8"))
    return Draft202012Validator(schema)


def _explain(err: ValidationError) -> str:
    where = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in err.absolute_path)
    where = where.replace(".[", "[") or "(top level)"
    schema = err.schema if isinstance(err.schema, dict) else {}
    if err.validator == "additionalProperties":
        allowed = ", ".join(sorted(schema.get("properties", {})))
        given = set(err.instance) if isinstance(err.instance, dict) else set()
        extra = sorted(given - set(schema.get("properties", {})))
        return f"key {where}: unknown key {', '.join(map(repr, extra))}; allowed: {allowed}"
    if err.validator == "enum":
        allowed = ", ".join(map(str, schema.get("enum", [])))
        return f"key {where}: {err.instance!r} is not allowed; allowed: {allowed}"
    if err.validator == "required":
        return f"key {where}: {err.message}"
    return f"key {where}: {err.message}"


def _local(text: str, source: str, key: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ScenarioError(
            f"{source}: key {key}: {text!r} is not a local date-time like 2021-02-25T13:03:46"
        ) from None


def _ms(moment: datetime, start: datetime, source: str, key: str) -> int:
    delta = int((moment - start).total_seconds() * 1000)
    if delta < 0:
        raise ScenarioError(
            f"{source}: key {key}: {moment.isoformat()} is before the "
            f"scenario's start {start.isoformat()}; set `start` earlier"
        )
    return delta


def parse(raw: dict[str, Any], source: str) -> Scenario:
    errors = sorted(_validator().iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ScenarioError(f"{source}: {_explain(errors[0])}")
    start = _local(raw.get("start", DEFAULT_START), source, "start")
    workload = raw["workload"]
    if "reports" in workload:
        reports = tuple(_report(r, i, start, source) for i, r in enumerate(workload["reports"]))
    else:
        reports = _generated(workload["generate"], start)
    faults_raw = raw.get("faults", {})
    windows = []
    for i, w in enumerate(faults_raw.get("windows", [])):
        begin = _ms(
            _local(w["from"], source, f"faults.windows[{i}].from"),
            start,
            source,
            f"faults.windows[{i}].from",
        )
        windows.append(Window(w["point"], begin, begin + int(w["seconds"] * 1000)))
    faults = tuple(
        Fault(f["point"], f.get("nth", 0), f.get("count", 1)) for f in faults_raw.get("plan", [])
    )
    profile = None
    if "profile" in faults_raw:
        p = faults_raw["profile"]
        profile = Profile(
            tuple(p.get("points", _CORE_POINTS)), p.get("max_faults", 4), p.get("examples", 25)
        )
    expect = None
    if "expect" in raw:
        e = raw["expect"]
        expect = Expectation(
            e.get("target", "reference"), e.get("verdict"), dict(e.get("outcomes", {}))
        )
    deadline = raw.get("deadline_hours")
    return Scenario(
        raw["name"],
        raw["description"],
        source,
        start,
        raw.get("seed", 0),
        None if deadline is None else int(deadline * 3_600_000),
        reports,
        faults,
        tuple(windows),
        profile,
        expect,
    )


def _report(r: dict[str, Any], i: int, start: datetime, source: str) -> ReportSpec:
    at = _local(r["at"], source, f"workload.reports[{i}].at")
    fields = dict(r.get("fields", {}))
    fields.setdefault("sendingstidspunkt", at.isoformat(timespec="seconds"))
    return ReportSpec(
        _ms(at, start, source, f"workload.reports[{i}].at"),
        r.get("form", "privat"),
        r.get("version", 2),
        r.get("defect"),
        r.get("data"),
        tuple(sorted(fields.items())),
    )


def _generated(g: dict[str, Any], start: datetime) -> tuple[ReportSpec, ...]:
    forms, versions = g.get("forms", ["privat"]), g.get("versions", [2])
    data, every = g.get("data", ["plain"]), g.get("every_seconds", 60)
    invalid_every = g.get("invalid_every")
    out = []
    for i in range(g["count"]):
        at = int(i * every * 1000)
        profile = data[i % len(data)]
        defect = (
            DEFECTS[(i // invalid_every) % len(DEFECTS)]
            if invalid_every and (i + 1) % invalid_every == 0
            else None
        )
        sent = (start + timedelta(milliseconds=at)).isoformat(timespec="seconds")
        out.append(
            ReportSpec(
                at,
                forms[i % len(forms)],
                versions[i % len(versions)],
                defect,
                None if profile == "plain" else profile,
                (("sendingstidspunkt", sent),),
            )
        )
    return tuple(out)


def load_file(path: Path) -> Scenario:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {str(path)!r}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the scenario "
            "file as UTF-8 (TOML files are UTF-8)"
        ) from None
    except RecursionError:
        raise ScenarioError(f"{path}: nests arrays or tables too deeply to be a scenario") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    return parse(raw, str(path))


def bundled() -> dict[str, Path]:
    return {p.stem: p for p in sorted(data_dir("scenarios").glob("*.toml"))}


def load(name_or_path: str) -> Scenario:
    """A bundled scenario by name, or a scenario file by path."""
    path = Path(name_or_path)
    if name_or_path.endswith(".toml") or path.is_file():
        return load_file(path)
    known = bundled()
    if name_or_path not in known:
        raise ScenarioError(
            f"no scenario {name_or_path!r}: give a bundled name "
            f"({', '.join(known)}) or the path of a .toml file"
        )
    return load_file(known[name_or_path])
