"""KS's Fiks IO topology on a real broker, and the harness's two connections to it.

Per run: the direct exchange `fiks-io.meldinger`; the account's quorum queue
`fiksio.konto.<account>` bound with routing key = queue name, with a delivery limit
that gives Fiks IO's three attempts and a dead-letter exchange of the run's own,
whose queue the harness consumes (`delivery_limit` and `rejected` become
`serverfeil`, `expired` becomes `tidsavbrudd`). With tracing on (a private node),
the broker's firehose tells the harness of every delivery to the service.

The publisher connection belongs to the loop's thread; the listener runs a
connection of its own in a thread and hands what it hears to the loop.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
import requests

from harness.live.amqp.broker import ADMIN, BrokerError, Endpoint

EXCHANGE = "fiks-io.meldinger"
QUEUE_PREFIX = "fiksio.konto."
ATTEMPTS = 3  # Fiks IO: three failed deliveries, then the dead-letter queue


@dataclass(frozen=True)
class Dead:
    """A message the broker dead-lettered."""

    melding_id: str
    reason: str  # delivery_limit | rejected | expired | maxlen
    deliveries: int


@dataclass(frozen=True)
class Delivered:
    """The firehose's word that the broker handed a message to a consumer."""

    melding_id: str
    redelivered: bool
    delivery_count: int  # x-delivery-count: 0 on the first delivery


def _params(url: str) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.heartbeat = 0  # loopback; the loop's thread cannot answer heartbeats while busy
    params.blocked_connection_timeout = 30
    params.connection_attempts = 1
    params.socket_timeout = 5
    return params


class BrokerRun:
    """One run's vhost (private node) or queue names (given broker), made and removed."""

    def __init__(self, endpoint: Endpoint, account: str, run_id: str) -> None:
        self.endpoint = endpoint
        self.account = account
        self.queue = QUEUE_PREFIX + account
        self.dlx = f"harness.dead-letter.{run_id}"
        self.dlq = f"harness.dead-letter.{run_id}"
        self.tracing = endpoint.private
        if endpoint.private:
            self.vhost = f"harness-{run_id}"
            self.service_user = f"service-{run_id}"
            self.service_password = secrets.token_hex(12)
            self.service_url = endpoint.url_for(
                self.vhost, self.service_user, self.service_password
            )
            self.harness_url = endpoint.url_for(self.vhost)
        else:
            self.vhost = endpoint.vhost
            self.service_user = endpoint.credentials[0]
            self.service_password = endpoint.credentials[1]
            self.service_url = endpoint.amqp_url
            self.harness_url = endpoint.amqp_url
        self._made = False

    # -- the management API (private nodes) --------------------------------
    def _mgmt(self, method: str, path: str, **kw: Any) -> requests.Response:
        assert self.endpoint.management_url is not None
        return requests.request(
            method, self.endpoint.management_url + path, auth=ADMIN, timeout=10, **kw
        )

    def _vhost_path(self) -> str:
        return urllib.parse.quote(self.vhost, safe="")

    def create(self) -> None:
        if self.endpoint.private:
            v = self._vhost_path()
            for method, path, body in (
                ("PUT", f"/vhosts/{v}", {"tracing": True}),
                (
                    "PUT",
                    f"/users/{self.service_user}",
                    {"password": self.service_password, "tags": ""},
                ),
                ("PUT", f"/permissions/{v}/{self.service_user}", _ALL),
                ("PUT", f"/permissions/{v}/{ADMIN[0]}", _ALL),
            ):
                r = self._mgmt(method, path, json=body)
                if r.status_code not in (201, 204):
                    raise BrokerError(f"the broker refused {method} {path}: HTTP {r.status_code}")
        self._made = True
        try:
            conn = pika.BlockingConnection(_params(self.harness_url))
        except pika.exceptions.AMQPError as exc:
            raise BrokerError(
                f"cannot connect to the broker ({type(exc).__name__}: {exc}); check --amqp-url"
            ) from exc
        try:
            ch = conn.channel()
            ch.exchange_declare(EXCHANGE, "direct", durable=True)
            ch.exchange_declare(self.dlx, "fanout", durable=True)
            ch.queue_declare(self.dlq, durable=True)
            ch.queue_bind(self.dlq, self.dlx)
            ch.queue_declare(
                self.queue,
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-delivery-limit": ATTEMPTS - 1,  # redeliveries after the first
                    "x-dead-letter-exchange": self.dlx,
                },
            )
            ch.queue_bind(self.queue, EXCHANGE, self.queue)
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def close_service_connections(self, reason: str) -> int:
        """Close every broker connection of the service (CONNECTION_FORCED): what it had
        unacked goes back to the queue. Returns HTTP status (204 when closed)."""
        r = self._mgmt(
            "DELETE", f"/connections/username/{self.service_user}", headers={"X-Reason": reason}
        )
        return r.status_code

    def queue_state(self) -> tuple[int, int]:
        """(messages ready, consumers) of the account's queue."""
        conn = pika.BlockingConnection(_params(self.harness_url))
        try:
            ok = conn.channel().queue_declare(self.queue, passive=True).method
            return int(ok.message_count), int(ok.consumer_count)
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def remove(self) -> None:
        if not self._made:
            return
        self._made = False
        if self.endpoint.private:
            with contextlib.suppress(requests.RequestException):
                self._mgmt("DELETE", f"/vhosts/{self._vhost_path()}")
                self._mgmt("DELETE", f"/users/{self.service_user}")
            return
        with contextlib.suppress(pika.exceptions.AMQPError, OSError):
            conn = pika.BlockingConnection(_params(self.harness_url))
            try:
                ch = conn.channel()
                ch.queue_delete(self.queue)
                ch.queue_delete(self.dlq)
                ch.exchange_delete(self.dlx)
            finally:
                with contextlib.suppress(Exception):
                    conn.close()


_ALL = {"configure": ".*", "write": ".*", "read": ".*"}


class Publisher:
    """Publishes to the account's queue with publisher confirms (the loop's thread only)."""

    def __init__(self, run: BrokerRun) -> None:
        self._run = run
        self._conn = pika.BlockingConnection(_params(run.harness_url))
        self._ch = self._conn.channel()
        self._ch.confirm_delivery()

    def publish(self, body: bytes, headers: Mapping[str, str], ttl_ms: int) -> None:
        """Raises when the broker does not confirm the message (never a silent loss)."""
        props = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            expiration=str(ttl_ms),
            headers=dict(headers),  # str values travel as AMQP long strings
            content_type="application/zip" if body else None,
        )
        self._ch.basic_publish(EXCHANGE, self._run.queue, body, props, mandatory=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()


class Listener:
    """Consumes the run's dead-letter queue and (when tracing) the firehose, in a thread."""

    def __init__(
        self,
        run: BrokerRun,
        on_dead: Callable[[Dead], None],
        on_delivered: Callable[[Delivered], None],
    ) -> None:
        self._run = run
        self._on_dead = on_dead
        self._on_delivered = on_delivered
        self._conn = pika.BlockingConnection(_params(run.harness_url))
        ch = self._ch = self._conn.channel()
        ch.basic_consume(run.dlq, self._dead, auto_ack=True)
        if run.tracing:
            trace = ch.queue_declare("", exclusive=True, auto_delete=True).method.queue
            ch.queue_bind(trace, "amq.rabbitmq.trace", f"deliver.{run.queue}")
            ch.basic_consume(trace, self._traced, auto_ack=True)
        self._thread = threading.Thread(target=self._consume, name="harness-listener", daemon=True)
        self._thread.start()

    def _consume(self) -> None:
        with contextlib.suppress(pika.exceptions.AMQPError, OSError):
            self._ch.start_consuming()

    def _dead(self, ch: Any, method: Any, props: pika.BasicProperties, body: bytes) -> None:
        headers = props.headers or {}
        deaths = headers.get("x-death") or [{}]
        first = deaths[0] if isinstance(deaths, list) and deaths else {}
        reason = _text(first.get("reason")) or "rejected"
        count = headers.get("x-delivery-count")
        self._on_dead(
            Dead(_text(headers.get("melding-id")), reason, int(count) + 1 if count else 0)
        )

    def _traced(self, ch: Any, method: Any, props: pika.BasicProperties, body: bytes) -> None:
        headers = props.headers or {}
        inner = headers.get("properties") or {}
        inner_headers = inner.get("headers") or {} if isinstance(inner, dict) else {}
        count = inner_headers.get("x-delivery-count") or 0
        self._on_delivered(
            Delivered(
                _text(inner_headers.get("melding-id")),
                bool(headers.get("redelivered")),
                int(count),
            )
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.add_callback_threadsafe(self._ch.stop_consuming)
        self._thread.join(5)
        with contextlib.suppress(Exception):
            self._conn.close()


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)
