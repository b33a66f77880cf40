"""The reference transport: a per-account queue with at-least-once delivery (Fiks IO).

Consumers ack, nack (dead letter) or nack with requeue. Unacked deliveries come
back; after `max_deliveries` failed deliveries a message is dead-lettered and
the sender gets `serverfeil`; a message still queued at its TTL expires and the
sender gets `tidsavbrudd`. Replies are routed back to the sender by `svar-til`.

The consumer holds at most `timing.prefetch` unacked deliveries at once (AMQP's
basic.qos; Fiks IO's clients ask for 10): the window. A message that arrives
while the window is full waits in the queue, in order, until an ack, a nack, a
requeue or an ack timeout frees a place. When the consumer's process dies, its
channel closes and every delivery it held unacked comes back, as a broker does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from harness.components.protocols import (
    BEKYMRINGSMELDING_ID,
    DOKUMENTLAGER_ID,
    MELDING_ID,
    SERVERFEIL,
    SVAR_TIL,
    TIDSAVBRUDD,
    IncomingMessage,
)
from harness.core.digest import content_digest
from harness.core.history import TRANSPORT
from harness.core.timing import HOUR, SECOND
from harness.sim.context import Sim
from harness.sim.documents import DocumentStore


class _State(Enum):
    QUEUED = "queued"
    INFLIGHT = "inflight"
    ACKED = "acked"
    DEAD = "dead"
    EXPIRED = "expired"


@dataclass
class _Queued:
    message: IncomingMessage
    expires_at: int
    state: _State = _State.QUEUED
    deliveries: int = 0
    tag: int = 0  # the current delivery; acks for an older one are void
    malformed: bool = False  # damaged in transit by a fault

    @property
    def report(self) -> str | None:
        return self.message.headers.get(BEKYMRINGSMELDING_ID)


# consumer(message, channel) -> crashed?
Consumer = Callable[[IncomingMessage, "DeliveryChannel"], bool]
ReceiptSink = Callable[[str, Mapping[str, str]], None]


def _damaged(msg: IncomingMessage) -> IncomingMessage:
    """The report JSON cut off halfway: what a broken relay or a bad disk leaves."""
    files = {
        name: data[: len(data) // 2] if name.endswith(".json") else data
        for name, data in msg.files.items()
    }
    return IncomingMessage(msg.melding_id, msg.meldingstype, msg.headers, files, msg.redelivered)


class DeliveryChannel:
    """The consumer's handle on one delivery."""

    def __init__(self, transport: Transport, item: _Queued, tag: int) -> None:
        self._t = transport
        self._item = item
        self._tag = tag

    def reply(self, meldingstype: str, body: bytes | None = None) -> None:
        self._t.route_reply(self._item, meldingstype)

    def ack(self) -> None:
        self._t.settle(self._item, self._tag, "ack")

    def nack(self) -> None:
        self._t.settle(self._item, self._tag, "nack")

    def nack_with_requeue(self) -> None:
        self._t.settle(self._item, self._tag, "requeue")


class Transport:
    def __init__(self, sim: Sim, documents: DocumentStore | None = None) -> None:
        self._sim = sim
        self.documents = documents  # where payloads sent by reference are kept
        self._consumer: Consumer | None = None
        self._sender: ReceiptSink | None = None
        self._unacked: dict[str, _Queued] = {}  # the window: INFLIGHT by melding-id, in order
        self._waiting: deque[_Queued] = deque()  # arrived while the window was full
        self._pump_due = False

    def connect(self, consumer: Consumer, sender_receipts: ReceiptSink) -> None:
        self._consumer = consumer
        self._sender = sender_receipts

    # -- the sender side --------------------------------------------------
    def send(
        self, meldingstype: str, headers: Mapping[str, str], files: Mapping[str, bytes]
    ) -> str:
        sim = self._sim
        melding_id = sim.loop.new_id()  # new on every send, also on a resend
        msg = IncomingMessage(
            melding_id, meldingstype, {**headers, MELDING_ID: melding_id}, dict(files)
        )
        report = headers.get(BEKYMRINGSMELDING_ID)
        if sim.injector.hit("transport.send.drop"):
            sim.record(
                TRANSPORT, "drop", report, melding_id=melding_id, fault="transport.send.drop"
            )
            return melding_id
        item = _Queued(msg, sim.loop.now + sim.timing.ttl)
        sim.record(TRANSPORT, "queue", report, melding_id=melding_id)
        wait = sim.timing.latency + self._held_back(report)
        sim.loop.call_later(wait, lambda: self._deliver(item))
        sim.loop.call_at(item.expires_at, lambda: self._expire(item))
        return melding_id

    def _held_back(self, report: str | None) -> int:
        """Extra queueing time a fault adds before the first delivery."""
        sim = self._sim
        for point, extra in (
            ("transport.deliver.delay", 2 * HOUR),
            ("transport.deliver.reorder", 5 * SECOND),
            ("transport.message.expire", sim.timing.ttl),
        ):
            if sim.injector.hit(point):
                sim.record(TRANSPORT, "fault", report, fault=point, held_ms=extra)
                return extra
        return 0

    def _notify_sender(self, item: _Queued, meldingstype: str) -> None:
        headers = {SVAR_TIL: item.message.melding_id}
        if item.report:
            headers[BEKYMRINGSMELDING_ID] = item.report
        sink = self._sender
        assert sink is not None
        self._sim.loop.call_later(self._sim.timing.latency, lambda: sink(meldingstype, headers))

    # -- the window -------------------------------------------------------
    def _set(self, item: _Queued, state: _State) -> None:
        """Every change of a message's state passes here, so the window stays exact."""
        was_unacked = item.state is _State.INFLIGHT
        item.state = state
        if state is _State.INFLIGHT:
            self._unacked[item.message.melding_id] = item
        elif was_unacked:
            del self._unacked[item.message.melding_id]
            if self._waiting and not self._pump_due:  # a place is free: the next one comes
                self._pump_due = True
                self._sim.loop.call_later(self._sim.timing.latency, self._pump)

    def _full(self) -> bool:
        prefetch = self._sim.timing.prefetch
        return prefetch > 0 and len(self._unacked) >= prefetch

    def _pump(self) -> None:
        self._pump_due = False
        while self._waiting and not self._full():
            item = self._waiting.popleft()
            if item.state is _State.QUEUED:
                self._deliver(item, waited=True)

    def consumer_lost(self, why: str = "consumer crashed") -> None:
        """The consumer's channel closed (its process died): every delivery it held
        unacked is requeued, as a broker does when a channel closes."""
        for item in list(self._unacked.values()):
            if item.state is _State.INFLIGHT:
                self._failed(item, self._sim.timing.restart_delay, why)

    # -- the consumer side ------------------------------------------------
    def _deliver(self, item: _Queued, duplicate: bool = False, waited: bool = False) -> None:
        sim = self._sim
        if item.state in (_State.DEAD, _State.EXPIRED):
            return
        if not duplicate:
            if item.state is not _State.QUEUED:
                return
            if sim.loop.now >= item.expires_at:
                self._expire(item)
                return
            if self._full() or (self._waiting and not waited):
                self._waiting.append(item)  # the window is full: it waits its turn
                return
            if sim.injector.hit("transport.message.dead_letter"):
                sim.record(TRANSPORT, "fault", item.report, fault="transport.message.dead_letter")
                self._dead_letter(item)
                return
            item.deliveries += 1
            self._set(item, _State.INFLIGHT)
        item.tag += 1
        tag = item.tag
        if not item.malformed and sim.injector.hit("transport.deliver.corrupt"):
            item.malformed = True
            sim.record(
                TRANSPORT,
                "fault",
                item.report,
                fault="transport.deliver.corrupt",
                damaged_digest=self._damage(item),
            )
        redelivered = duplicate or item.deliveries > 1
        msg = item.message
        if redelivered:
            msg = IncomingMessage(msg.melding_id, msg.meldingstype, msg.headers, msg.files, True)
        sim.record(
            TRANSPORT,
            "deliver",
            item.report,
            melding_id=msg.melding_id,
            delivery=item.deliveries,
            redelivered=redelivered,
            duplicate=duplicate,
            malformed=item.malformed,
        )
        if not duplicate and sim.injector.hit("transport.deliver.duplicate"):
            sim.record(TRANSPORT, "fault", item.report, fault="transport.deliver.duplicate")
            sim.loop.call_later(
                sim.timing.redelivery_delay, lambda: self._deliver(item, duplicate=True)
            )
        assert self._consumer is not None
        crashed = self._consumer(msg, DeliveryChannel(self, item, tag))
        if item.tag != tag or item.state not in (_State.INFLIGHT, _State.ACKED):
            return  # a newer delivery took over, or the message is settled for good
        if crashed:
            if item.state is _State.INFLIGHT:  # the channel closed with it unacked
                self._failed(item, sim.timing.restart_delay, "consumer crashed")
            self.consumer_lost()  # and with every other delivery it held
        elif not duplicate and sim.injector.hit("transport.deliver.redeliver"):
            sim.record(TRANSPORT, "fault", item.report, fault="transport.deliver.redeliver")
            self._set(item, _State.INFLIGHT)  # a reset channel voids the ack
            self._failed(item, sim.timing.redelivery_delay, "channel reset")
        elif item.state is _State.INFLIGHT:
            sim.loop.call_later(sim.timing.ack_timeout, lambda: self._ack_timeout(item, tag))

    def _damage(self, item: _Queued) -> str:
        """Damage the message's payload for good; the digest of what is left."""
        doc_id = item.message.headers.get(DOKUMENTLAGER_ID)
        if doc_id is not None and self.documents is not None:
            return self.documents.damage(doc_id)  # sent by reference: damage the stored copy
        item.message = _damaged(item.message)
        return content_digest(item.message.files, self._sim.digests)

    def settle(self, item: _Queued, tag: int, how: str) -> None:
        sim = self._sim
        if tag != item.tag or item.state is not _State.INFLIGHT:
            sim.record(TRANSPORT, f"{how}_ignored", item.report, melding_id=item.message.melding_id)
            return
        if how == "ack":
            if sim.injector.hit("transport.ack.lost"):
                sim.record(TRANSPORT, "fault", item.report, fault="transport.ack.lost")
                return
            self._set(item, _State.ACKED)
            sim.record(TRANSPORT, "acked", item.report, melding_id=item.message.melding_id)
        elif how == "nack":
            sim.record(TRANSPORT, "nacked", item.report, melding_id=item.message.melding_id)
            self._dead_letter(item)
        else:
            sim.record(TRANSPORT, "requeued", item.report, melding_id=item.message.melding_id)
            self._failed(item, sim.timing.redelivery_delay, "nack with requeue")

    def _ack_timeout(self, item: _Queued, tag: int) -> None:
        if item.tag == tag and item.state is _State.INFLIGHT:
            self._failed(item, 0, "ack timeout")

    def _failed(self, item: _Queued, delay: int, why: str) -> None:
        """A delivery that did not end in an ack: requeue it, or dead-letter it."""
        if item.deliveries >= self._sim.timing.max_deliveries:
            self._dead_letter(item)
            return
        self._set(item, _State.QUEUED)
        self._sim.record(
            TRANSPORT, "requeue", item.report, melding_id=item.message.melding_id, why=why
        )
        self._sim.loop.call_later(delay, lambda: self._deliver(item))

    def _dead_letter(self, item: _Queued) -> None:
        self._set(item, _State.DEAD)
        self._sim.record(
            TRANSPORT,
            "dead_letter",
            item.report,
            melding_id=item.message.melding_id,
            deliveries=item.deliveries,
        )
        self._notify_sender(item, SERVERFEIL)

    def _expire(self, item: _Queued) -> None:
        if item.state is _State.QUEUED:
            self._set(item, _State.EXPIRED)
            self._sim.record(TRANSPORT, "expire", item.report, melding_id=item.message.melding_id)
            self._notify_sender(item, TIDSAVBRUDD)

    def route_reply(self, item: _Queued, meldingstype: str) -> None:
        """A consumer's reply goes back to the sender of the message it answers."""
        sim = self._sim
        if sim.injector.hit("transport.reply.lost"):
            sim.record(
                TRANSPORT,
                "fault",
                item.report,
                fault="transport.reply.lost",
                meldingstype=meldingstype,
            )
            return
        sim.record(
            TRANSPORT,
            "route_reply",
            item.report,
            meldingstype=meldingstype,
            svar_til=item.message.melding_id,
        )
        self._notify_sender(item, meldingstype)
