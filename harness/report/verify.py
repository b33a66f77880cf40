"""`harness verify`: is a report exactly what the harness wrote, who signed it, and
does it agree with itself?

Checks, in order: the file is a report that matches its schema, byte for byte as
written; its digest matches its content; its signature (if any) matches the
digest, and was made with the key given by `--public-key`; the counterexample
files beside it are exactly those it lists, each matching its digest; the report
agrees with itself (`consistency`): the verdict with the clauses, the clauses with
the outcomes, the totals with the families, every failing clause with a
counterexample file whose recorded history, checked again, breaks that clause;
report.html beside it is what this report renders to.

What verify cannot see is a report that is consistent and false: anyone holding
the signing key can write one. A signed report shows who ran the suite; a reader
who must rely on the verdict reruns it (the report says how).
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


# A report of any of these outcomes breaks this clause (checker/clauses.py judges them
# from the same facts that give the outcome).
OUTCOME_CLAUSE = {
    "LOST": "SOR-1",
    "DUPLICATED": "SOR-3",
    "CORRUPTED": "SOR-4",
    "UNRESOLVED": "SOR-7",
    "PHANTOM": "SOR-8",
}
COUNTEREXAMPLE_GLOB = "counterexample-*.json"


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)  # any problem: tampered or invalid
    notes: list[str] = field(default_factory=list)  # what was and was not checked
    verdict: str | None = None  # the verdict verified (set only when there is no problem)
    failed: list[str] = field(default_factory=list)  # the failing clauses verified


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


def _files(report: dict[str, Any], directory: Path, out: Verification) -> dict[str, str]:
    """The counterexample files beside the report: exactly those it lists, unchanged."""
    texts: dict[str, str] = {}
    for name, digest in report["files"].items():
        path = directory / name
        if not path.is_file():
            out.problems.append(f"{name} is listed in the report but missing beside it")
            continue
        data = path.read_bytes()
        texts[name] = data.decode("utf-8", errors="replace")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            out.problems.append(f"{name} was changed: its digest does not match the report")
    extra = sorted(p.name for p in directory.glob(COUNTEREXAMPLE_GLOB) if p.name not in texts)
    extra = [n for n in extra if n not in report["files"]]
    if extra:
        out.problems.append(
            f"{extra[0]} lies beside the report but is not listed in it"
            + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else "")
            + ": a report folder holds only its own counterexample files"
        )
    return texts


def _sum(entries: list[dict[str, Any]], key: str, inner: str | None = None) -> dict[str, int]:
    total: dict[str, int] = {}
    for entry in entries:
        for name, value in entry[key].items():
            count = value[inner] if inner else value
            if count:
                total[name] = total.get(name, 0) + count
    return total


def _nonzero(raw: dict[str, Any], inner: str | None = None) -> dict[str, int]:
    return {k: (v[inner] if inner else v) for k, v in raw.items() if (v[inner] if inner else v)}


def _verdict_problems(report: dict[str, Any]) -> list[str]:
    """The verdict, the clauses and the outcomes must tell one story."""
    problems = []
    clauses = {c["id"]: c for c in report["clauses"]}
    failed = [cid for cid, c in clauses.items() if c["verdict"] == "fail"]
    unmet = [s["name"] for s in report.get("scenarios", []) if s["verdict"] == "fail"]
    expected = "fail" if failed or unmet else "pass"
    if report["verdict"] != expected:
        why = (
            f"clause {failed[0]} says fail"
            if failed
            else f"scenario {unmet[0]} failed"
            if unmet
            else "no clause failed and every scenario passed"
        )
        problems.append(f"the verdict says {report['verdict'].upper()}, but {why}")
    for outcome, cid in OUTCOME_CLAUSE.items():
        count = report["outcomes"].get(outcome, 0)
        if count and cid in clauses and clauses[cid]["verdict"] != "fail":
            problems.append(
                f"the outcomes count {outcome} {count}, but {cid} says "
                f"{clauses[cid]['verdict']}: a report that ends {outcome} breaks {cid}"
            )
    return problems


def _total_problems(report: dict[str, Any]) -> list[str]:
    """Totals are the sums of the families; each clause's examples are its family's."""
    problems = []
    families = report["families"]
    if _nonzero(report["outcomes"]) != _sum(families, "outcomes"):
        problems.append("the outcome counts are not the sums of the families' outcomes")
    for inner in ("reached", "fired"):
        if _nonzero(report["faults"], inner) != _sum(families, "faults", inner):
            problems.append(f"the faults {inner} are not the sums of the families' faults")
    if report["examples_run"] != sum(f["examples"] for f in families):
        problems.append("examples_run is not the sum of the families' examples")
    warned = _sum(families, "warnings")
    for w in report["warnings"]:
        if w["count"] != warned.get(w["id"], 0):
            problems.append(
                f"warning {w['id']} counts {w['count']}, its families {warned.get(w['id'], 0)}"
            )
    run = {f["family"]: f["examples"] for f in families}
    for c in report["clauses"]:
        ran = run.get(c.get("family") or "", 0)
        if c["examples"] != ran:
            problems.append(f"{c['id']} claims {c['examples']} examples, its family ran {ran}")
    exercised = {cid for f in families for cid in f["exercised"]}
    for c in report["clauses"]:
        if c["verdict"] == "pass" and c["id"] not in exercised:
            problems.append(f"{c['id']} says pass, but no family exercised it")
        if c["verdict"] == "not-exercised" and c["id"] in exercised:
            problems.append(f"{c['id']} says not exercised, but a family exercised it")
    return problems


def _counterexample_problems(report: dict[str, Any], texts: dict[str, str]) -> list[str]:
    """Every failing clause has a counterexample file that, checked again, breaks it."""
    from harness.checker.clauses import check
    from harness.core.history import History
    from harness.report.counterexample import check_file
    from harness.sim.world import Plan

    problems = []
    listed = set(report["files"])
    named = {c["counterexample"]["file"] for c in report["clauses"] if c["counterexample"]}
    for fam in report["families"]:
        named |= {n for n in (fam["counterexample"], *fam["also_failed"].values()) if n}
    for name in sorted(named - listed):
        problems.append(f"{name} is named as a counterexample but not listed in the report's files")
    for name in sorted(listed - named):
        problems.append(f"{name} is listed in the report's files but no clause or family names it")
    broken: dict[str, set[str]] = {}
    for name, text in texts.items():
        try:
            raw = json.loads(text)
            problem = check_file(raw) if isinstance(raw, dict) else "it is not a JSON object"
            if problem is None:
                plan = Plan.from_json(raw["plan"])
                broken[name] = set(
                    check(History.from_json(raw["history"]), plan.resolution_bound).failed
                )
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            problem = f"it cannot be read ({type(exc).__name__})"
        if problem is not None:
            problems.append(f"{name}: {problem}")
            continue
        if raw.get("target") != report["target"]["spec"]:
            problems.append(f"{name} is about target {raw.get('target')!r}, not the report's")
        for cid in raw.get("clauses") or []:
            if cid not in broken[name]:
                problems.append(
                    f"{name} claims to break {cid}, but its history, checked again, does not"
                )
    for c in report["clauses"]:
        cx = c["counterexample"]
        if c["verdict"] == "fail" and cx is None:
            problems.append(f"{c['id']} says fail but names no counterexample")
        elif c["verdict"] != "fail" and cx is not None:
            problems.append(f"{c['id']} says {c['verdict']} but names counterexample {cx['file']}")
        elif cx is not None and cx["file"] in broken:
            if c["id"] not in broken[cx["file"]]:
                problems.append(f"{cx['file']}, checked again, does not break {c['id']}")
            raw = json.loads(texts[cx["file"]])
            same = all(raw.get(k) == cx.get(k) for k in ("family", "clauses", "plan", "violations"))
            if not same:
                problems.append(
                    f"{c['id']}'s counterexample in report.json differs from {cx['file']}"
                )
    return problems


def _contract_problems(report: dict[str, Any]) -> list[str]:
    from harness import __version__
    from harness.contracts import load_contract
    from harness.suite.search import FAMILIES

    problems = []
    for fam in report["families"]:
        if fam["family"] in FAMILIES and fam["clauses"] != list(FAMILIES[fam["family"]]):
            problems.append(f"family {fam['family']} lists clauses {fam['clauses']}, not its own")
    if report["harness_version"] == __version__:
        contract = load_contract()
        if report["contract"]["digest"] != contract.digest:
            problems.append(
                f"the report names contract digest {report['contract']['digest']}, but "
                f"harness {__version__} ships {contract.digest}: it was checked against "
                "another contract"
            )
        ids = [c.id for c in contract.clauses]
        if [c["id"] for c in report["clauses"]] != ids:
            problems.append(f"the report's clauses are not the contract's ({', '.join(ids)})")
    return problems


def consistency(report: dict[str, Any], texts: dict[str, str]) -> list[str]:
    """Everything in which a report, as written by the harness, cannot contradict itself."""
    return [
        *_verdict_problems(report),
        *_total_problems(report),
        *_counterexample_problems(report, texts),
        *_contract_problems(report),
    ]


def _html(report: dict[str, Any], files: dict[str, str], path: Path, out: Verification) -> None:
    from harness import __version__
    from harness.report.html_report import render_html

    if not path.is_file():
        out.problems.append("report.html is missing beside report.json")
        return
    if report["harness_version"] != __version__:
        out.notes.append(
            f"report.html not compared: the report is of harness {report['harness_version']}, "
            f"this is {__version__} (install that version to compare it)"
        )
        return
    if path.read_bytes() != render_html(report, files).encode("utf-8"):
        out.problems.append(
            "report.html does not render from report.json: it was changed (or it was written "
            f"by a different build of harness {__version__})"
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
    out.problems += consistency(report, files)
    if not out.problems:
        _html(report, files, path.parent / "report.html", out)
    if not out.problems:
        out.verdict = report["verdict"]
        out.failed = [c["id"] for c in report["clauses"] if c["verdict"] == "fail"]
    return out
