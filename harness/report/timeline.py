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


def focus(
    events: list[Event], violations: list[Violation], most_reports: int | None = 3
) -> tuple[list[Event], list[Violation], str | None]:
    """The events worth showing: all of them, or, for a run of more reports than
    `most_reports` (a scenario's, say), the first violated report's, with a note on
    how much was left out. Violations' event indexes point into the events returned."""
    labels = _labels(events)
    if most_reports is None or len(labels) <= most_reports or not violations:
        return events, violations, None
    key = violations[0].key
    picked = [i for i, e in enumerate(events) if e.report in (key, None)]
    moved = {old: new for new, old in enumerate(picked)}  # marks point into the full list
    kept = [
        replace(v, event=moved.get(v.event) if v.event is not None else None)
        for v in violations
        if v.key == key
    ]
    others = len({v.key for v in violations} - {key})
    note = (
        f"only {labels.get(key or '', 'one report')} of {len(labels)} reports shown; "
        f"{others} other report(s) broke the contract too"
    )
    return [events[i] for i in picked], kept, note


def marks(events: list[Event], violations: list[Violation]) -> dict[int, list[Violation]]:
    """Event index -> the violations to show after it. A violation no single event shows
    is marked at its report's last event before it."""
    out: dict[int, list[Violation]] = {}
    for v in violations:
        at = v.event
        if at is None:
            at = max(
                (
                    i
                    for i, e in enumerate(events)
                    if e.t <= v.t and (v.key is None or e.report == v.key)
                ),
                default=len(events) - 1,
            )
        out.setdefault(at, []).append(v)
    return out


def render(
    events: list[Event], violations: list[Violation], most_reports: int | None = 3
) -> list[str]:
    """Lines of `time  component  report  event`, with the line where the contract broke marked.

    With `most_reports`, a run of more reports than that (a scenario's, say) shows
    only the first violated report's events, and says how much it left out.
    """
    labels = _labels(events)
    shown, kept, note = focus(events, violations, most_reports)
    marked = marks(shown, kept)
    lines = []
    for i, e in enumerate(shown):
        if (e.component, e.kind) in _QUIET and i not in marked:
            continue
        who = labels.get(e.report or "", (e.report or "")[:8])
        lines.append(f"{fmt_t(e.t):>16}  {e.component:<11}  {who:<9}  {_describe(e)}")
        for v in marked.get(i, []):
            lines.append(f"{'':>16}  {'^^^':<11}  {v.clause:<9}  {v.message}")
    if note is not None:
        lines.append(f"{'':>16}  ({note})")
    return lines
