"""Counterexample files: everything `harness replay` needs to rerun one exactly.

A file records the target, its options with secrets redacted (`redacted_options`
names them), the plan, the violations and the recorded history. Replay reruns the
plan; a redacted option must be given again with `--target-option KEY=VALUE`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.checker.clauses import check
from harness.errors import ReplayError
from harness.report.redact import Redactor, redacted_keys
from harness.report.timeline import render
from harness.sim.world import Plan, RunResult, simulate
from harness.suite.search import Counterexample
from harness.target import load_target

FORMAT = "harness-counterexample/1"


def counterexample_json(
    cx: Counterexample, target: str, options: Mapping[str, str], redactor: Redactor | None = None
) -> dict[str, Any]:
    from harness import __version__

    redactor = redactor or Redactor.for_options(options)
    return {
        "format": FORMAT,
        "harness_version": __version__,
        "target": redactor.text(target),
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
    }


def dumps(data: Mapping[str, Any]) -> str:
    """The exact text of a report file (its digest is taken over these bytes)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def file_name(cx: Counterexample) -> str:
    family = cx.family.replace(":", "-")  # scenario:NAME; a colon is no file name on Windows
    return f"counterexample-{family}-{'-'.join(cx.clauses)}.json"


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


def replay(
    path: Path, given: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], RunResult, list[str], list[str]]:
    """Rerun a counterexample: (file, run, clauses broken now, timeline lines)."""
    raw = load(path)
    try:
        plan = Plan.from_json(raw["plan"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ReplayError(f"{str(path)!r} has a malformed plan: {exc}") from exc
    options = replay_options(path, raw, given or {})
    target = load_target(raw.get("target"), options)
    run = simulate(plan, target.factory, options=options)
    result = check(run.history, plan.resolution_bound)
    redactor = Redactor.for_options(options)
    lines = [redactor.text(ln) for ln in render(run.history.events, result.violations)]
    return raw, run, sorted(result.failed), lines
