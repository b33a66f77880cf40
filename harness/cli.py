"""The `harness` command: run the contract suite, replay a counterexample, verify a report.

Exit codes: 0 every clause holds (or the file is intact), 1 a clause is violated
(or the report was changed), 2 a usage or configuration error, in one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import UsageError

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def parse_seed(text: str) -> int:
    """A whole number, or 'random' for a fresh one (printed, so it can be given back)."""
    if text == "random":
        return int.from_bytes(os.urandom(4), "big")
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a seed: give a whole number >= 0, or 'random'"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: it must be >= 0")
    return value


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. dsn=sqlite:///x.db)")
    return key, value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run the contract suite against a case system")
    run.add_argument(
        "--target",
        metavar="SPEC",
        help="module:attr or path/to/file.py:attr of a case-system factory "
        "(default: the bundled reference case system)",
    )
    run.add_argument(
        "--examples",
        type=positive,
        default=None,
        metavar="N",
        help="Hypothesis examples per clause family (default 100)",
    )
    run.add_argument(
        "--seed",
        type=parse_seed,
        default=0,
        metavar="S",
        help="the run's seed: a whole number, or 'random' (default 0)",
    )
    run.add_argument(
        "--report",
        type=Path,
        default=Path("harness-report"),
        metavar="DIR",
        help="where report.json and counterexample files go (default harness-report)",
    )
    run.add_argument(
        "-n",
        "--workers",
        type=positive,
        default=1,
        metavar="WORKERS",
        help="worker processes (clause families run in parallel)",
    )
    run.add_argument(
        "--target-option",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option handed to the factory (repeatable)",
    )
    rep = sub.add_parser("replay", help="replay a counterexample file and print its timeline")
    rep.add_argument("file", type=Path)
    val = sub.add_parser(
        "validate", help="check a message (or a folder of them) against the contract's schemas"
    )
    val.add_argument("file", type=Path, metavar="FILE")
    val.add_argument(
        "--type",
        dest="kind",
        metavar="MESSAGE_TYPE",
        help="e.g. no.ks.fiks.bekymringsmelding.privat.v2 or privat.v2 "
        "(default: inferred from the content)",
    )
    ver = sub.add_parser("verify", help="check that a report.json is intact")
    ver.add_argument("file", type=Path)
    return parser


def _run(args: argparse.Namespace) -> int:
    from harness.report.json_report import write_report
    from harness.report.terminal import summary
    from harness.suite.run import SuiteConfig, run_suite
    from harness.suite.search import DEFAULT_EXAMPLES

    config = SuiteConfig(
        target=args.target,
        seed=args.seed,
        examples=args.examples or DEFAULT_EXAMPLES,
        workers=args.workers,
        options=dict(args.target_option),
    )
    result = run_suite(config)
    path = write_report(result, args.report)
    print("\n".join(summary(result, path)))
    return EXIT_FAIL if result.failed else EXIT_PASS


def _replay(args: argparse.Namespace) -> int:
    from harness.report.counterexample import replay

    raw, _run, broken, lines = replay(args.file)
    print(f"replay of {args.file} · target {raw.get('target')} · family {raw.get('family')}")
    print("\n".join("  " + ln for ln in lines))
    expected = sorted(raw.get("clauses") or [])
    family_broken = [c for c in broken if c in expected] or broken
    if family_broken:
        print(f"verdict: FAIL ({', '.join(family_broken)})")
        if expected and set(family_broken) != set(expected):
            print(f"note: the file recorded {', '.join(expected)}")
        return EXIT_FAIL
    print(
        "verdict: PASS — the counterexample no longer reproduces"
        + (f" (it recorded {', '.join(expected)})" if expected else "")
    )
    return EXIT_PASS


def _validate(args: argparse.Namespace) -> int:
    from harness.validate import validate_path

    verdicts = validate_path(args.file, args.kind)
    for v in verdicts:
        print(f"{'valid' if not v.errors else 'INVALID'}: {v.path} ({v.kind})")
        for err in v.errors:
            print(f"  {err}")
    return EXIT_FAIL if any(v.errors for v in verdicts) else EXIT_PASS


def _verify(args: argparse.Namespace) -> int:
    from harness.report.json_report import verify_report

    problems = verify_report(args.file)
    for p in problems:
        print(f"tampered or invalid: {p}")
    if not problems:
        print(f"intact: {args.file}")
    return EXIT_FAIL if problems else EXIT_PASS


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        handler = {"run": _run, "replay": _replay, "validate": _validate, "verify": _verify}[
            args.command
        ]
        return handler(args)
    except UsageError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
