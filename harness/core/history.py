"""The history of a run: every step is an event. The checker reads nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

# Components that appear in a history.
PORTAL = "portal"
TRANSPORT = "transport"
CASE_SYSTEM = "case_system"
STORAGE = "storage"
FAULT = "fault"
HARNESS = "harness"
HTTP = "http"  # requests an adapter made to the simulated HTTP APIs


_NO_DATA: Mapping[str, Any] = MappingProxyType({})


class Event(NamedTuple):
    """A tuple, not a dataclass: a run makes about 15 a report, and a tuple is built
    in a third of the time."""

    t: int  # virtual milliseconds
    component: str
    kind: str
    report: str | None = None  # bekymringsmelding-id, or "submission-N" before one is assigned
    data: Mapping[str, Any] = _NO_DATA

    def to_json(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "component": self.component,
            "kind": self.kind,
            "report": self.report,
            "data": dict(self.data),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Event:
        return cls(
            int(raw["t"]),
            str(raw["component"]),
            str(raw["kind"]),
            raw.get("report"),
            dict(raw.get("data") or {}),
        )


class History:
    """An append-only list of events with a canonical byte form."""

    def __init__(
        self, events: list[Event] | None = None, sink: Callable[[Event], None] | None = None
    ) -> None:
        self.events: list[Event] = events if events is not None else []
        # A streamed run hands every event on and keeps none.
        self.append: Callable[[Event], None] = self.events.append if sink is None else sink

    def add(
        self, t: int, component: str, kind: str, report: str | None = None, **data: Any
    ) -> None:
        self.append(Event(t, component, kind, report, data))

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def to_bytes(self) -> bytes:
        """One canonical JSON object a line: equal histories give equal bytes."""
        return b"".join(
            json.dumps(
                e.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
            + b"\n"
            for e in self.events
        )

    @classmethod
    def from_json(cls, rows: list[Mapping[str, Any]]) -> History:
        return cls([Event.from_json(r) for r in rows])
