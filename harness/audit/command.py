"""`harness audit`: the contract's checker on a real pipeline's records.

Imported when the command line is parsed: it imports nothing heavy at the top.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from harness.errors import UsageError

EXIT_PASS, EXIT_FAIL = 0, 1
EXAMPLES = ("bergen-2023",)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2023-06-01") from None


def add_audit_command(sub: Any) -> None:
    audit = sub.add_parser(
        "audit",
        help="check a real pipeline's exports (portal and case system) against the contract",
        description="Compare the portal's list of reports with the case system's records: "
        "every report the portal counts as delivered must have exactly one intact record.",
    )
    audit.add_argument(
        "--portal",
        type=Path,
        metavar="PORTAL_EXPORT",
        help="the portal's export: CSV or JSON lines "
        "(columns: contracts/schemas/audit-portal-export.json)",
    )
    audit.add_argument(
        "--case-system",
        metavar="CASE_EXPORT",
        help="the case system's reconciliation rows: a CSV or JSON-lines "
        "file, or the URL of its reconciliation API (http://127.0.0.1:PORT)",
    )
    audit.add_argument(
        "--from",
        dest="start",
        type=_day,
        metavar="DATE",
        help="audit reports sent on or after this day (local time)",
    )
    audit.add_argument(
        "--to",
        dest="end",
        type=_day,
        metavar="DATE",
        help="audit reports sent up to and including this day (local time)",
    )
    audit.add_argument(
        "--report",
        type=Path,
        default=Path("harness-audit"),
        metavar="DIR",
        help="where report.json, report.html and junit.xml go (default harness-audit)",
    )
    audit.add_argument(
        "--example",
        choices=EXAMPLES,
        help="audit a synthetic pair of exports made from a bundled "
        "scenario (written into DIR/example-exports)",
    )
    audit.set_defaults(handler=run_audit)


def _bound(day: date | None, after: bool) -> int | None:
    from harness.audit.exports import OSLO

    if day is None:
        return None
    moment = datetime.combine(day + timedelta(days=1) if after else day, time(), OSLO)
    return int(moment.timestamp() * 1000)


def run_audit(args: argparse.Namespace) -> int:
    from harness.audit.report import build, write
    from harness.audit.run import audit
    from harness.report.folder import check_writable_folder
    from harness.report.json_report import utc_now

    started = utc_now()
    check_writable_folder(args.report, "--report", "harness-audit")
    if args.example:
        if args.portal or args.case_system:
            raise UsageError(
                "--example makes its own exports: give it without --portal and --case-system"
            )
        from harness.audit.example import write_bergen

        portal, case = write_bergen(args.report / "example-exports")
        case_spec = str(case)
    else:
        if args.portal is None or args.case_system is None:
            raise UsageError(
                "give both --portal PORTAL_EXPORT and --case-system CASE_EXPORT "
                "(or --example bergen-2023 to see an audit of synthetic exports)"
            )
        portal, case_spec = args.portal, args.case_system
    if args.start and args.end and args.end < args.start:
        raise UsageError(f"--to {args.end} is before --from {args.start}")
    result = audit(
        portal,
        case_spec,
        start=_bound(args.start, after=False),
        end=_bound(args.end, after=True),
        period=(args.start and args.start.isoformat(), args.end and args.end.isoformat()),
    )
    report = build(result, started)
    path = write(report, args.report)
    print(f"harness audit: {result.verdict.upper()} — {report['summary']}")
    for row in report["violations"][:20]:
        place = " ".join(x for x in (row["bydelsnummer"], row["bydelsnavn"]) if x)
        print(
            f"  {row['outcome']:<10} {row['sent'] or '—':<19}  {place:<28} "
            f"{row['bekymringsmelding_id']}"
        )
    listed = len(report["violations"])
    if listed > 20:
        print(f"  … and {listed - 20} more in the report")
    print(f"report: {path} (and report.html, junit.xml)")
    return EXIT_FAIL if result.verdict == "fail" else EXIT_PASS
