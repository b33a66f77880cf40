"""The audit's report: `report.json`, `report.html` and `junit.xml`, written together.

The exports are personal data. The report names each violating report by its id,
the time the portal sent it and its district, and nothing else of its content;
the inputs appear by file name, SHA-256 and row count only. The report says so.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from harness.audit.judge import IN_FLIGHT
from harness.audit.run import AuditResult, ViolationRow, sort_rows
from harness.contracts import load_contract, validate
from harness.report.counterexample import dumps
from harness.report.html_report import CSS, OUTCOMES, VERDICT_WORDS, e
from harness.report.json_report import environment, report_digest, utc_now

AUDIT_FORMAT = "harness-audit/1"
PRIVACY = (
    "The exports hold personal data. This report keeps only each violating report's id, "
    "the time the portal sent it and its district; the exports themselves are named by "
    "file name, SHA-256 and row count."
)
# What each violation means, in the words a child-welfare office would use.
MEANING = {
    "LOST": "the portal was told the case system received it, and the case system holds no record",
    "DUPLICATED": "the case system holds more than one record of it",
    "CORRUPTED": "the case system's record differs from what the portal sent",
    "PHANTOM": "the case system holds a record the portal never sent",
    "UNRESOLVED": "neither delivered nor sent by letter within the deadline",
}


def _row(r: ViolationRow) -> dict[str, Any]:
    return {
        "bekymringsmelding_id": r.report_id,
        "sent": r.sent,
        "kommunenummer": r.kommunenummer,
        "bydelsnummer": r.bydelsnummer,
        "bydelsnavn": r.bydelsnavn,
        "outcome": r.outcome,
        "clauses": list(r.clauses),
        "what": r.what,
    }


def build(result: AuditResult, started: str) -> dict[str, Any]:
    from harness import __version__

    contract = load_contract()
    titles = {c.id: c.title for c in contract.clauses}
    report: dict[str, Any] = {
        "format": AUDIT_FORMAT,
        "harness_version": __version__,
        "contract": {"version": contract.version, "digest": contract.digest},
        "inputs": {
            "portal": {
                "name": result.portal.name,
                "kind": result.portal.kind,
                "sha256": result.portal.sha256,
                "rows": result.portal.rows,
            },
            "case_system": {
                "name": result.case_system.name,
                "kind": result.case_system.kind,
                "sha256": result.case_system.sha256,
                "rows": result.case_system.rows,
            },
            "digests": result.digests_given,
        },
        "period": {"from": result.period[0], "to": result.period[1], "as_of": result.as_of},
        "environment": environment(),
        "started": started,
        "finished": utc_now(),
        "verdict": result.verdict,
        "summary": summary_sentence(result),
        "clauses": [
            {"id": cid, "title": titles.get(cid, cid), "verdict": verdict, "reports": n}
            for cid, verdict, n in result.clause_verdicts()
        ],
        "outcomes": {k: result.outcomes.get(k, 0) for k in (*OUTCOMES, IN_FLIGHT)},
        "violations": [_row(r) for r in sort_rows(result.rows)],
        "violations_not_listed": result.more_rows,
        "months": {m: dict(sorted(c.items())) for m, c in sorted(result.months.items())},
        "privacy": PRIVACY,
    }
    report["digest"] = report_digest(report)
    return report


def summary_sentence(result: AuditResult) -> str:
    judged = result.judged
    parts = []
    for outcome, meaning in MEANING.items():
        n = result.outcomes.get(outcome, 0)
        if n:
            parts.append(f"{n:,} {'was' if n == 1 else 'were'} {outcome.lower()}: {meaning}")
    flight = result.outcomes.get(IN_FLIGHT, 0)
    tail = f" ({flight:,} still in flight within the deadline were not judged)" if flight else ""
    if not parts:
        return (
            f"All {judged:,} reports the portal sent ended stored once, intact, or sent "
            f"by letter; none was lost{tail}."
        )
    return f"Of {judged:,} reports the portal sent, " + "; ".join(parts) + tail + "."


# -- HTML ---------------------------------------------------------------------------
def _chart(months: dict[str, dict[str, int]]) -> str:
    """Violations per month as bars (inline SVG: nothing is fetched)."""
    bad = {m: sum(n for k, n in c.items() if k != "reports") for m, c in months.items()}
    if not any(bad.values()):
        return "<p>No violations in any month.</p>"
    names = list(months)
    top = max(bad.values())
    width, height, bar = max(320, 16 * len(names)), 160, 16
    parts = [
        f'<svg role="img" aria-label="violations per month" width="{width}" '
        f'height="{height + 40}" viewBox="0 0 {width} {height + 40}">'
    ]
    for i, month in enumerate(names):
        n = bad[month]
        tall = 0 if top == 0 else round(height * n / top)
        x = i * bar
        parts.append(
            f'<rect x="{x + 2}" y="{height - tall}" width="{bar - 4}" height="{tall}" '
            f'fill="#c62828"><title>{e(month)}: {n}</title></rect>'
        )
        if n:
            parts.append(
                f'<text x="{x + bar / 2}" y="{height - tall - 3}" font-size="10" '
                f'text-anchor="middle">{n}</text>'
            )
        if month.endswith("-01") or i == 0:
            parts.append(f'<text x="{x}" y="{height + 14}" font-size="10">{e(month[:4])}</text>')
    parts.append(f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#999"/></svg>')
    return "".join(parts)


def _table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]], classes: tuple[str, ...]) -> str:
    """A table of already-escaped cells; `classes` gives each column's CSS class."""
    top = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{c}">{v}</td>' for c, v in zip(classes, r, strict=True))
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{top}</tr>{body}</table>"


def _place(v: dict[str, Any]) -> str:
    parts = (v["kommunenummer"], v["bydelsnummer"], v["bydelsnavn"])
    return " ".join(x for x in parts if x) or "—"


def _inputs(report: dict[str, Any]) -> str:
    inputs, period = report["inputs"], report["period"]
    items = []
    for label, key in (("Portal export", "portal"), ("Case-system export", "case_system")):
        src = inputs[key]
        digest = f" · sha256 {e(src['sha256'])}" if src["sha256"] else ""
        items.append((label, f"{e(src['name'])} · {src['rows']:,} rows{digest}"))
    first = e(period["from"] or "the first row")
    last = e(period["to"] or "the last row")
    items.append(("Period", f"from {first} to {last}, as of {e(period['as_of'])}"))
    items.append(("Contract", f"version {e(report['contract']['version'])}"))
    digests = (
        "compared"
        if inputs["digests"]
        else ("not in the portal export: whether content is intact was not checked")
    )
    items.append(("Digests", digests))
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def _follow_up(report: dict[str, Any]) -> str:
    rows = [
        (
            e((v["sent"] or "—").replace("T", " ")),
            e(_place(v)),
            e(v["outcome"]),
            e(v["what"]),
            f"<code>{e(v['bekymringsmelding_id'])}</code>",
        )
        for v in report["violations"]
    ]
    more = report["violations_not_listed"]
    title = f"Reports to follow up ({len(rows):,}" + (
        f", and {more:,} more not listed)" if more else ")"
    )
    if not rows:
        return f"<h2>{title}</h2><p>None.</p>"
    head = ("sent", "district", "finding", "what is wrong", "bekymringsmelding-id")
    return f"<h2>{title}</h2>" + _table(head, rows, ("id", "", "bad", "", ""))


def render_html(report: dict[str, Any]) -> str:
    verdict = report["verdict"]
    clauses = _table(
        ("id", "clause", "result", "reports"),
        [
            (
                e(c["id"]),
                e(c["title"]),
                f'<span class="v-{e(c["verdict"])}">{e(VERDICT_WORDS[c["verdict"]])}</span>',
                str(c["reports"]),
            )
            for c in report["clauses"]
        ],
        ("id", "", "", "n"),
    )
    not_judged = ("still in flight, within the deadline: not judged yet", True)
    outcomes = _table(
        ("outcome", "meaning", "reports"),
        [
            (e(k), e(OUTCOMES.get(k, not_judged)[0]), f"{n:,}")
            for k, n in report["outcomes"].items()
            if n
        ],
        ("id", "", "n"),
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>harness audit: {e(verdict.upper())}</title><style>{CSS}</style></head><body>\n"
        f'<div class="banner {e(verdict)}"><p class="kicker">harness audit of a real '
        f"pipeline's records</p><h1>{e(verdict.upper())}</h1><p>{e(report['summary'])}</p></div>\n"
        f"<h2>What was compared</h2>{_inputs(report)}\n{_follow_up(report)}\n"
        f"<h2>When it happened</h2>{_chart(report['months'])}\n"
        f"<h2>The contract, clause by clause</h2>{clauses}\n"
        f"<h2>Every report</h2>{outcomes}\n"
        f'<p class="note">{e(report["privacy"])}</p>\n'
        f'<p class="kicker">harness {e(report["harness_version"])} · digest '
        f"{e(report['digest'])}</p>\n</body></html>\n"
    )


def render_junit(report: dict[str, Any]) -> str:
    clauses = report["clauses"]
    suite = ET.Element(
        "testsuite",
        name="harness audit",
        tests=str(len(clauses)),
        failures=str(sum(1 for c in clauses if c["verdict"] == "fail")),
        errors="0",
        skipped=str(sum(1 for c in clauses if c["verdict"] == "not-exercised")),
    )
    for c in clauses:
        name = f"{c['id']} {c['title']}"
        case = ET.SubElement(suite, "testcase", classname="harness.audit", name=name)
        if c["verdict"] == "fail":
            ids = [
                v["bekymringsmelding_id"] for v in report["violations"] if c["id"] in v["clauses"]
            ]
            message = f"{c['reports']} reports break {c['id']}"
            failure = ET.SubElement(case, "failure", message=message)
            failure.text = "\n".join(ids[:50]) + ("\n…" if len(ids) > 50 else "")
        elif c["verdict"] == "not-exercised":
            ET.SubElement(case, "skipped", message="no report gave this clause anything to judge")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write(report: dict[str, Any], directory: Path) -> Path:
    """Validate, then write all three files at once: a folder never holds half a report."""
    errors = validate("audit-report", report)
    if errors:
        raise ValueError(f"the audit report does not match its schema: {errors[0]}")
    directory.mkdir(parents=True, exist_ok=True)
    texts = {
        "report.json": dumps(report),
        "report.html": render_html(report),
        "junit.xml": render_junit(report),
    }
    staged: list[tuple[str, Path]] = []
    try:
        for name, text in texts.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            staged.append((name, Path(tmp)))
        for name, staged_path in staged:
            os.replace(staged_path, directory / name)
    finally:
        for _, staged_path in staged:
            staged_path.unlink(missing_ok=True)
    return directory / "report.json"
