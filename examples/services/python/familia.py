"""The 2023 incident's bug, as a service: `mottatt` whatever the store did.

`CaseService.handle` with one line deleted: the `feilet` reply after a failed
store. The error is logged and forgotten, and the code goes on to say `mottatt`,
which switches off the portal's paper fallback. Expected: SOR-1 (the report is
lost) and SOR-2 (a receipt without a record).

    python examples/services/python/familia.py
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


class FamiliaService(CaseService):
    def handle(self, delivery: Delivery) -> None:
        try:
            report = self.unpack(delivery)
        except PackageError as exc:
            log.warning("avviser melding %s: %s", delivery.melding_id, exc)
            return self.reply(delivery, FEILET, feilmelding(str(exc)))
        try:
            with self.database().transaction() as tx:
                self.insert(tx.connection, delivery, report)
        except psycopg.Error as exc:
            log.error("lagring feilet for %s: %s", report.report_id, exc)  # the bug: no feilet
        self.reply(delivery, MOTTATT)


if __name__ == "__main__":
    sys.exit(main(FamiliaService))
