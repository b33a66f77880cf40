"""The `harness` command: run the contract suite, replay a counterexample, verify a report.

Exit codes: 0 every clause holds (or the file is intact), 1 a clause is violated
(or the report was changed), 2 a usage or configuration error, in one line.
"""
# `run`, `replay` and `validate` are here; `verify`, `merge` and `keygen` are in
# harness/report/commands.py, which adds its subparsers through `add_report_commands`.

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def examples(text: str) -> int:
    """Examples per clause family: at least one for each slice the search runs in."""
    from harness.suite.search import SLICES

    value = positive(text)
    if value < SLICES:
        raise argparse.ArgumentTypeError(
            f"{text!r} examples is too few: each clause family searches in {SLICES} slices, "
            f"so give at least {SLICES} (the default is 100)"
        )
    return value


def report_folder(text: str) -> Path:
    """--report DIR: never empty (that would be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "--report is empty; give the folder for the report, e.g. --report harness-report"
        )
    return Path(text)


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. dsn=sqlite:///x.db)")
    return key, value


def family_list(text: str) -> tuple[str, ...]:
    """A comma-separated list of clause families, in the suite's own order."""
    from harness.suite.search import FAMILIES

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAMILIES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of clause families: "
            f"{'unknown ' + repr(unknown[0]) if unknown else 'empty'}; "
            f"choose from {','.join(FAMILIES)}"
        )
    return tuple(f for f in FAMILIES if f in names)


class _Parser(argparse.ArgumentParser):
    """Errors as one UsageError line; no prefix matching (`--target` is not `--target-option`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

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
        type=examples,
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
        type=report_folder,
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
        help="processes, this one included (family slices run in parallel; same result)",
    )
    run.add_argument(
        "--target-option",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option handed to the factory (repeatable); secrets in it are redacted "
        "from every report and from the output",
    )
    run.add_argument(
        "--families",
        type=family_list,
        default=None,
        metavar="LIST",
        help="run only these clause families, e.g. delivery,integrity (default: all); "
        "shards run with the same seed merge with `harness merge`",
    )
    run.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME_OR_PATH",
        help="run a scenario (a bundled name, see `harness scenarios`, or a .toml file) "
        "instead of the clause families; repeatable",
    )
    run.add_argument(
        "--isolation",
        choices=("process", "inprocess"),
        default=None,
        help="process: the adapter runs in processes of its own, which the harness kills "
        "for real and which cannot reach the verdict (default with --sign-key); inprocess: "
        "in the harness's own interpreter, faster, for development (default otherwise)",
    )
    run.add_argument(
        "--sign-key",
        type=Path,
        default=None,
        metavar="KEY",
        help="sign report.json with this Ed25519 private key (PEM; see `harness keygen`)",
    )
    live = run.add_argument_group(
        "black-box tier", "run a real service over a local Fiks IO instead (docs/live.md)"
    )
    live.add_argument(
        "--service",
        metavar="CMD",
        help="the command that starts the service (run with /bin/sh -c, with the HARNESS_* "
        "environment of docs/live.md); replaces --target",
    )
    live.add_argument(
        "--reconcile",
        default="http",
        metavar="URL|sql",
        help="where the service's stored reports are read: `http` (its API on "
        "HARNESS_RECONCILE_PORT, the default), http://127.0.0.1:PORT, or `sql` (the view "
        "harness_reports in its database)",
    )
    live.add_argument(
        "--amqp-url",
        metavar="URL",
        help="use this broker (amqp://USER:PASS@127.0.0.1:PORT/VHOST) instead of starting "
        "a private RabbitMQ node",
    )
    live.add_argument(
        "--plan",
        type=Path,
        default=None,
        metavar="FILE",
        help="a live plan as JSON (reports, faults, timing; docs/live.md) instead of the "
        "default checklist",
    )
    live.add_argument(
        "--fiksio-crypto",
        choices=("on", "off"),
        default="off",
        help="on: seal every report as Fiks IO does (ASiC-E signed, in CMS for the account's "
        "key; the service gets the keys in HARNESS_FIKSIO_KEYS) and open every reply package, "
        "as KS's clients need; off (default): plain zips (docs/fiksio-crypto.md)",
    )
    live.add_argument(
        "--ready-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long the service may take to answer /harness/v1/ready and consume (default 30)",
    )
    live.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        metavar="URL",
        help="a PostgreSQL superuser on loopback; each run makes and drops a database and "
        "role there",
    )
    sub.add_parser("scenarios", help="list the bundled scenarios")
    rep = sub.add_parser("replay", help="replay a counterexample file and print its timeline")
    rep.add_argument("file", type=Path)
    rep.add_argument(
        "--target",
        metavar="SPEC",
        help="replay against this target instead of the one the file records "
        "(found again by its path or module name)",
    )
    rep.add_argument(
        "--target-option",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option handed to the factory, in place of the file's "
        "(needed for options whose secrets were redacted)",
    )
    rep.add_argument(
        "--amqp-url", metavar="URL", help="a live counterexample: use this broker (see run)"
    )
    rep.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        metavar="URL",
        help="a live counterexample: the PostgreSQL superuser to make the run's database",
    )
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
    from harness.audit.command import add_audit_command
    from harness.live.crypto.command import add_fiksio_commands
    from harness.report.commands import add_report_commands

    add_report_commands(sub)
    add_audit_command(sub)
    add_fiksio_commands(sub)
    return parser


def _run(args: argparse.Namespace) -> int:
    from harness.report.commands import run_and_report

    if args.service is not None:
        from harness.live.cli import run_command

        if args.scenario or args.families or args.examples or args.workers != 1:
            raise UsageError(
                "--service runs the live plan (docs/live.md): --scenario, --families, "
                "--examples and --workers belong to the simulated tier"
            )
        return run_command(args)
    if args.fiksio_crypto == "on":
        raise UsageError(
            "--fiksio-crypto on seals the packages a real service receives: give it with "
            "--service (the simulated tier's adapters get plain files)"
        )
    from harness.suite.run import SuiteConfig
    from harness.suite.search import DEFAULT_EXAMPLES, FAMILIES

    config = SuiteConfig(
        target=args.target,
        seed=args.seed,
        examples=args.examples or DEFAULT_EXAMPLES,
        workers=args.workers,
        options=dict(args.target_option),
        families=args.families or tuple(FAMILIES),
        scenarios=tuple(args.scenario),
        isolation=args.isolation or ("process" if args.sign_key is not None else "inprocess"),
    )
    if args.scenario and args.families:
        raise UsageError(
            "--scenario and --families do not combine: a scenario checks every "
            "clause; give one or the other"
        )
    return run_and_report(config, args.report, args.sign_key)


def _scenarios(args: argparse.Namespace) -> int:
    from harness.scenarios.model import bundled, load

    for name in bundled():
        scenario = load(name)
        print(f"{name:<20} {scenario.description}")
    print(
        "\nrun one: harness run --scenario NAME [--target SPEC]; "
        "or give the path of a .toml file of your own"
    )
    return EXIT_PASS


def _replay(args: argparse.Namespace) -> int:
    from harness.report.counterexample import load, replay

    if load(args.file).get("tier") == "live":
        from harness.live.cli import replay_live

        return replay_live(args.file, load(args.file), args)
    raw, _run, broken, lines, notes = replay(args.file, dict(args.target_option), args.target)
    target = args.target or raw.get("target")
    print(f"replay of {args.file} · target {target} · family {raw.get('family')}")
    for note in notes:
        print(note, file=sys.stderr)
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


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        handlers = {"run": _run, "replay": _replay, "validate": _validate, "scenarios": _scenarios}
        handler = handlers.get(args.command)
        return handler(args) if handler else int(args.handler(args))
    except UsageError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
