"""A counterexample as a timeline a person reads in one glance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from harness.checker.clauses import Violation, fmt_t
from harness.core.history import Event

_QUIET = {("portal", "state"), ("transport", "queue"), ("transport", "route_reply")}


def _short(value: object) -> str:
    text = str(value)
    for prefix in ("no.ks.fiks.bekymringsmelding.", "no.ks.fiks.kvittering."):
        text = text.removeprefix(prefix)
    return text


def _labels(events: Iterable[Event]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for e in events:
        if e.report and "submission" in e.data:
            labels[e.report] = f"#{e.data['submission']}"
    return labels


def _describe(e: Event) -> str:
    skip = {"digest", "melding_id", "svar_til", "files", "submission", "duplicate"}
    parts = [
        f"{k}={_short(v)}"
        for k, v in sorted(e.data.items())
        # flags that are usually off show only when on; `durable` always matters
        if k not in skip and v is not None and (v is not False or k in ("durable", "answered"))
    ]
    return " ".join([e.kind, *parts])


def render(
    events: list[Event], violations: list[Violation], most_reports: int | None = 3
) -> list[str]:
    """Lines of `time  component  report  event`, with the line where the contract broke marked.

    With `most_reports`, a run of more reports than that (a scenario's, say) shows
    only the first violated report's events, and says how much it left out.
    """
    labels = _labels(events)
    if most_reports is not None and len(labels) > most_reports and violations:
        focus = violations[0].key
        picked = [i for i, e in enumerate(events) if e.report in (focus, None)]
        moved = {old: new for new, old in enumerate(picked)}  # marks point into the full list
        kept = [
            replace(v, event=moved.get(v.event) if v.event is not None else None)
            for v in violations
            if v.key == focus
        ]
        shown = render([events[i] for i in picked], kept, None)
        others = len({v.key for v in violations} - {focus})
        return [
            *shown,
            f"{'':>16}  (only {labels.get(focus or '', 'one report')} of "
            f"{len(labels)} reports shown; {others} other report(s) broke "
            "the contract too)",
        ]
    marks: dict[int, list[Violation]] = {}
    for v in violations:
        at = v.event
        if at is None:  # no single event shows it: mark the report's last event before then
            at = max(
                (
                    i
                    for i, e in enumerate(events)
                    if e.t <= v.t and (v.key is None or e.report == v.key)
                ),
                default=len(events) - 1,
            )
        marks.setdefault(at, []).append(v)
    lines = []
    for i, e in enumerate(events):
        if (e.component, e.kind) in _QUIET and i not in marks:
            continue
        who = labels.get(e.report or "", (e.report or "")[:8])
        lines.append(f"{fmt_t(e.t):>16}  {e.component:<11}  {who:<9}  {_describe(e)}")
        for v in marks.get(i, []):
            lines.append(f"{'':>16}  {'^^^':<11}  {v.clause:<9}  {v.message}")
    return lines
