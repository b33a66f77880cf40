"""The terminal summary of a run."""

from __future__ import annotations

from pathlib import Path

from harness.report.counterexample import file_name
from harness.report.timeline import render
from harness.suite.run import SuiteResult


def summary(result: SuiteResult, report_path: Path | None) -> list[str]:
    from harness import __version__

    cfg, contract = result.config, result.contract
    lines = [
        f"harness {__version__} · contract {contract.name} {contract.version} "
        f"({contract.digest[:19]}…) · seed {cfg.seed}",
        f"target: {result.target}",
        f"examples: {cfg.examples} per family x {len(result.families)} families "
        f"({sum(f.examples for f in result.families)} run), workers {cfg.workers}",
        "",
        f"{'clause':<7} {'verdict':<14} title",
    ]
    for c in result.clauses:
        lines.append(f"{c.id:<7} {c.verdict.upper():<14} {contract.clause(c.id).title}")
    outcomes = result.total("outcomes")
    lines += ["", "outcomes: " + " · ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))]
    warnings = result.total("warnings")
    if warnings:
        lines.append(
            "warnings: "
            + " · ".join(
                f"{k} {contract.clause(k).title.lower()} x{v}" for k, v in sorted(warnings.items())
            )
        )
    reached, fired = result.total("reached"), result.total("fired")
    lines.append(
        f"faults: {sum(1 for v in fired.values() if v)} injection points fired "
        f"({sum(fired.values())} faults), {len(reached)} reached"
    )
    for cx in result.counterexamples:
        n_rep, n_fault = len(cx.plan.reports), len(cx.plan.faults)
        how = "shrunk to" if cx.shrunk else "not shrunk:"
        lines += [
            "",
            f"counterexample for {', '.join(cx.clauses)} ({cx.family}), {how} "
            f"{n_rep} report{'s' * (n_rep != 1)} and {n_fault} "
            f"fault{'s' * (n_fault != 1)}:",
        ]
        lines += ["  " + ln for ln in render(cx.history.events, cx.check.violations)]
        if report_path is not None:
            lines.append(f"replay: harness replay {report_path.parent / file_name(cx)}")
    lines.append("")
    verdict = f"FAIL ({', '.join(result.failed)})" if result.failed else "PASS"
    where = f" · report: {report_path}" if report_path is not None else ""
    lines.append(f"verdict: {verdict}{where}")
    return lines
