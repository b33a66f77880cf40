"""The terminal summary of a run, and its progress lines while it goes."""

from __future__ import annotations

from collections.abc import Sequence
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
        f"after {fam.examples} examples" + (f" ({fam.swept} of the sweep)" if fam.swept else "")
    )


def _scenario_lines(result: SuiteResult) -> list[str]:
    """Per scenario: its outcomes, every report that did not end legally, unmet expectations."""
    lines: list[str] = []
    for fam in result.families:
        if not fam.lines:
            continue
        counts: dict[str, int] = {}
        for ln in fam.lines:
            counts[ln.outcome] = counts.get(ln.outcome, 0) + 1
        lines += ["", f"{fam.family}: " + " · ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
        bad = [ln for ln in fam.lines if ln.outcome not in ("STORED", "FALLBACK", "REJECTED")]
        for ln in bad:
            lines.append(
                f"  {ln.outcome:<11} {ln.sent:<20} {ln.district or '-':<24} report #{ln.index}"
            )
        lines += [f"  expectation not met: {p}" for p in fam.problems]
    return lines


def file_lines(report_path: Path, files: Sequence[str]) -> list[str]:
    """Every counterexample file the report lists, each one `harness replay` takes."""
    if not files:
        return []
    return [
        "",
        f"counterexample files ({len(files)}; each replays with `harness replay FILE`):",
        *(f"  {report_path.parent / name}" for name in files),
    ]


def summary(
    result: SuiteResult,
    report_path: Path | None,
    redactor: Redactor | None = None,
    files: Sequence[str] = (),
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
    runs = sum(f.examples for f in result.families)
    lines += [
        f"scenarios: {', '.join(cfg.scenarios)} ({runs} run{'s' * (runs != 1)}), "
        f"workers {cfg.workers}"
        if cfg.scenarios
        else f"examples: {cfg.examples} per family x {len(result.families)} families "
        f"({families}; {runs} run), workers {cfg.workers}",
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
        n_rep, n_fault = len(cx.plan.reports), len(cx.plan.faults) + len(cx.plan.windows)
        if cx.live:  # a live plan's faults are its own (live/plan.py)
            n_fault = len(cx.live["plan"]["faults"])
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
    lines += _scenario_lines(result)
    if report_path is not None:
        lines += file_lines(report_path, files)
    lines.append("")
    broken = [*result.failed, *(["scenario expectations"] if result.problems else [])]
    verdict = f"FAIL ({', '.join(broken)})" if broken else "PASS"
    where = f" · report: {report_path}" if report_path is not None else ""
    lines.append(f"verdict: {verdict}{where}")
    if report_path is not None:
        lines.append(f"for people: {report_path.parent / 'report.html'}")
    return [redactor.text(ln) for ln in lines]
