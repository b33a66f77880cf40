"""`report.json`: the verifiable record of a run, with a digest over its canonical content."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness.contracts import validate
from harness.engine.digest import canonical_json
from harness.engine.faults import CATALOGUE
from harness.report.counterexample import counterexample_json, file_name
from harness.suite.run import SuiteResult

REPORT_FORMAT = "harness-report/1"


def report_digest(report: dict[str, Any]) -> str:
    body = {k: v for k, v in report.items() if k != "digest"}
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def build_report(result: SuiteResult) -> dict[str, Any]:
    from harness import __version__

    cfg = result.config
    contract = result.contract
    reached, fired = result.total("reached"), result.total("fired")
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "harness_version": __version__,
        "contract": {"name": contract.name, "version": contract.version, "digest": contract.digest},
        "target": result.target,
        "seed": cfg.seed,
        "examples": cfg.examples,
        "examples_run": sum(f.examples for f in result.families),
        "workers": cfg.workers,
        "verdict": result.verdict,
        "clauses": [
            {
                "id": c.id,
                "title": contract.clause(c.id).title,
                "severity": contract.clause(c.id).severity,
                "verdict": c.verdict,
                "counterexample": None
                if c.counterexample is None
                else {
                    "file": file_name(c.counterexample),
                    **counterexample_json(c.counterexample, result.target, dict(cfg.options)),
                },
            }
            for c in result.clauses
        ],
        "warnings": [
            {"id": w.id, "title": w.title, "count": result.total("warnings")[w.id]}
            for w in contract.warnings
        ],
        "outcomes": dict(sorted(result.total("outcomes").items())),
        "faults": {p.name: {"reached": reached[p.name], "fired": fired[p.name]} for p in CATALOGUE},
    }
    report["digest"] = report_digest(report)
    errors = validate("report", report)
    if errors:  # our own bug, never the target's: fail loudly rather than write a bad report
        raise AssertionError(f"report.json does not match its schema: {errors[0]}")
    return report


def write_report(result: SuiteResult, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("counterexample-*.json"):
        stale.unlink()  # a report directory describes one run only
    report = build_report(result)
    for cx in result.counterexamples:
        data = counterexample_json(cx, result.target, dict(result.config.options))
        (directory / file_name(cx)).write_text(
            json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    path = directory / "report.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def verify_report(path: Path) -> list[str]:
    """Problems found in a report file; empty when it is intact."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"cannot read {str(path)!r} as JSON: {exc}"]
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        return [f"{str(path)!r} is not a harness report (format {REPORT_FORMAT!r})"]
    schema_errors = validate("report", report)
    if schema_errors:
        return [f"does not match the report schema: {e}" for e in schema_errors]
    if report.get("digest") != report_digest(report):
        return [
            "the digest does not match the content: the report was changed after it was written"
        ]
    return []
