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
from harness.report.sequence import svg as sequence_svg
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
.summary{font-size:1.3rem;font-weight:600;margin:.4rem 0 .6rem}
.bar{display:flex;height:2.4rem;border-radius:.4rem;overflow:hidden;margin:.8rem 0 .4rem;
border:1px solid #cfd8dc}.bar span{display:block;min-width:4px}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;margin:.2rem 0 1rem;padding:0;list-style:none}
.legend li{display:flex;align-items:center;gap:.4rem}.sw{width:1rem;height:1rem;border-radius:.2rem;
display:inline-block;border:1px solid}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(13.5rem,1fr));
gap:.4rem;margin:.6rem 0}.tile{border-radius:.4rem;padding:.4rem .6rem;font-size:.85rem;
line-height:1.3;border:1px solid #cfd8dc}
.tile b{display:block;font-size:.95rem;overflow-wrap:anywhere}
.t-fired{background:#e8f5e9;border-color:#66bb6a}.t-reached{background:#fff8e1;border-color:#ffca28}
.t-missed{background:#fbe9e7;border-color:#ff8a65}.t-na{background:#f5f5f5;color:#757575}
.na{color:#757575;font-style:italic}svg.sequence{display:block;max-width:100%;height:auto;
margin:.6rem 0 1rem;background:#fcfcfc;border:1px solid #e0e0e0;border-radius:.4rem}
details{margin:.4rem 0 1.4rem}summary{cursor:pointer;color:#37474f}
ul.files{padding-left:1.2rem}ul.files li{overflow-wrap:anywhere}
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
    scenarios = [s["name"] for s in report.get("scenarios", [])]
    for name in scenarios:  # a scenario run is rerun by its scenarios, not by families
        parts += ["--scenario", name]
    if not scenarios:
        parts += ["--seed", str(report["seed"]), "--examples", str(report["examples"])]
    families = [f["family"] for f in report["families"]]
    if not scenarios and sorted(families) != sorted(FAMILIES):
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
    history, violations = _history(text)
    return render(history.events, violations)


OUTCOME_COLOURS = {
    "STORED": "#2e7d32",
    "FALLBACK": "#1976d2",
    "REJECTED": "#90a4ae",
    "LOST": "#b71c1c",
    "DUPLICATED": "#e65100",
    "CORRUPTED": "#ad1457",
    "UNRESOLVED": "#6d4c41",
    "PHANTOM": "#4a148c",
}
# What a broken clause means, in words a procurement officer can repeat; {n} is the
# count of reports with the clause's outcome, {total} of all reports.
BROKEN = {
    "SOR-1": ("LOST", "{n} of {total} reports {were} lost: the case system said “received” and "
              "did not store {them}"),
    "SOR-2": (None, "the case system said “received” before a report was safely stored, so "
              "a crash at that moment loses it"),
    "SOR-4": ("CORRUPTED", "{n} of {total} reports {were} stored with content that differs "
              "from what was sent"),
    "SOR-3": ("DUPLICATED", "{n} of {total} reports {were} stored more than once"),
    "SOR-5": (None, "the case system failed to store reports without saying so, and the "
              "portal found out only from its own deadline, days later"),
    "SOR-6": (None, "invalid or damaged reports were not refused properly: they were stored, "
              "dropped without a reason, or crashed the case system"),
    "SOR-7": ("UNRESOLVED", "{n} of {total} reports {were} neither stored nor sent by letter "
              "in time"),
    "SOR-8": ("PHANTOM", "{n} record{s} appeared in the case system for reports nobody sent"),
}  # fmt: skip


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


def summary_sentence(report: Mapping[str, Any]) -> str:
    """One sentence that says what the run found, for a reader who reads nothing else."""
    outcomes = report["outcomes"]
    total = sum(outcomes.values())
    failed = [c for c in report["clauses"] if c["verdict"] == "fail"]
    if failed:
        ranked = sorted(
            failed, key=lambda c: list(BROKEN).index(c["id"]) if c["id"] in BROKEN else len(BROKEN)
        )
        first = ranked[0]
        outcome, text = BROKEN.get(first["id"], (None, ""))
        n = outcomes.get(outcome, 0) if outcome else 0
        if not text or (outcome and not n):
            text = f"the contract's clause {first['id']} ({first.get('title', '')}) was broken"
        one = n == 1
        sentence = text.format(
            n=f"{n:,}",
            total=f"{total:,}",
            were="was" if one else "were",
            them="it" if one else "them",
            s="" if one else "s",
        )
        others = [c["id"] for c in ranked[1:]]
        if others:
            more = f"{len(others)} more clause{'s' * (len(others) != 1)}"
            sentence += f"; {more} broke too ({', '.join(others)})"
        return sentence[0].upper() + sentence[1:] + "."
    unmet = [p for sc in report.get("scenarios", []) for p in sc["problems"]]
    if unmet:
        return f"The run did not meet what its scenario expects: {unmet[0]}."
    words = {"STORED": "stored", "FALLBACK": "sent by letter", "REJECTED": "refused with a reason"}
    legal = [f"{outcomes[k]:,} {w}" for k, w in words.items() if outcomes.get(k)]
    fired = [f for f in report["faults"].values() if f["fired"]]
    sentence = (
        f"All {total:,} reports in {_count(report['examples_run'], 'simulated run')} ended "
        f"safely ({', '.join(legal)}), with {_count(sum(f['fired'] for f in fired), 'fault')} "
        f"of {_count(len(fired), 'kind')} injected"
    )
    missing = [c["id"] for c in report["clauses"] if c["verdict"] == "not-exercised"]
    if missing:
        sentence += f"; {', '.join(missing)} could not be tested by this run"
    return sentence + "."


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
    if sorted(ran) != sorted(FAMILIES) and not report.get("scenarios"):
        partial = (
            f'<p class="note">This is a partial (shard) report: it covers the clause families '
            f"{e(', '.join(ran))} only. Merge it with the other shards (<code>harness merge"
            "</code>) for the full report.</p>"
        )
    return (
        f'<header class="banner {e(report["verdict"])}"><p class="kicker">Conformance report · '
        f"contract {e(contract['name'])} {e(contract['version'])}</p>"
        f'<h1 id="verdict">{head}</h1><p id="summary" class="summary">'
        f"{e(summary_sentence(report))}</p><p>{e(text)}</p>"
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


def adapter_words(adapter: Mapping[str, Any] | None) -> str:
    """Which code the verdict is about: file, SHA-256, package version, commit."""
    if not adapter:
        return "not recorded"
    parts = []
    if adapter.get("file"):
        parts.append(f"file <code>{e(adapter['file'])}</code>")
    if adapter.get("sha256"):
        parts.append(f"SHA-256 <code>{e(adapter['sha256'].removeprefix('sha256:'))}</code>")
    if adapter.get("package"):
        parts.append(f"package {e(adapter['package']['name'])} {e(adapter['package']['version'])}")
    vcs = adapter.get("vcs")
    if vcs:
        changed = ", <b>with changes not committed</b>" if vcs["modified"] else ""
        parts.append(f"git commit <code>{e(vcs['commit'][:12])}</code>{changed}")
    return "; ".join(parts) or "not found"


def _facts(report: Mapping[str, Any]) -> str:
    sig = report.get("signature")
    signed = f"Ed25519, key <code>{e(sig['fingerprint'])}</code>" if sig else "not signed"
    options = report["target"]["options"]
    rows = [
        ("Target", f"<code>{e(report['target']['spec'])}</code>"),
        ("Adapter", adapter_words(report["target"].get("adapter"))),
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


def outcome_bar(counts: Mapping[str, int]) -> str:
    """Every report as a share of one bar, coloured by how it ended, with a legend."""
    total = sum(counts.values())
    if not total:
        return '<p class="note">No report was generated.</p>'
    spans, legend = [], []
    for name in OUTCOMES:
        n = counts.get(name, 0)
        if not n:
            continue
        colour = OUTCOME_COLOURS[name]
        share = 100 * n / total
        spans.append(
            f'<span style="width:{share:.2f}%;background:{colour}" title="{e(name)}: {n}"></span>'
        )
        legend.append(
            f'<li><span class="sw" style="background:{colour}"></span><b>{e(name)}</b> '
            f"{n:,} ({share:.0f}%)</li>"
        )
    label = ", ".join(f"{name} {counts[name]}" for name in OUTCOMES if counts.get(name))
    return (
        f'<div class="bar" role="img" aria-label="{e(label)}">{"".join(spans)}</div>'
        f'<ul class="legend">{"".join(legend)}</ul>'
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
        f"{outcome_bar(counts)}"
        "<table><thead><tr><th>Outcome</th><th>Meaning</th><th>Reports</th></tr></thead>"
        f"<tbody>{rows}{warns}</tbody></table></section>"
    )


def uses_http(report: Mapping[str, Any]) -> bool:
    """Whether the adapter made any HTTP call: each call passes an HTTP injection point."""
    return any(f["reached"] for name, f in report["faults"].items() if name.startswith("http."))


def _coverage(name: str, f: Mapping[str, int], http: bool) -> tuple[str, str]:
    """(css class, plain words) of one injection point's coverage."""
    if name.startswith("http.") and not http:
        return "t-na", "not applicable: the adapter uses no HTTP"
    if f["fired"]:
        return "t-fired", f"injected {f['fired']:,} time{'s' * (f['fired'] != 1)}"
    if f["reached"]:
        return "t-reached", f"reached {f['reached']:,} times, never injected"
    return "t-missed", "never reached: not tested"


GROUPS = (
    ("storage.", "Storage (the adapter's database)"),
    ("transport.", "Transport (messages in Fiks IO)"),
    ("case_system.", "Crashes and clock of the case system"),
    ("http.", "HTTP calls (send API, document store)"),
)


def _what(name: str) -> str:
    return POINTS[name].description if name in POINTS else name


def fault_tiles(report: Mapping[str, Any]) -> str:
    """Every injection point as a tile, grouped: green injected, amber reached only,
    red never reached, grey not applicable."""
    http = uses_http(report)
    faults = report["faults"]
    out = []
    out.append(
        '<ul class="legend"><li><span class="sw t-fired"></span>injected</li>'
        '<li><span class="sw t-reached"></span>reached, never injected</li>'
        '<li><span class="sw t-missed"></span>never reached: not tested</li>'
        + ('<li><span class="sw t-na"></span>not applicable</li>' if not http else "")
        + "</ul>"
    )
    for prefix, title in GROUPS:
        names = [n for n in faults if n.startswith(prefix)]
        if not names:
            continue
        if prefix == "http." and not http:
            out.append(
                f'<h3>{e(title)}</h3><div class="tiles"><div class="tile t-na"><b>'
                f"{len(names)} HTTP injection points</b>not applicable: the adapter makes no "
                "HTTP call</div></div>"
            )
            continue
        tiles = "".join(
            f'<div class="tile {cls}" title="{e(_what(name))}">'
            f"<b>{e(name.removeprefix(prefix))}</b>{e(words)}</div>"
            for name in names
            for cls, words in [_coverage(name, faults[name], http)]
        )
        out.append(f'<h3>{e(title)}</h3><div class="tiles">{tiles}</div>')
    return "".join(out)


def _faults(report: Mapping[str, Any]) -> str:
    faults = report["faults"]
    http = uses_http(report)
    applicable = {n: f for n, f in faults.items() if http or not n.startswith("http.")}
    hit = sum(1 for f in applicable.values() if f["fired"])
    na = len(faults) - len(applicable)

    def cells(name: str, f: Mapping[str, int]) -> str:
        if name in applicable:
            return f'<td class="n">{e(f["reached"])}</td><td class="n">{e(f["fired"])}</td>'
        return '<td colspan="2" class="na">not applicable</td>'

    rows = "".join(
        f"<tr><td><code>{e(name)}</code></td>"
        f"<td>{e(POINTS[name].description if name in POINTS else '')}</td>{cells(name, f)}</tr>"
        for name, f in faults.items()
    )
    not_applicable = (
        f" The {na} HTTP points are not applicable: this adapter makes no HTTP call." if na else ""
    )
    return (
        f'<section id="faults"><h2>Faults injected</h2><p>Faults fired at {hit} of '
        f"{len(applicable)} injection points that apply to this adapter.{not_applicable} "
        "<i>Reached</i>: how often a run passed the point; <i>fired</i>: how often a fault "
        f"was injected there.</p>{fault_tiles(report)}<table><thead><tr><th>Injection point"
        "</th><th>What it simulates</th><th>Reached</th><th>Fired</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _history(text: str) -> tuple[History, list[Any]]:
    raw = json.loads(text)
    history = History.from_json(raw.get("history") or [])
    return history, check(history).violations


def _roles(report: Mapping[str, Any]) -> dict[str, list[str]]:
    """Counterexample file -> what it is the counterexample of."""
    roles: dict[str, list[str]] = {name: [] for name in report["files"]}
    unshrunk: dict[str, list[str]] = {}
    for fam in report["families"]:
        if fam["counterexample"]:
            roles.setdefault(fam["counterexample"], []).append(f"the {fam['family']} search's")
        for clause, name in fam["also_failed"].items():
            unshrunk.setdefault(name, []).append(clause)
    for name, clauses in unshrunk.items():
        roles.setdefault(name, []).append(
            f"the smallest unshrunk example breaking {', '.join(dict.fromkeys(clauses))}"
        )
    return roles


def _file_list(report: Mapping[str, Any]) -> str:
    redacted = report["target"]["redacted_options"]
    items = "".join(
        f"<li><code>{e(name)}</code>: {e('; '.join(dict.fromkeys(roles)) or 'counterexample')}"
        f" · replay: <code>{e(replay_command(name, redacted))}</code></li>"
        for name, roles in sorted(_roles(report).items())
    )
    return (
        f'<h3 id="files">Counterexample files ({len(report["files"])})</h3>'
        "<p>Every file beside this report; each replays exactly with the command shown.</p>"
        f'<ul class="files">{items}</ul>'
    )


def _counterexamples(report: Mapping[str, Any], files: Mapping[str, str]) -> str:
    shown = []
    for c in report["clauses"]:
        cx = c["counterexample"]
        if cx is None or cx["file"] in shown:
            continue
        shown.append(cx["file"])
    if not shown and not report["files"]:
        return ""
    redacted = report["target"]["redacted_options"]
    parts = [
        '<section id="counterexamples"><h2>Counterexamples</h2>'
        "<p>The smallest run found that breaks each failing clause, drawn as a sequence: "
        "the portal, the transport and the case system side by side, simulated time running "
        "down the page, an arrow for every message. A red band marks where the contract "
        "broke; red marks are faults the harness injected.</p>"
    ]
    for name in shown:
        if name not in files:
            parts.append(f'<p class="note">File <code>{e(name)}</code> is missing.</p>')
            continue
        raw = json.loads(files[name])
        how = "shrunk to its smallest form" if raw.get("shrunk") else "not shrunk"
        plan = raw["plan"]
        history, violations = _history(files[name])
        title = f"{', '.join(raw['clauses'])} · {raw['family']} family"
        n_rep, n_fault = len(plan["reports"]), len(plan["faults"]) + len(plan.get("windows", []))
        lines = render(history.events, violations)
        parts.append(
            f'<h3 class="cx">{e(title)}</h3>'
            f"<p>{_count(n_rep, 'report')}, {_count(n_fault, 'fault')}, {how}. "
            f"File <code>{e(name)}</code>; replay it with "
            f"<code>{e(replay_command(name, redacted))}</code></p>"
            f"{sequence_svg(history.events, violations, title)}"
            f"<details><summary>The same run as an event log</summary>"
            f"<pre>{e(chr(10).join(lines))}</pre></details>"
        )
    parts.append(_file_list(report))
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
