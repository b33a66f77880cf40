"""The report side of the `harness` command: writing a run's report, verify, merge, keygen.

Imported when the command line is parsed, so it imports nothing heavy at the top.
Progress goes to stderr, the summary to stdout; both are scrubbed of the secrets
in the target's options.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from harness.suite.run import SuiteConfig, SuiteResult

EXIT_PASS, EXIT_FAIL = 0, 1


def _sign_key(path: Path | None) -> Ed25519PrivateKey | None:
    from harness.report.signing import load_private_key

    return load_private_key(path) if path is not None else None  # before any long work


def _finish(
    result: SuiteResult, directory: Path, key: Ed25519PrivateKey | None, **extra: Any
) -> int:
    from harness.report.json_report import build_report, save
    from harness.report.terminal import summary

    report = build_report(result, sign_key=key, **extra)
    path = save(report, directory)
    print("\n".join(summary(result, path, files=sorted(report.files))))
    return EXIT_FAIL if result.verdict == "fail" else EXIT_PASS


def run_and_report(config: SuiteConfig, directory: Path, sign_key: Path | None) -> int:
    """Run the suite and write its report: one private folder for the run's databases,
    from the first check of the target to the last example."""
    from harness.sim.isolation.sandbox import private_scratch

    with private_scratch():
        return _run_and_report(config, directory, sign_key)


def _run_and_report(config: SuiteConfig, directory: Path, sign_key: Path | None) -> int:
    from harness.report.folder import check_report_folder
    from harness.report.json_report import utc_now
    from harness.report.redact import Redactor
    from harness.report.terminal import progress_line
    from harness.scenarios.model import load as load_scenario
    from harness.suite.run import run_suite
    from harness.suite.search import FamilyResult
    from harness.suite.workers import WorkerError
    from harness.target import load_target

    check_report_folder(directory)
    key = _sign_key(sign_key)  # before any adapter code runs anywhere
    redactor = Redactor.for_options(config.options)
    try:  # a bad target or scenario is one line on stderr, before anything else is printed
        # Never imported here in process mode: the adapter's code runs in its own processes.
        load_target(config.target, config.options, isolation=config.isolation)
        for name in config.scenarios:
            load_scenario(name)
    except UsageError as exc:  # its message may quote an option's secret
        raise UsageError(redactor.text(str(exc))) from None
    units = config.units
    total, done = len(units), []

    def progress(fam: FamilyResult) -> None:
        done.append(fam.family)
        print(redactor.text(progress_line(fam, len(done), total)), file=sys.stderr, flush=True)

    what = (
        f"{total} scenario{'s' * (total != 1)} ({', '.join(config.scenarios)})"
        if config.scenarios
        else f"{total} clause famil{'ies' if total != 1 else 'y'} ({', '.join(units)}), "
        f"{config.examples} examples each"
    )
    print(
        f"harness: running {what}, seed {config.seed}, "
        f"{config.workers} worker{'s' * (config.workers != 1)}",
        file=sys.stderr,
        flush=True,
    )
    started = utc_now()
    try:
        result = run_suite(config, progress)
    except (UsageError, WorkerError) as exc:  # its message may quote an option's secret
        raise UsageError(redactor.text(str(exc))) from None
    return _finish(result, directory, key, started=started)


def _verify(args: argparse.Namespace) -> int:
    from harness.report.verify import verify_report

    found = verify_report(args.file, args.public_key, args.require_isolation)
    if found.problems:
        print(f"TAMPERED OR INVALID: {args.file}")
        for problem in found.problems:
            print(f"  - {problem}")
        return EXIT_FAIL
    print(f"intact: {args.file}")
    print(f"  verdict verified: {verdict_line(found)}")
    for note in found.notes:
        print(f"  {note}")
    return EXIT_PASS


def verdict_line(found: Any) -> str:
    """The verdict `verify` checked, as the report's reader should repeat it."""
    if found.verdict == "fail":
        return (
            f"FAIL ({', '.join(found.failed)})" if found.failed else "FAIL (scenario expectations)"
        )
    return "PASS"


def _merge(args: argparse.Namespace) -> int:
    from harness.report.folder import check_report_folder
    from harness.report.merge import merge_shards

    if args.out.resolve() in {d.resolve() for d in args.shards}:
        raise UsageError(f"OUT_DIR {str(args.out)!r} is also a shard; merge into a new directory")
    check_report_folder(args.out, "OUT_DIR")
    key = _sign_key(args.sign_key)
    result, extra = merge_shards(args.shards)
    return _finish(result, args.out, key, **extra)


def _keygen(args: argparse.Namespace) -> int:
    from harness.report.folder import check_writable_folder
    from harness.report.signing import fingerprint, keygen, load_private_key

    check_writable_folder(args.dir, "keygen DIR", "ci-keys")
    try:
        private, public = keygen(args.dir)
    except OSError as exc:
        raise UsageError(
            f"keygen DIR {str(args.dir)!r}: cannot write the key pair ({exc.strerror}); "
            "give a new folder you can write to"
        ) from None
    print(f"private key: {private} (keep it secret, e.g. as a CI secret; sign with --sign-key)")
    print(f"public key:  {public} (publish it; readers verify with --public-key)")
    print(f"fingerprint: {fingerprint(load_private_key(private).public_key())}")
    return EXIT_PASS


def add_report_commands(sub: Any) -> None:
    """The subparsers of verify, merge and keygen (`sub` is argparse's subparsers action)."""
    ver = sub.add_parser("verify", help="check that a report.json is intact (and who signed it)")
    ver.add_argument("file", type=Path, metavar="REPORT.json")
    ver.add_argument(
        "--public-key",
        type=Path,
        metavar="KEY",
        help="the signer's Ed25519 public key (PEM): the report must be signed with it",
    )
    ver.add_argument(
        "--require-isolation",
        action="store_true",
        help="refuse a report whose adapter ran in the harness's own process "
        "(made with --isolation inprocess)",
    )
    ver.set_defaults(handler=_verify)
    mer = sub.add_parser("merge", help="merge shard reports (harness run --families) into one")
    mer.add_argument("out", type=Path, metavar="OUT_DIR")
    mer.add_argument("shards", type=Path, nargs="+", metavar="SHARD_DIR")
    mer.add_argument(
        "--sign-key", type=Path, metavar="KEY", help="sign the merged report.json (PEM)"
    )
    mer.set_defaults(handler=_merge)
    key = sub.add_parser("keygen", help="write a new Ed25519 key pair for signing reports")
    key.add_argument("dir", type=Path, metavar="DIR")
    key.set_defaults(handler=_keygen)
