"""The terminal summary of a run, and its progress lines while it goes."""

from __future__ import annotations

from pathlib import Path

from harness.report.counterexample import file_name
from harness.report.redact import Redactor
from harness.report.timeline import render
from harness.suite.run import SuiteResult
from harness.suite.search import FAMILIES, FamilyResult


def progress_line(fam: FamilyResult, done: int, total: int) -> str:
    """One line as a family finishes (written to stderr, so stdout stays the summary)."""
    failed = sorted(fam.failed)
    verdict = f"FAIL ({', '.join(failed)})" if failed else "pass"
    clauses = ", ".join(FAMILIES.get(fam.family, ()))
    return (
        f"harness: [{done}/{total}] {fam.family} ({clauses}): {verdict} "
        f"after {fam.examples} examples"
    )


def summary(
    result: SuiteResult, report_path: Path | None, redactor: Redactor | None = None
) -> list[str]:
    """The summary's lines, with every secret of the target's options scrubbed."""
    from harness import __version__

    redactor = redactor or Redactor.for_options(result.config.options)
    cfg, contract = result.config, result.contract
    families = ", ".join(f.family for f in result.families)
    lines = [
        f"harness {__version__} · contract {contract.name} {contract.version} "
        f"({contract.digest[:19]}…) · seed {cfg.seed}",
        f"target: {result.target}",
    ]
    if cfg.options:
        options = redactor.options(cfg.options)
        lines.append("target options: " + " ".join(f"{k}={v}" for k, v in options.items()))
    lines += [
        f"examples: {cfg.examples} per family x {len(result.families)} families "
        f"({families}; {sum(f.examples for f in result.families)} run), workers {cfg.workers}",
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
    shown: set[str] = set()
    for cx in result.counterexamples:
        if file_name(cx) in shown:
            continue  # the same example, recorded for two clauses
        shown.add(file_name(cx))
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
            again = "".join(
                f" --target-option {k}=VALUE"
                for k, v in redactor.options(cfg.options).items()
                if v != cfg.options[k]
            )
            lines.append(f"replay: harness replay {report_path.parent / file_name(cx)}{again}")
    lines.append("")
    verdict = f"FAIL ({', '.join(result.failed)})" if result.failed else "PASS"
    where = f" · report: {report_path}" if report_path is not None else ""
    lines.append(f"verdict: {verdict}{where}")
    if report_path is not None:
        lines.append(f"for people: {report_path.parent / 'report.html'}")
    return [redactor.text(ln) for ln in lines]
