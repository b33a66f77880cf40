"""Acks the message as it arrives, before anything is stored or replied.

`CaseService.on_delivery` with the ack moved to the top, and the nacks that an
acked message can no longer take dropped (four lines out, one in). The broker
forgets the message at once: a crash before the commit, or a reply that cannot
be sent, loses it with nobody told. KS's own mock service does this. Expected:
SOR-5 (the portal learns only from its deadline), SOR-1 when the service is
killed between ack and commit.

    python examples/services/python/ack_before_store.py
"""

from __future__ import annotations

import sys

from case_service import CaseService, Retry, Unanswerable, log, main
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties


class AckBeforeStoreService(CaseService):
    def on_delivery(
        self, channel: BlockingChannel, method: Basic.Deliver, props: BasicProperties, body: bytes
    ) -> None:
        tag = method.delivery_tag or 0  # the broker always sets it
        try:
            delivery = self.parse(method, props, body)
        except Unanswerable as exc:
            log.error("forkaster melding uten adresse: %s", exc)
            channel.basic_nack(tag, requeue=False)
            return
        channel.basic_ack(tag)  # the bug: "we have it now"
        try:
            self.handle(delivery)
        except Retry as exc:
            log.warning("melding %s legges tilbake i køen: %s", delivery.melding_id, exc)
        except Exception:  # acked already: nobody tries again
            log.exception("uventet feil for melding %s", delivery.melding_id)


if __name__ == "__main__":
    sys.exit(main(AckBeforeStoreService))
