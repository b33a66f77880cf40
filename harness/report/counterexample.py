"""Counterexample files: everything `harness replay` needs to rerun one exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.checker.clauses import check
from harness.engine.world import Plan, RunResult, simulate
from harness.errors import ReplayError
from harness.report.timeline import render
from harness.suite.search import Counterexample
from harness.target import load_target

FORMAT = "harness-counterexample/1"


def counterexample_json(cx: Counterexample, target: str, options: dict[str, str]) -> dict[str, Any]:
    from harness import __version__

    return {
        "format": FORMAT,
        "harness_version": __version__,
        "target": target,
        "options": options,
        "family": cx.family,
        "clauses": cx.clauses,
        "shrunk": cx.shrunk,
        "plan": cx.plan.to_json(),
        "violations": [
            {"clause": v.clause, "report": v.report, "t": v.t, "message": v.message}
            for v in cx.check.violations
        ],
    }


def file_name(cx: Counterexample) -> str:
    return f"counterexample-{cx.family}-{'-'.join(cx.clauses)}.json"


def load(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReplayError(
            f"cannot read {str(path)!r}: {exc.strerror}; pass a "
            "counterexample-*.json file from a report directory"
        ) from exc
    except ValueError as exc:
        raise ReplayError(
            f"{str(path)!r} is not JSON ({exc}); pass a counterexample-*.json "
            "file written by `harness run`"
        ) from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ReplayError(
            f'{str(path)!r} is not a counterexample file (expected "format": "{FORMAT}")'
        )
    return raw


def replay(path: Path) -> tuple[dict[str, Any], RunResult, list[str], list[str]]:
    """Rerun a counterexample: (file, run, clauses broken now, timeline lines)."""
    raw = load(path)
    try:
        plan = Plan.from_json(raw["plan"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ReplayError(f"{str(path)!r} has a malformed plan: {exc}") from exc
    options = {str(k): str(v) for k, v in (raw.get("options") or {}).items()}
    target = load_target(raw.get("target"), options)
    run = simulate(plan, target.factory, options=options)
    result = check(run.history)
    return raw, run, sorted(result.failed), render(run.history.events, result.violations)
