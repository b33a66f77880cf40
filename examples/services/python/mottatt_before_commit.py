"""Replies `mottatt` inside the transaction, before the commit.

`CaseService.handle` with the `mottatt` line moved up one block: into the
transaction. When the commit then fails, or the service dies before it, the
portal already holds a receipt for a report that was never stored (it then
also gets a `feilet`, which the portal ignores after `mottatt`). Expected:
SOR-2, and SOR-1 when the commit does not happen.

    python examples/services/python/mottatt_before_commit.py
"""

from __future__ import annotations

import sys

import psycopg
from case_service import (
    FEILET,
    MOTTATT,
    CaseService,
    Delivery,
    PackageError,
    feilmelding,
    log,
    main,
)


class MottattBeforeCommitService(CaseService):
    def handle(self, delivery: Delivery) -> None:
        try:
            report = self.unpack(delivery)
        except PackageError as exc:
            log.warning("avviser melding %s: %s", delivery.melding_id, exc)
            return self.reply(delivery, FEILET, feilmelding(str(exc)))
        try:
            with self.database().transaction() as tx:
                self.insert(tx.connection, delivery, report)
                self.reply(delivery, MOTTATT)  # the bug: the commit has not happened yet
        except psycopg.Error as exc:
            log.error("lagring feilet for %s: %s", report.report_id, exc)
            return self.reply(delivery, FEILET, feilmelding(f"kunne ikke lagre: {exc}"))


if __name__ == "__main__":
    sys.exit(main(MottattBeforeCommitService))
