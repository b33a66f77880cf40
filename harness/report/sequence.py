"""A counterexample as a sequence picture: portal, transport and case system as lanes,
simulated time down the page, an arrow for every message, a red band where the
contract broke. Inline SVG, so report.html stays one file that loads nothing.

Each event of the history becomes at most one row, said in plain words; the
bookkeeping events (queueing, routing) are left out unless the contract broke
there. Long quiet stretches of simulated time are shown as a gap ("6 h later"),
not to scale, so a picture of two days is still one screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from harness.checker.clauses import Violation
from harness.core.faults import POINTS
from harness.core.history import Event
from harness.report.timeline import _QUIET, _labels, _short, focus, marks

LANES = ("portal", "transport", "case_system")
LANE_TITLE = {
    "portal": ("Portal", "where the report is sent"),
    "transport": ("Transport", "Fiks IO, the message queue"),
    "case_system": ("Case system", "the vendor's adapter"),
}
HOME = {"storage": "case_system", "http": "case_system", "harness": None}  # others: their own

WIDTH, TIME_W, ROW, HEAD, GAP_ROW = 900, 120, 30, 64, 26
LANE_X = {"portal": 250, "transport": 520, "case_system": 790}
INK, FAULT, GOOD, MUTED = "#263238", "#c62828", "#2e7d32", "#607d8b"
LANE_INK = {"portal": "#1565c0", "transport": "#6a1b9a", "case_system": "#00695c"}
POINT_ROOM = {"portal": 84, "transport": 48, "case_system": 84}  # characters beside a lane
GAP_MS = 60 * 60 * 1000  # a quiet stretch longer than an hour is drawn as a gap

REPLY = {"mottatt.v1": "“received” (mottatt)", "feilet.v1": "“failed” (feilet)"}
STATES: dict[tuple[object, object], tuple[str, str]] = {
    ("LEVERT", "fagsystem"): ("closes it: delivered to the case system", GOOD),
    ("SENDT_PRINT", None): ("sends it by paper letter instead", INK),
    ("LEVERT", "print"): ("closes it: delivered by letter", GOOD),
    ("AVVIST_PRINT", None): ("the letter failed too: a person must follow up", FAULT),
}


@dataclass(frozen=True)
class Row:
    kind: str  # arrow | point | band | gap | end
    text: str
    t: int = 0
    src: str | None = None
    dst: str | None = None
    colour: str = INK
    dashed: bool = False


def e(value: object) -> str:
    return escape(str(value), quote=True)


def plain_time(ms: int) -> str:
    """Simulated time since the start, as a person says it."""
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:g} s"
    minutes = ms // 60_000
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} days" + (f" {hours} h" if hours else "")


def _fault(name: object) -> str:
    """A fault in a few words: its description up to the first pause."""
    point = POINTS.get(str(name))
    if point is None:
        return str(name)
    text = point.description
    for stop in (",", ";", ":", " ("):
        text = text.split(stop)[0]
    return text


def _kind(value: object) -> str:
    short = _short(value)
    return REPLY.get(short, f"“{short}”")


def _row(ev: Event, who: str, restarted: bool) -> Row | None:
    """One event in plain words, or None for one not worth a row."""
    d: Mapping[str, Any] = ev.data
    c, k = ev.component, ev.kind
    if c == "portal":
        if k == "accept":
            return Row("point", f"accepts report {who} from the sender", ev.t, "portal")
        if k == "send":
            again = f" again (attempt {d['attempt']})" if d.get("attempt", 1) > 1 else ""
            return Row("arrow", f"sends report {who}{again}", ev.t, "portal", "transport")
        if k == "receipt":
            return Row(
                "arrow", f"passes on {_kind(d.get('meldingstype'))}", ev.t, "transport", "portal"
            )
        if k == "state":
            said = STATES.get((d.get("state"), d.get("via"))) or STATES.get((d.get("state"), None))
            return Row("point", said[0], ev.t, "portal", colour=said[1]) if said else None
        if k == "fallback":
            return Row(
                "point", f"falls back to a paper letter ({d.get('trigger')})", ev.t, "portal"
            )
        if k == "deadline":
            return Row(
                "point", "its own deadline passes: no answer came", ev.t, "portal", colour=FAULT
            )
    if c == "transport":
        if k == "deliver":
            how = [
                "damaged in transit" if d.get("malformed") else "",
                "again (redelivery)" if d.get("redelivered") else "",
                "a second time (duplicate)" if d.get("duplicate") else "",
            ]
            extra = ", ".join(h for h in how if h)
            text = f"delivers report {who}" + (f", {extra}" if extra else "")
            bad = bool(d.get("malformed"))
            return Row("arrow", text, ev.t, "transport", "case_system", FAULT if bad else INK)
        if k in ("drop", "fault"):
            return Row("point", f"fault: {_fault(d.get('fault'))}", ev.t, "transport", colour=FAULT)
        if k == "dead_letter":
            text = f"gives up after {d.get('deliveries')} deliveries (dead letter)"
            return Row("point", text, ev.t, "transport", colour=FAULT)
        if k == "expire":
            return Row("point", "the message expires in the queue", ev.t, "transport", colour=FAULT)
        if k == "requeue":
            return Row("point", "puts the message back in the queue", ev.t, "transport")
        if k == "ack_ignored":
            return Row("point", "the acknowledgement is lost", ev.t, "transport", colour=FAULT)
        return None
    if c == "case_system":
        if k == "start":
            return (
                Row("point", "starts again after the crash", ev.t, "case_system")
                if restarted
                else None
            )
        if k == "reply":
            unsafe = d.get("meldingstype", "").endswith("mottatt.v1") and d.get("durable") is False
            text = f"replies {_kind(d.get('meldingstype'))}" + (
                " while nothing is stored" if unsafe else ""
            )
            return Row("arrow", text, ev.t, "case_system", "transport", FAULT if unsafe else INK)
        if k == "ack":
            return Row("arrow", "acknowledges the message", ev.t, "case_system", "transport", MUTED)
        if k == "nack":
            return Row(
                "arrow", "rejects the message (nack)", ev.t, "case_system", "transport", MUTED
            )
        if k == "nack_with_requeue":
            return Row(
                "arrow", "hands the message back (requeue)", ev.t, "case_system", "transport", MUTED
            )
        if k == "crash":
            return Row(
                "point", f"crashes ({d.get('cause') or 'fault'})", ev.t, "case_system", colour=FAULT
            )
        if k == "handle":
            return None
    if c == "storage":
        if k == "commit":
            return Row("point", f"stores report {who} (commit)", ev.t, "case_system", colour=GOOD)
        if k == "fault":
            return Row(
                "point", f"fault: {_fault(d.get('fault'))}", ev.t, "case_system", colour=FAULT
            )
    if c == "http":
        status = d.get("status") or d.get("error") or ""
        text = f"HTTP {d.get('method', '')} {d.get('server', '')} → {status}".strip()
        bad = bool(d.get("fault")) or bool(d.get("error"))
        return Row("arrow", text, ev.t, "case_system", "transport", FAULT if bad else MUTED, bad)
    if c == "harness":
        if k == "end":
            return Row("end", f"end of the run, {plain_time(ev.t)} after the start", ev.t)
        if k == "record":
            return Row("end", f"the case system holds a record of report {who}", ev.t)
        return Row("end", f"{k.replace('_', ' ')}", ev.t)
    lane = HOME.get(c, c if c in LANE_X else "case_system")
    return Row("point", f"{c} {k}", ev.t, lane)


def rows(events: list[Event], violations: list[Violation]) -> tuple[list[Row], str | None]:
    """The picture's rows, top to bottom, and a note on what was left out."""
    shown, kept, note = focus(events, violations)
    labels = _labels(shown)
    marked = marks(shown, kept)
    out: list[Row] = []
    crashed, last_t = False, 0
    for i, ev in enumerate(shown):
        who = labels.get(ev.report or "", "")
        row = _row(ev, who, crashed)
        crashed = crashed or (ev.component, ev.kind) == ("case_system", "crash")
        if (
            row is None
            and i in marked
            and (ev.component, ev.kind) in _QUIET | {("case_system", "handle")}
        ):
            row = Row(
                "point", f"{ev.component} {ev.kind}", ev.t, HOME.get(ev.component, ev.component)
            )
        if row is not None:
            if out and ev.t - last_t > GAP_MS:
                out.append(Row("gap", f"{plain_time(ev.t - last_t)} later", ev.t))
            out.append(row)
            last_t = ev.t
        for v in marked.get(i, []):
            out.append(Row("band", f"{v.clause} broken: {v.message.replace('`', '')}", ev.t))
    return out, note


def _text(x: float, y: float, text: str, *, anchor: str = "start", colour: str = INK,
          size: int = 13, weight: str = "normal", most: int = 0) -> str:  # fmt: skip
    """A label; one longer than `most` characters is cut, and says all of it on hover."""
    cut = most and len(text) > most
    shown = text[: most - 1] + "…" if cut else text
    hover = f"<title>{e(text)}</title>" if cut else ""
    return (
        f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" fill="{colour}" '
        f'font-size="{size}" font-weight="{weight}">{hover}{e(shown)}</text>'
    )


def svg(events: list[Event], violations: list[Violation], title: str) -> str:
    """The whole picture as one <svg> element."""
    body, note = rows(events, violations)
    heights = [GAP_ROW if r.kind == "gap" else ROW + (8 if r.kind == "band" else 0) for r in body]
    height = HEAD + sum(heights) + 24
    parts = [
        f'<svg class="sequence" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'font-family="system-ui, sans-serif"><title>{e(title)}</title>',
        _text(12, 24, "simulated time", colour=MUTED, size=12),
    ]
    for lane in LANES:
        x, (name, what) = LANE_X[lane], LANE_TITLE[lane]
        parts += [
            f'<rect x="{x - 95}" y="6" width="190" height="44" rx="8" fill="#fff" '
            f'stroke="{LANE_INK[lane]}" stroke-width="2"/>',
            _text(x, 25, name, anchor="middle", colour=LANE_INK[lane], size=15, weight="bold"),
            _text(x, 42, what, anchor="middle", colour=MUTED, size=11),
            f'<line x1="{x}" y1="50" x2="{x}" y2="{height - 10}" stroke="{LANE_INK[lane]}" '
            f'stroke-opacity=".35" stroke-width="2" stroke-dasharray="4 4"/>',
        ]
    y = HEAD
    for row, h in zip(body, heights, strict=True):
        mid = y + h / 2
        if row.kind != "gap":
            parts.append(_text(12, mid + 4, plain_time(row.t), colour=MUTED, size=12))
        if row.kind == "arrow" and row.src and row.dst:
            x1, x2 = LANE_X[row.src], LANE_X[row.dst]
            dash = ' stroke-dasharray="6 4"' if row.dashed else ""
            way = 1 if x2 > x1 else -1
            tip, line_y = x2 - way * 7, mid + 6
            parts += [
                f'<line x1="{x1 + way * 6}" y1="{line_y}" x2="{tip - way * 8}" y2="{line_y}" '
                f'stroke="{row.colour}" stroke-width="2"{dash}/>',
                f'<path d="M{tip},{line_y} l{-way * 11},-5 v10 z" fill="{row.colour}"/>',
                _text(
                    (x1 + x2) / 2,
                    mid,
                    row.text,
                    anchor="middle",
                    colour=row.colour,
                    weight="bold" if row.colour == FAULT else "normal",
                    most=60,
                ),
            ]
        elif row.kind == "point" and row.src:
            x = LANE_X[row.src]
            right = row.src != "case_system"
            parts += [
                f'<circle cx="{x}" cy="{mid}" r="6" fill="{row.colour}"/>',
                _text(
                    x + (12 if right else -12),
                    mid + 4,
                    row.text,
                    anchor="start" if right else "end",
                    colour=row.colour,
                    weight="bold" if row.colour == FAULT else "normal",
                    most=POINT_ROOM[row.src],
                ),
            ]
        elif row.kind == "band":
            parts += [
                f'<rect x="{TIME_W}" y="{y + 3}" width="{WIDTH - TIME_W - 6}" height="{h - 6}" '
                f'rx="6" fill="#fdecea" stroke="{FAULT}" stroke-width="1.5"/>',
                _text(
                    TIME_W + 12,
                    mid + 5,
                    "✗ " + row.text,
                    colour=FAULT,
                    size=14,
                    weight="bold",
                    most=92,
                ),
            ]
        elif row.kind == "gap":
            parts += [
                f'<line x1="{TIME_W}" y1="{mid}" x2="{WIDTH - 6}" y2="{mid}" stroke="{MUTED}" '
                f'stroke-dasharray="2 5"/>',
                f'<rect x="{WIDTH / 2 - 70}" y="{mid - 10}" width="140" height="20" rx="10" '
                f'fill="#eceff1"/>',
                _text(WIDTH / 2, mid + 4, f"⋯ {row.text}", anchor="middle", colour=MUTED, size=12),
            ]
        elif row.kind == "end":
            parts += [
                f'<line x1="{TIME_W}" y1="{mid}" x2="{WIDTH - 6}" y2="{mid}" stroke="#b0bec5"/>',
                f'<rect x="{WIDTH / 2 - 200}" y="{y + 4}" width="400" height="{h - 8}" rx="6" '
                f'fill="#fff" stroke="#b0bec5"/>',
                _text(WIDTH / 2, mid + 4, row.text, anchor="middle", size=12, most=60),
            ]
        y += h
    parts.append("</svg>")
    picture = "".join(parts)
    if note:
        picture += f'<p class="note">In the picture: {e(note)}.</p>'
    return picture
