"""`harness verify`: is a report exactly what the harness wrote, and who signed it?

Checks, in order: the file is a report that matches its schema; its digest matches
its content; its signature (if any) matches the digest, and was made with the key
given by `--public-key`; the counterexample files beside it match the digests the
report lists; report.html beside it is what this report renders to.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.contracts import validate
from harness.errors import UsageError
from harness.report.counterexample import dumps
from harness.report.json_report import REPORT_FORMAT, report_digest

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)  # any problem: tampered or invalid
    notes: list[str] = field(default_factory=list)  # what was and was not checked


def read_report(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(report, None) or (None, why it is not the report the harness wrote).

    A file that cannot be read at all, or nests too deeply to parse, is a usage
    error (exit 2): there is nothing to verify. The bytes are compared, not the
    text: a report whose line ends were converted (CRLF) is not the one written.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read {str(path)!r}: {exc.strerror}; give the report.json of a report folder"
        ) from None
    try:
        report = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise UsageError(
            f"{str(path)!r} nests arrays or objects too deeply to be a report; give the "
            "report.json of a report folder"
        ) from None
    except ValueError as exc:  # UnicodeDecodeError too
        return None, f"{str(path)!r} is not UTF-8 JSON: {exc}"
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        return None, f"{str(path)!r} is not a harness report (format {REPORT_FORMAT!r})"
    if data != dumps(report).encode("utf-8"):  # whitespace too: a record is kept byte for byte
        crlf = b"\r\n" in data
        return None, (
            f"{str(path)!r} is not byte for byte what the harness wrote ("
            + ("its line ends were converted to CRLF" if crlf else "was it edited or reformatted?")
            + "); keep report.json exactly as written"
        )
    return report, None


def _signature(report: dict[str, Any], trusted: Ed25519PublicKey | None, out: Verification) -> None:
    from harness.report.signing import check

    signature = report.get("signature")
    if signature is None:
        if trusted is not None:
            out.problems.append("the report is not signed, but --public-key was given")
        else:
            out.notes.append("not signed")
        return
    problems = check(report["digest"], signature, trusted)
    out.problems += problems
    if not problems:
        whose = "the --public-key given" if trusted else "its embedded public key"
        out.notes.append(f"signature valid: key {signature['fingerprint']} ({whose})")
        if trusted is None:
            out.notes.append("pass --public-key to check the signer is who you expect")


def _files(report: dict[str, Any], directory: Path, out: Verification) -> dict[str, str] | None:
    texts: dict[str, str] = {}
    for name, digest in report["files"].items():
        path = directory / name
        if not path.is_file():
            out.notes.append(f"{name} not found beside the report: not checked")
            continue
        data = path.read_bytes()
        texts[name] = data.decode("utf-8", errors="replace")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            out.problems.append(f"{name} was changed: its digest does not match the report")
    return texts if len(texts) == len(report["files"]) else None


def _html(
    report: dict[str, Any], files: dict[str, str] | None, path: Path, out: Verification
) -> None:
    from harness import __version__
    from harness.report.html_report import render_html

    if not path.is_file():
        return
    if files is None or report["harness_version"] != __version__:
        out.notes.append("report.html not compared (files missing, or another harness version)")
        return
    if path.read_bytes() != render_html(report, files).encode("utf-8"):
        out.problems.append(
            "report.html does not match report.json: it was changed (or it was written by "
            f"a different build of harness {__version__})"
        )
    else:
        out.notes.append("report.html matches report.json")


def _isolation(report: dict[str, Any], required: bool, out: Verification) -> None:
    iso = report["isolation"]
    if iso["mode"] == "process":
        user = "as a user of its own" if iso["separate_user"] else "as the harness's own user"
        out.notes.append(f"made with process isolation (the adapter ran {user})")
    elif required:
        out.problems.append(
            "refused (--require-isolation): the adapter ran inside the harness's own process "
            "(isolation inprocess), where its code could reach the verdict; its verdict is for "
            "development, not procurement. Rerun with `harness run --isolation process`"
        )
    else:
        out.notes.append(
            "made in-process: the adapter shared the harness's process; a verdict for "
            "development, not procurement (--require-isolation refuses such a report)"
        )


def verify_report(
    path: Path, public_key: Path | None = None, require_isolation: bool = False
) -> Verification:
    """Problems found in a report file (empty when intact), and notes on what was checked.
    With `require_isolation`, a report whose adapter ran in-process is refused too."""
    from harness.report.signing import load_public_key

    trusted = load_public_key(public_key) if public_key is not None else None  # bad key: exit 2
    out = Verification()
    report, why = read_report(path)
    if report is None:
        out.problems.append(str(why))
        return out
    schema_errors = validate("report", report)
    if schema_errors:
        out.problems += [f"does not match the report schema: {e}" for e in schema_errors]
        return out
    if report["digest"] != report_digest(report):
        out.problems.append(
            "the digest does not match the content: the report was changed after it was written"
        )
        return out
    _isolation(report, require_isolation, out)
    _signature(report, trusted, out)
    files = _files(report, path.parent, out)
    if not out.problems:
        _html(report, files, path.parent / "report.html", out)
    return out
