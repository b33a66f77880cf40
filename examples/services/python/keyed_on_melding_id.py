"""Deduplicates on `melding-id` instead of `bekymringsmelding-id`.

`CaseService.idempotency_key` with one line changed. A broker redelivery keeps
the `melding-id`, so it is still caught; but a resend from the portal gets a
new `melding-id`, and the same report is stored a second time. Expected: SOR-3.

    python examples/services/python/keyed_on_melding_id.py
"""

from __future__ import annotations

import sys

from case_service import CaseService, Delivery, Report, main


class KeyedOnMeldingIdService(CaseService):
    def idempotency_key(self, delivery: Delivery, report: Report) -> str:
        return delivery.melding_id  # the bug: new on every resend


if __name__ == "__main__":
    sys.exit(main(KeyedOnMeldingIdService))
