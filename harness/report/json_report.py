"""`report.json`: the verifiable record of a run, with a digest over its canonical content.

Everything in it is a function of the run (seed, target, contract, results) except
`started`, `finished` and `environment`, which describe when and where it ran;
compare runs on `clauses`, `outcomes` and `faults`, never on those. Secrets in the
target's options are redacted before anything is written. The digest covers every
field but `digest` and `signature`; the signature (optional) is over the digest.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.contracts import validate
from harness.core.digest import canonical_json
from harness.core.faults import CATALOGUE
from harness.report.counterexample import counterexample_json, dumps, file_name
from harness.report.identity import adapter_identity, locate
from harness.report.redact import Redactor, redacted_keys
from harness.suite.run import SuiteResult
from harness.suite.search import FAMILIES, Counterexample, FamilyResult

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPORT_FORMAT = "harness-report/1"
UNDIGESTED = ("digest", "signature")
PACKAGES = ("harness", "hypothesis", "pytest", "jsonschema", "cryptography")


@dataclass(frozen=True)
class Report:
    data: dict[str, Any]  # the content of report.json
    files: dict[str, str]  # counterexample file name -> its exact text


def report_digest(report: dict[str, Any]) -> str:
    body = {k: v for k, v in report.items() if k not in UNDIGESTED}
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def text_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def utc_now() -> str:
    """Wall-clock time for `started` / `finished`: the only clock a report reads."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def environment() -> dict[str, Any]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": {name: version(name) for name in PACKAGES},
    }


def isolation_field(mode: str) -> dict[str, Any]:
    """How the adapter ran: in processes of its own (and as a user of its own, when the
    harness ran as root), or inside the harness's process."""
    from harness.sim.isolation.sandbox import running_as_root

    process = mode == "process"
    return {"mode": mode, "separate_user": process and running_as_root()}


def _files(
    result: SuiteResult, redactor: Redactor, location: dict[str, Any]
) -> tuple[dict[str, str], dict[int, str]]:
    """One file per distinct counterexample of every family (merging needs them all)."""
    files: dict[str, str] = {}
    names: dict[int, str] = {}
    for fam in result.families:
        for cx in (fam.counterexample, *fam.also_failed.values()):
            if cx is None:
                continue
            raw = counterexample_json(cx, result.target, result.config.options, redactor, location)
            text = dumps(raw)
            name, n = file_name(cx), 2
            while name in files and files[name] != text:
                name, n = f"{file_name(cx).removesuffix('.json')}-{n}.json", n + 1
            files[name], names[id(cx)] = text, name
    return files, names


def _family(fam: FamilyResult, names: dict[int, str]) -> dict[str, Any]:
    points = sorted(set(fam.reached) | set(fam.fired))
    return {
        "family": fam.family,
        "clauses": list(FAMILIES.get(fam.family, ())),
        "examples": fam.examples,
        "swept": fam.swept,
        "outcomes": dict(sorted(fam.outcomes.items())),
        "faults": {p: {"reached": fam.reached[p], "fired": fam.fired[p]} for p in points},
        "exercised": sorted(fam.exercised),
        "warnings": dict(sorted(fam.warnings.items())),
        "counterexample": names[id(fam.counterexample)] if fam.counterexample else None,
        "also_failed": {c: names[id(cx)] for c, cx in sorted(fam.also_failed.items())},
    }


def build_report(
    result: SuiteResult,
    *,
    started: str | None = None,
    finished: str | None = None,
    merged_from: list[dict[str, Any]] | None = None,
    sign_key: Ed25519PrivateKey | None = None,
    adapter: dict[str, Any] | None = None,
    location: dict[str, Any] | None = None,
    isolation: dict[str, Any] | None = None,
) -> Report:
    """The report of a run. `adapter` (report.json's identity of the target) and
    `location` (where counterexample files say to find it) default to what the
    target's SPEC resolves to in this process; a merge passes the shards' own."""
    from harness import __version__

    cfg, contract = result.config, result.contract
    redactor = Redactor.for_options(cfg.options)
    location = location if location is not None else locate(result.target)
    files, names = _files(result, redactor, location)
    examples = {f.family: f.examples for f in result.families}

    def inline(cx: Counterexample | None) -> dict[str, Any] | None:
        if cx is None:
            return None
        name = names[id(cx)]
        keep = ("family", "clauses", "shrunk", "plan", "violations")
        full = counterexample_json(cx, result.target, cfg.options, redactor, location)
        return {"file": name, **{k: full[k] for k in keep}}

    reached, fired = result.total("reached"), result.total("fired")
    finished = finished or utc_now()
    data: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "harness_version": __version__,
        "contract": {"name": contract.name, "version": contract.version, "digest": contract.digest},
        "target": {
            "spec": redactor.text(result.target),
            "options": redactor.options(cfg.options),
            "redacted_options": redacted_keys(cfg.options),
            "adapter": adapter if adapter is not None else adapter_identity(result.target),
        },
        "environment": environment(),
        "started": started or finished,
        "finished": finished,
        "seed": cfg.seed,
        "examples": cfg.examples,
        "examples_run": sum(f.examples for f in result.families),
        "workers": cfg.workers,
        "isolation": isolation or isolation_field(cfg.isolation),
        "families": [_family(f, names) for f in result.families],
        "verdict": result.verdict,
        "clauses": [
            {
                "id": c.id,
                "title": contract.clause(c.id).title,
                "severity": contract.clause(c.id).severity,
                "family": contract.clause(c.id).family,
                "verdict": c.verdict,
                "examples": examples.get(contract.clause(c.id).family or "", 0),
                "counterexample": inline(c.counterexample),
            }
            for c in result.clauses
        ],
        "warnings": [
            {"id": w.id, "title": w.title, "count": result.total("warnings")[w.id]}
            for w in contract.warnings
        ],
        "outcomes": dict(sorted(result.total("outcomes").items())),
        # The catalogue's points, then any other a world reached (the live tier's own):
        # the totals are then exactly the sums of the families' faults.
        "faults": {
            p: {"reached": reached[p], "fired": fired[p]}
            for p in [
                *(c.name for c in CATALOGUE),
                *sorted((set(reached) | set(fired)) - {c.name for c in CATALOGUE}),
            ]
        },
        "files": {name: text_digest(text) for name, text in sorted(files.items())},
    }
    if merged_from is not None:
        data["merged_from"] = merged_from
    if cfg.scenarios:
        data["scenarios"] = [_scenario(f, redactor) for f in result.families]
    if result.live is not None:  # the black-box tier (live/run.py)
        data["tier"] = "live"
        data["live"] = redactor.json(result.live)
    data["digest"] = report_digest(data)
    if sign_key is not None:
        from harness.report.signing import sign

        data["signature"] = sign(data["digest"], sign_key)
    errors = validate("report", data)
    if errors:  # our own bug, never the target's: fail loudly rather than write a bad report
        raise AssertionError(f"report.json does not match its schema: {errors[0]}")
    return Report(data, files)


def _scenario(fam: FamilyResult, redactor: Redactor) -> dict[str, Any]:
    """A scenario's own section: every report as a person looks it up, and its expectations."""
    return {
        "name": fam.family.removeprefix("scenario:"),
        "verdict": "fail" if fam.failed or fam.problems else "pass",
        "problems": [redactor.text(p) for p in fam.problems],
        "reports": [
            {"index": ln.index, "sent": ln.sent, "district": ln.district, "outcome": ln.outcome}
            for ln in fam.lines
        ],
    }


def save(report: Report, directory: Path) -> Path:
    """Write report.json, report.html and the counterexample files; return report.json's path."""
    from harness.report.html_report import render_html

    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("counterexample-*.json"):
        stale.unlink()  # a report directory describes one run only
    for name, text in report.files.items():
        (directory / name).write_bytes(text.encode("utf-8"))  # "\n" on every system
    (directory / "report.html").write_bytes(render_html(report.data, report.files).encode("utf-8"))
    path = directory / "report.json"
    path.write_bytes(dumps(report.data).encode("utf-8"))
    return path


def write_report(
    result: SuiteResult,
    directory: Path,
    *,
    started: str | None = None,
    finished: str | None = None,
    merged_from: list[dict[str, Any]] | None = None,
    sign_key: Ed25519PrivateKey | None = None,
    adapter: dict[str, Any] | None = None,
    location: dict[str, Any] | None = None,
    isolation: dict[str, Any] | None = None,
) -> Path:
    """Build, validate and write the report of a run; return report.json's path."""
    report = build_report(
        result,
        started=started,
        finished=finished,
        merged_from=merged_from,
        sign_key=sign_key,
        adapter=adapter,
        location=location,
        isolation=isolation,
    )
    return save(report, directory)
