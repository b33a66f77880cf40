"""Streamed runs: settle each report once nothing more can happen to it.

A report is settled a fixed time after the portal closes it: by then every
message of it has been acked, dead-lettered or has expired. The harness reads
its records through a fresh instance, records them and a `settled` event, and
the portal and the checker forget it. At the end only the records of reports
never settled (and of reports never accepted) are read back.
"""

from __future__ import annotations

import bisect
import hashlib
from array import array
from collections.abc import Callable

from harness.components.protocols import StoredRecord, find_records
from harness.core.digest import content_digest
from harness.core.history import HARNESS
from harness.core.timing import HOUR, Timing
from harness.sim.case_slot import CaseSystemSlot, checked, describe
from harness.sim.context import Sim


def settle_after(timing: Timing) -> int:
    """Longer than any message of a closed report can live: its TTL, every redelivery."""
    return timing.ttl + timing.max_deliveries * timing.ack_timeout + HOUR


def _key(report_id: str) -> int:
    """8 bytes a settled report instead of a whole string; a 64-bit digest, so a
    million reports collide with odds of about one in 30 million."""
    return int.from_bytes(hashlib.blake2b(report_id.encode(), digest_size=8).digest(), "big")


class Settler:
    def __init__(self, sim: Sim, slot: CaseSystemSlot, forget: Callable[[str], None]) -> None:
        self._sim, self._slot, self._forget = sim, slot, forget
        self._settled = array("Q")

    def closed(self, report_id: str) -> None:
        """The portal closed the report; settle it once nothing more can happen to it."""
        self._sim.loop.call_later(settle_after(self._sim.timing), lambda: self._settle(report_id))

    def _record(self, rec: StoredRecord) -> None:
        report_id = checked(rec)
        self._sim.record(
            HARNESS, "record", report_id, digest=content_digest(rec.files), files=sorted(rec.files)
        )

    def _settle(self, report_id: str) -> None:
        try:
            for rec in self._slot.fresh_read(lambda s: list(find_records(s, report_id))):
                self._record(rec)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            self._sim.record(HARNESS, "reconcile_failed", report_id, detail=describe(exc))
            return  # unsettled: the final read will look at it again
        self._sim.record(HARNESS, "settled", report_id)
        self._settled.append(_key(report_id))
        self._forget(report_id)

    def reconcile_rest(self) -> None:
        """After the run: records of reports not settled yet, and of reports never accepted."""
        settled = sorted(self._settled)
        try:
            for rec in self._slot.iter_fresh_records():
                key = _key(checked(rec))
                at = bisect.bisect_left(settled, key)
                if at == len(settled) or settled[at] != key:
                    self._record(rec)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            self._sim.record(HARNESS, "reconcile_failed", None, detail=describe(exc))
