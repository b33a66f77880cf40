"""`report.html`: the report as a procurement officer reads it, in one self-contained file.

It is a pure function of report.json and the counterexample files: no clock, no
network (a Content-Security-Policy forbids every fetch), inline CSS, every value
escaped. `harness verify` renders it again to check that it matches report.json.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from html import escape
from typing import Any

from harness.checker.clauses import check
from harness.contracts import load_contract
from harness.core.faults import POINTS
from harness.core.history import History
from harness.report.timeline import render
from harness.suite.search import FAMILIES
from harness.target import REFERENCE_SPEC

OUTCOMES = {  # outcome -> (plain meaning, legal)
    "STORED": ("stored exactly once, intact, and the sender was told 'received'", True),
    "FALLBACK": ("not stored; the portal learned of it and sent the report by letter", True),
    "REJECTED": ("invalid input, refused with a reason the sender can read", True),
    "LOST": ("accepted, then neither stored nor sent by letter: lost", False),
    "DUPLICATED": ("stored more than once", False),
    "CORRUPTED": ("stored with content that differs from what was sent", False),
    "UNRESOLVED": ("not delivered nor sent by letter within the deadline", False),
    "PHANTOM": ("a stored record of a report that was never accepted", False),
}
VERDICT_WORDS = {"pass": "Pass", "fail": "Fail", "not-exercised": "Not exercised"}

CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;
max-width:60rem;margin:0 auto;padding:1.5rem}
h1{font-size:2.6rem;margin:.2rem 0}h2{margin-top:2.2rem;border-bottom:1px solid #ccc}
.banner{padding:1rem 1.4rem;border-radius:.5rem;border:2px solid}
.banner.pass{background:#e8f5e9;border-color:#2e7d32}.banner.fail{background:#fdecea;
border-color:#c62828}.kicker{margin:0;font-size:.95rem;color:#444}
table{border-collapse:collapse;width:100%;margin:.6rem 0}th,td{text-align:left;
vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #ddd}th{background:#f4f4f4}
td.id{white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}
.v-pass{color:#1b5e20;font-weight:600}.v-fail{color:#b71c1c;font-weight:700}
.v-not-exercised{color:#8a6d00;font-weight:600}.bad{color:#b71c1c}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}code,pre{font:13px/1.4 ui-monospace,Menlo,Consolas,monospace}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.6rem;overflow-x:auto;white-space:pre}
pre.cmd{white-space:pre-wrap;overflow-wrap:anywhere}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:.5rem .8rem}
@media print{pre{white-space:pre-wrap}.banner{break-inside:avoid}}
"""


def e(value: object) -> str:
    return escape(str(value), quote=True)


def _cmd(parts: list[str]) -> str:
    return " ".join(shlex.quote(p) for p in parts)


def rerun_command(report: Mapping[str, Any]) -> str:
    """The `harness run` command that reproduces this report's results."""
    parts = ["harness", "run"]
    if report["target"]["spec"] != REFERENCE_SPEC:
        parts += ["--target", report["target"]["spec"]]
    parts += ["--seed", str(report["seed"]), "--examples", str(report["examples"])]
    families = [f["family"] for f in report["families"]]
    if sorted(families) != sorted(FAMILIES):
        parts += ["--families", ",".join(families)]
    for key, value in report["target"]["options"].items():
        parts += ["--target-option", f"{key}={value}"]
    return _cmd(parts)


def replay_command(name: str, redacted: list[str]) -> str:
    parts = ["harness", "replay", name]
    for key in redacted:
        parts += ["--target-option", f"{key}=VALUE"]
    return _cmd(parts)


def timeline(text: str) -> list[str]:
    raw = json.loads(text)
    history = History.from_json(raw.get("history") or [])
    return render(history.events, check(history).violations)


def _verdict(report: Mapping[str, Any]) -> str:
    failed = [c for c in report["clauses"] if c["verdict"] == "fail"]
    total = len(report["clauses"])
    if not failed:
        head, text = "PASS", f"All {total} clauses of the contract held in every example."
    else:
        names = ", ".join(f"{c['id']} ({c.get('title', '')})" for c in failed)
        head, text = "FAIL", f"{len(failed)} of {total} clauses were violated: {names}."
    contract = report["contract"]
    partial = ""
    ran = [f["family"] for f in report["families"]]
    if sorted(ran) != sorted(FAMILIES):
        partial = (
            f'<p class="note">This is a partial (shard) report: it covers the clause families '
            f"{e(', '.join(ran))} only. Merge it with the other shards (<code>harness merge"
            "</code>) for the full report.</p>"
        )
    return (
        f'<header class="banner {e(report["verdict"])}"><p class="kicker">Conformance report · '
        f"contract {e(contract['name'])} {e(contract['version'])}</p>"
        f'<h1 id="verdict">{head}</h1><p>{e(text)}</p>'
        f"<p>Target: <code>{e(report['target']['spec'])}</code></p>"
        f"{_isolation(report)}</header>{partial}"
    )


def _isolation(report: Mapping[str, Any]) -> str:
    """How the adapter ran, said on the banner: a verdict the adapter's code could reach
    is for development only."""
    iso = report["isolation"]
    if iso["mode"] != "process":
        return (
            '<p id="isolation" class="note"><strong>Made in-process:</strong> the adapter ran '
            "inside the harness's own process, where its code could reach the checker, the "
            "report writer and the signing key. This verdict is for development, not for "
            "procurement.</p>"
        )
    user = " as a user of its own" if iso["separate_user"] else " (as the same user as the harness)"
    return (
        f'<p id="isolation">Made with process isolation: the adapter ran in processes of its '
        f"own{e(user)}, killed for real at every crash; its code could not reach the verdict."
        "</p>"
    )


def _facts(report: Mapping[str, Any]) -> str:
    sig = report.get("signature")
    signed = f"Ed25519, key <code>{e(sig['fingerprint'])}</code>" if sig else "not signed"
    options = report["target"]["options"]
    rows = [
        ("Target", f"<code>{e(report['target']['spec'])}</code>"),
        (
            "Target options",
            ", ".join(f"<code>{e(k)}={e(v)}</code>" for k, v in options.items()) or "none",
        ),
        (
            "Contract",
            f"{e(report['contract']['name'])} {e(report['contract']['version'])} "
            f"<code>{e(report['contract']['digest'])}</code>",
        ),
        ("Harness", e(report["harness_version"])),
        ("Seed", f"<code>{e(report['seed'])}</code>"),
        (
            "Examples",
            f"{e(report['examples'])} per clause family, {e(report['examples_run'])} "
            f"in all ({e(sum(f.get('swept', 0) for f in report['families']))} of them the "
            f"sweep's checklist), on {e(report['workers'])} worker(s)",
        ),
        ("Run", f"{e(report['started'])} to {e(report['finished'])}"),
        ("Report digest", f"<code>{e(report['digest'])}</code>"),
        ("Signature", signed),
    ]
    cells = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<section id="facts"><h2>What was tested</h2><dl>{cells}</dl></section>'


def _live(report: Mapping[str, Any]) -> str:
    """The black-box tier: what ran against what, and what such a run cannot show."""
    live = report.get("live")
    if not isinstance(live, Mapping):
        return ""
    faults = ", ".join(
        f"{e(f['kind'])} (report {e(f['report'])})" for f in live["plan"].get("faults", [])
    )
    rows = [
        ("Service command", f"<code>{e(live['service'])}</code>"),
        ("Broker", e(live["broker"])),
        ("Reconciliation", e(live["reconciliation"])),
        ("Mode", f"{e(live['mode'])}: one report in flight at a time"),
        ("Plan", f"{e(live['plan']['reports'])} reports; faults: {faults or 'none'}"),
        ("Service output", f"<code>{e(live.get('service_log', ''))}</code> beside this file"),
    ]
    cells = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    limits = "".join(f"<li>{e(text)}</li>" for text in live["limits"])
    notes = "".join(f"<li>{e(text)}</li>" for text in live.get("notes", []))
    return (
        '<section id="live"><h2>A real service, judged from outside</h2>'
        f"<dl>{cells}</dl><h3>What a black-box run cannot show</h3><ul>{limits}</ul>"
        + (f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "")
        + "</section>"
    )


def _clauses(report: Mapping[str, Any]) -> str:
    contract = load_contract()
    described = {c.id: c.description for c in (*contract.clauses, *contract.warnings)}
    rows = "".join(
        f'<tr id="{e(c["id"])}"><td class=id><b>{e(c["id"])}</b></td>'
        f"<td><b>{e(c.get('title', ''))}</b><br>{e(described.get(c['id'], ''))}</td>"
        f"<td>{e(c.get('severity', ''))}</td>"
        f'<td class="n">{e(c["examples"])}</td>'
        f'<td class="v-{e(c["verdict"])}">{VERDICT_WORDS.get(c["verdict"], e(c["verdict"]))}'
        "</td></tr>"
        for c in report["clauses"]
    )
    return (
        '<section id="clauses"><h2>The contract, clause by clause</h2>'
        "<table><thead><tr><th>Id</th><th>Clause</th><th>Severity</th><th>Examples</th>"
        f"<th>Result</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _outcomes(report: Mapping[str, Any]) -> str:
    counts = report["outcomes"]
    rows = "".join(
        f"<tr><td{'' if legal else ' class=bad'}><b>{e(name)}</b></td><td>{e(meaning)}</td>"
        f'<td class="n">{e(counts.get(name, 0))}</td></tr>'
        for name, (meaning, legal) in OUTCOMES.items()
    )
    warns = "".join(
        f"<tr><td>{e(w['id'])}</td><td>{e(w.get('title', ''))}: reported, not failing</td>"
        f'<td class="n">{e(w["count"])}</td></tr>'
        for w in report["warnings"]
    )
    return (
        '<section id="outcomes"><h2>What happened to the reports</h2><p>Every generated '
        "report must end STORED, FALLBACK or REJECTED; the other outcomes are violations.</p>"
        "<table><thead><tr><th>Outcome</th><th>Meaning</th><th>Reports</th></tr></thead>"
        f"<tbody>{rows}{warns}</tbody></table></section>"
    )


def _faults(report: Mapping[str, Any]) -> str:
    faults = report["faults"]
    hit = sum(1 for f in faults.values() if f["fired"])
    rows = "".join(
        f"<tr><td><code>{e(name)}</code></td>"
        f"<td>{e(POINTS[name].description if name in POINTS else '')}</td>"
        f'<td class="n">{e(f["reached"])}</td><td class="n">{e(f["fired"])}</td></tr>'
        for name, f in faults.items()
    )
    return (
        f'<section id="faults"><h2>Faults injected</h2><p>{hit} of {len(faults)} injection '
        "points fired. <i>Reached</i>: how often a run passed the point; <i>fired</i>: how "
        "often a fault was injected there.</p><table><thead><tr><th>Injection point</th>"
        "<th>What it simulates</th><th>Reached</th><th>Fired</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _counterexamples(report: Mapping[str, Any], files: Mapping[str, str]) -> str:
    shown = []
    for c in report["clauses"]:
        cx = c["counterexample"]
        if cx is None or cx["file"] in shown:
            continue
        shown.append(cx["file"])
    if not shown:
        return ""
    redacted = report["target"]["redacted_options"]
    parts = [
        '<section id="counterexamples"><h2>Counterexamples</h2>'
        "<p>The smallest run found that breaks each failing clause, event by event in "
        "simulated time; the lines marked <code>^^^</code> are where the contract broke."
        "</p>"
    ]
    for name in shown:
        raw = json.loads(files[name])
        how = "shrunk to its smallest form" if raw.get("shrunk") else "not shrunk"
        plan = raw["plan"]
        lines = timeline(files[name])
        parts.append(
            f"<h3>{e(', '.join(raw['clauses']))} · {e(raw['family'])} family</h3>"
            f"<p>{len(plan['reports'])} report(s), {len(plan['faults'])} fault(s), {how}. "
            f"File <code>{e(name)}</code>; replay it with "
            f"<code>{e(replay_command(name, redacted))}</code></p>"
            f"<pre>{e(chr(10).join(lines))}</pre>"
        )
    parts.append("</section>")
    return "".join(parts)


def _reproduce(report: Mapping[str, Any]) -> str:
    note = ""
    if report["target"]["redacted_options"]:
        note = (
            "<p>Values shown as <code>***</code> were redacted and are not in the report; "
            "give them again when you rerun.</p>"
        )
    verify = "harness verify report.json" + (
        " --public-key VENDOR-PUBLIC-KEY.pem" if report.get("signature") else ""
    )
    return (
        '<section id="reproduce"><h2>Reproduce and verify</h2>'
        f"<p>The same seed gives the same results. Rerun with:</p>"
        f'<pre class="cmd">{e(rerun_command(report))}</pre>{note}'
        "<p>Check that report.json is intact (and, when signed, who signed it):</p>"
        f'<pre class="cmd">{e(verify)}</pre></section>'
    )


def _footer(report: Mapping[str, Any]) -> str:
    env = report["environment"]
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items())
    return (
        f"<footer><h2>Environment</h2><p>Python {e(env['python'])} on {e(env['platform'])}; "
        f"{e(packages)}.</p></footer>"
    )


def render_html(report: Mapping[str, Any], files: Mapping[str, str]) -> str:
    title = f"{report['verdict'].upper()}: conformance report for {report['target']['spec']}"
    body = "".join(
        [
            _verdict(report),
            _facts(report),
            _live(report),
            _clauses(report),
            _outcomes(report),
            _faults(report),
            _counterexamples(report, files),
            _reproduce(report),
            _footer(report),
        ]
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head>\n<body>{body}</body></html>\n"
    )
