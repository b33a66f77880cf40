"""Where the fault plan strikes the case system's own database calls.

The storage calls these hooks around every write and commit of the adapter's
connections; the durability probe and the reconciliation read are never faulted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core.history import STORAGE
from harness.sim.storage import ConnectionLost, SimulatedCrash, StorageError, StorageTimeout

if TYPE_CHECKING:
    from harness.sim.case_slot import CaseSystemSlot


class StorageFaults:
    def __init__(self, slot: CaseSystemSlot) -> None:
        self._slot = slot

    def _fires(self, point: str, takes: int = 0) -> bool:
        """Whether the plan strikes here; `takes` is virtual time the fault lasts."""
        slot = self._slot
        if slot.probing:
            return False
        if slot.dead:  # a dead process writes nothing, even if the adapter swallowed its crash
            raise SimulatedCrash("the case system is dead")
        if slot.sim.injector.hit(point):
            slot.sim.loop.advance(takes)
            slot.sim.record(STORAGE, "fault", slot.report, fault=point)
            return True
        return False

    def before_write(self, sql: str) -> None:
        if self._fires("storage.execute.error"):
            raise StorageError("disk I/O error (injected)")
        if self._fires("storage.execute.timeout", self._slot.sim.timing.storage_timeout):
            raise StorageTimeout("database is locked: timed out (injected)")
        if self._fires("storage.connection.lost"):
            raise ConnectionLost("server closed the connection unexpectedly (injected)")

    def after_write(self) -> None:
        if not self._slot.probing:
            self._slot.maybe_crash("case_system.crash.between_writes", self._slot.report)

    def before_commit(self) -> None:
        if self._fires("storage.commit.error"):
            raise StorageError("commit failed: disk I/O error (injected)")

    def after_commit(self) -> None:
        slot = self._slot
        if slot.probing:
            return
        slot.sim.record(STORAGE, "commit", slot.report)
        if self._fires("storage.commit.lost_ack"):
            raise StorageError("disk I/O error during commit (injected; the commit was applied)")
        slot.maybe_crash("case_system.crash.after_commit", slot.report)
