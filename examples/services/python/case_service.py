"""A correct case system, as a service of its own: a vendor's starting point.

It consumes its Fiks IO queue over AMQP (manual acks, prefetch 10, reconnecting
whenever its connection is closed), stores each concern report's JSON and PDF in
PostgreSQL in one transaction, keyed on `bekymringsmelding-id` so that neither a
redelivery nor a resend makes a second record, and only then replies over the
HTTP send API: `mottatt` once the commit has returned, `feilet` (with a
`feilmelding.json`) when it cannot store or cannot use the package. It acks the
message only after the reply got a 2xx; when the reply cannot be sent it hands
the message back to the broker (nack with requeue) to try again.

It also serves the harness's reconciliation API on 127.0.0.1, read from the
committed rows at every request, and creates the `harness_reports` view for
`--reconcile sql`.

Start it (the harness sets every variable; see README.md beside this file):

    python examples/services/python/case_service.py

The buggy variants beside it subclass `CaseService` and override one method each.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pika
import pika.exceptions
import psycopg
import requests
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

log = logging.getLogger("case_service")

MOTTATT = "no.ks.fiks.bekymringsmelding.mottatt.v1"
FEILET = "no.ks.fiks.bekymringsmelding.feilet.v1"
REPORT_JSON = "bekymringsmelding.json"
REPORT_PDF = "bekymringsmelding.pdf"
REPORT_ID_HEADER = "egendefinert-header.bekymringsmelding-id"
PREFETCH = 10
REPLY_TTL_MS = 24 * 3600 * 1000  # the protocol's recommended TTL: one day
PAGE_SIZE = 100

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    bekymringsmelding_id text NOT NULL,
    melding_id text NOT NULL,
    meldingstype text NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    report_json text NOT NULL,
    report_pdf bytea NOT NULL
);
-- The canonical JSON of the reconciliation contract, in SQL: keys sorted by code point
-- (COLLATE "C" orders UTF-8 bytes, which is code point order), no spaces, strings
-- escaped as Python's json.dumps(ensure_ascii=False) does. Exact for every value a
-- report holds (objects, arrays, strings, integers, booleans, null); jsonb keeps a
-- float's decimal digits as written, so floats are where it could differ.
CREATE OR REPLACE FUNCTION harness_canonical_json(v jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF jsonb_typeof(v) = 'object' THEN
        RETURN '{' || coalesce((
            SELECT string_agg(to_jsonb(k)::text || ':' || harness_canonical_json(e), ','
                              ORDER BY k COLLATE "C")
            FROM jsonb_each(v) AS t(k, e)), '') || '}';
    ELSIF jsonb_typeof(v) = 'array' THEN
        RETURN '[' || coalesce((
            SELECT string_agg(harness_canonical_json(e), ',' ORDER BY n)
            FROM jsonb_array_elements(v) WITH ORDINALITY AS t(e, n)), '') || ']';
    END IF;
    RETURN v::text;
END
$$;
CREATE OR REPLACE VIEW harness_reports AS
SELECT bekymringsmelding_id,
       ARRAY[melding_id] AS fiks_melding_ids,
       'stored'::text AS state,
       stored_at,
       encode(sha256(convert_to(harness_canonical_json(report_json::jsonb), 'UTF8')), 'hex')
           AS json_sha256,
       encode(sha256(report_pdf), 'hex') AS pdf_sha256,
       'BV-' || lpad(id::text, 6, '0') AS case_ref
FROM reports;
"""


class ConfigError(Exception):
    """The environment does not say where something is."""


class PackageError(Exception):
    """The package cannot be used: the answer is `feilet`, never a retry."""


class Retry(Exception):
    """Could not finish now (reply not sent, download failed): the broker hands it back."""


class Unanswerable(Exception):
    """No `melding-id` or `avsender-id`: no reply can be addressed, so it is dropped."""


@dataclass(frozen=True)
class Config:
    amqp_url: str
    queue: str
    account: str
    send_url: str
    dokumentlager_url: str
    token_url: str
    integration_id: str
    integration_password: str
    database_url: str
    reconcile_port: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        def need(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigError(f"{name} is not set: start this service under the harness")
            return value

        account = need("HARNESS_FIKSIO_ACCOUNT")
        port = need("HARNESS_RECONCILE_PORT")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"HARNESS_RECONCILE_PORT={port!r} is not a TCP port number")
        return cls(
            amqp_url=need("HARNESS_AMQP_URL"),
            queue=env.get("HARNESS_FIKSIO_QUEUE") or f"fiksio.konto.{account}",
            account=account,
            send_url=need("HARNESS_SEND_URL"),
            dokumentlager_url=need("HARNESS_DOKUMENTLAGER_URL").rstrip("/"),
            token_url=need("HARNESS_TOKEN_URL"),
            integration_id=need("HARNESS_INTEGRATION_ID"),
            integration_password=need("HARNESS_INTEGRATION_PASSWORD"),
            database_url=need("HARNESS_DATABASE_URL"),
            reconcile_port=int(port),
        )


@dataclass(frozen=True)
class Delivery:
    """One message off the queue, its headers as text."""

    melding_id: str
    avsender_id: str
    meldingstype: str
    headers: Mapping[str, str]
    body: bytes
    redelivered: bool

    @property
    def report_id(self) -> str | None:
        return self.headers.get(REPORT_ID_HEADER) or None


@dataclass(frozen=True)
class Report:
    report_id: str
    json_text: str  # as received: canonicalised only when reconciled
    pdf: bytes


def canonical_json(value: Any) -> bytes:
    """The reconciliation contract's canonical JSON, exactly."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259), though Python's json reads it")


def feilmelding(text: str) -> bytes:
    """The `feilet` payload: a zip holding `feilmelding.json`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("feilmelding.json", json.dumps({"melding": text}, ensure_ascii=False))
    return buffer.getvalue()


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


class TokenSource:
    """A Maskinporten-like bearer token, fetched when missing or about to expire."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() > self._expires:
                self._token, lifetime = self._fetch()
                self._expires = time.monotonic() + max(1.0, lifetime * 0.8)
            return self._token

    def forget(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self) -> tuple[str, float]:
        # An unsigned assertion: the harness's token endpoint does not check signatures.
        claims = {"iss": self._config.integration_id, "iat": int(time.time())}
        parts = [{"alg": "none"}, claims]
        assertion = ".".join(
            base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=").decode() for p in parts
        )
        try:
            answer = requests.post(
                self._config.token_url,
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": assertion + ".",
                },
                timeout=10,
            )
            answer.raise_for_status()
            body = answer.json()
            return str(body["access_token"]), float(body.get("expires_in", 60))
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise Retry(f"no token from {self._config.token_url}: {exc}") from exc


class CaseService:
    """Consume, store, reply, ack: in that order, and each step only once the one before held."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.tokens = TokenSource(config)
        self.http = requests.Session()
        self.consuming = threading.Event()
        self.stopping = threading.Event()
        self._db: psycopg.Connection[Any] | None = None

    # -- storage ----------------------------------------------------------------

    def database(self) -> psycopg.Connection[Any]:
        """The consumer's connection, opened again after the database dropped it."""
        if self._db is None or self._db.closed or self._db.broken:
            if self._db is not None:
                self._db.close()
            self._db = psycopg.connect(self.config.database_url, autocommit=True)
        return self._db

    def create_schema(self) -> None:
        self.database().execute(SCHEMA)

    def idempotency_key(self, delivery: Delivery, report: Report) -> str:
        """What makes two deliveries the same report: its own id, kept on every resend."""
        return report.report_id

    def insert(self, db: psycopg.Connection[Any], delivery: Delivery, report: Report) -> None:
        """Store the report once; a redelivery or a resend finds it there and stores nothing."""
        db.execute(
            "INSERT INTO reports (idempotency_key, bekymringsmelding_id, melding_id,"
            " meldingstype, report_json, report_pdf) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            (
                self.idempotency_key(delivery, report),
                report.report_id,
                delivery.melding_id,
                delivery.meldingstype,
                report.json_text,
                report.pdf,
            ),
        )

    # -- the package --------------------------------------------------------------

    def unpack(self, delivery: Delivery) -> Report:
        report_id = delivery.report_id
        if report_id is None:
            raise PackageError(f"meldingen mangler headeren {REPORT_ID_HEADER}")
        body = delivery.body
        dokumentlager_id = delivery.headers.get("dokumentlager-id")
        if dokumentlager_id:
            body = self.download(dokumentlager_id)
        try:
            with zipfile.ZipFile(io.BytesIO(body)) as package:
                names = set(package.namelist())
                for name in (REPORT_JSON, REPORT_PDF):
                    if name not in names:
                        raise PackageError(f"pakken mangler {name}")
                raw, pdf = package.read(REPORT_JSON), package.read(REPORT_PDF)
        except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
            raise PackageError(f"pakken er ikke en gyldig zip: {exc}") from exc
        try:
            text = raw.decode("utf-8")
            value = json.loads(text, parse_constant=_not_json)
            if not isinstance(value, dict):
                raise PackageError(f"{REPORT_JSON} er ikke et JSON-objekt")
            canonical_json(value)  # a lone surrogate ("\\ud800") has no UTF-8 form
        except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, UnicodeEncodeError
            raise PackageError(f"kunne ikke lese {REPORT_JSON}: {exc}") from exc
        return Report(report_id, text, pdf)

    def download(self, dokumentlager_id: str) -> bytes:
        url = f"{self.config.dokumentlager_url}/{dokumentlager_id}"
        try:
            answer = self.http.get(url, headers=self.auth_headers(), timeout=30)
        except requests.RequestException as exc:
            raise Retry(f"nedlasting fra dokumentlageret feilet: {exc}") from exc
        if answer.status_code == HTTPStatus.NOT_FOUND:
            raise PackageError(f"dokumentet {dokumentlager_id} finnes ikke i dokumentlageret")
        if answer.status_code >= 300:
            raise Retry(f"dokumentlageret svarte {answer.status_code}")
        return answer.content

    # -- replies --------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.tokens.get()}",
            "IntegrasjonId": self.config.integration_id,
            "IntegrasjonPassord": self.config.integration_password,
        }

    def reply(self, delivery: Delivery, meldingstype: str, data: bytes | None = None) -> None:
        """POST the reply to the send API; raise Retry unless it answered 2xx."""
        metadata = {
            "avsenderKontoId": self.config.account,
            "mottakerKontoId": delivery.avsender_id,
            "meldingType": meldingstype,
            "svarPaMelding": delivery.melding_id,
            "ttl": REPLY_TTL_MS,
            "headere": {},
        }
        parts: dict[str, tuple[str | None, bytes, str]] = {
            "metadata": (None, json.dumps(metadata).encode(), "application/json")
        }
        if data is not None:
            parts["data"] = (f"{uuid.uuid4()}.zip", data, "application/octet-stream")
        for attempt in (1, 2):
            try:
                answer = self.http.post(
                    self.config.send_url, files=parts, headers=self.auth_headers(), timeout=30
                )
            except requests.RequestException as exc:
                raise Retry(f"svar {meldingstype} ble ikke sendt: {exc}") from exc
            if answer.status_code == HTTPStatus.UNAUTHORIZED and attempt == 1:
                self.tokens.forget()  # expired or rotated: one more try with a fresh token
                continue
            if not 200 <= answer.status_code < 300:
                raise Retry(f"send-API-et svarte {answer.status_code} på {meldingstype}")
            log.info("svarte %s på melding %s", meldingstype, delivery.melding_id)
            return

    # -- one message ------------------------------------------------------------------

    def handle(self, delivery: Delivery) -> None:
        """Store, then reply: `mottatt` only after the commit returned, else `feilet`."""
        try:
            report = self.unpack(delivery)
        except PackageError as exc:
            log.warning("avviser melding %s: %s", delivery.melding_id, exc)
            return self.reply(delivery, FEILET, feilmelding(str(exc)))
        try:
            with self.database().transaction() as tx:
                self.insert(tx.connection, delivery, report)
        except psycopg.Error as exc:
            log.error("lagring feilet for %s: %s", report.report_id, exc)
            return self.reply(delivery, FEILET, feilmelding(f"kunne ikke lagre: {exc}"))
        self.reply(delivery, MOTTATT)

    def on_delivery(
        self, channel: BlockingChannel, method: Basic.Deliver, props: BasicProperties, body: bytes
    ) -> None:
        """Ack only once the reply is out; hand the message back when it is not."""
        tag = method.delivery_tag or 0  # the broker always sets it
        try:
            delivery = self.parse(method, props, body)
        except Unanswerable as exc:
            log.error("forkaster melding uten adresse: %s", exc)
            channel.basic_nack(tag, requeue=False)
            return
        try:
            self.handle(delivery)
        except Retry as exc:
            log.warning("melding %s legges tilbake i køen: %s", delivery.melding_id, exc)
            channel.basic_nack(tag, requeue=True)
        except Exception:  # a bug of ours: the broker tries again, then dead-letters it
            log.exception("uventet feil for melding %s", delivery.melding_id)
            channel.basic_nack(tag, requeue=True)
        else:
            channel.basic_ack(tag)

    @staticmethod
    def parse(method: Basic.Deliver, props: BasicProperties, body: bytes) -> Delivery:
        headers = {str(k): _text(v) for k, v in (props.headers or {}).items()}
        melding_id, avsender_id = headers.get("melding-id"), headers.get("avsender-id")
        if not melding_id or not avsender_id:
            raise Unanswerable(f"melding-id={melding_id!r}, avsender-id={avsender_id!r}")
        return Delivery(
            melding_id=melding_id,
            avsender_id=avsender_id,
            meldingstype=headers.get("type", ""),
            headers=headers,
            body=body,
            redelivered=bool(method.redelivered),
        )

    # -- the broker connection --------------------------------------------------------------

    def consume(self) -> None:
        """Consume until told to stop, connecting again whenever the connection is lost."""
        parameters = pika.URLParameters(self.config.amqp_url)
        parameters.client_properties = {"connection_name": f"case_service {self.config.account}"}
        backoff = 0.1
        while not self.stopping.is_set():
            try:
                connection = pika.BlockingConnection(parameters)
            except pika.exceptions.AMQPError as exc:
                log.warning("kan ikke koble til AMQP (%s); prøver igjen", exc)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            try:
                self.consume_on(connection)
            except pika.exceptions.AMQPError as exc:
                log.warning("AMQP-forbindelsen ble lukket (%r); kobler til igjen", exc)
                consumed = self.consuming.is_set()
                self.stopping.wait(backoff)
                backoff = 0.1 if consumed else min(backoff * 2, 2.0)
            finally:
                self.consuming.clear()
                if connection.is_open:
                    with contextlib.suppress(pika.exceptions.AMQPError):
                        connection.close()  # what was not acked goes back to the queue

    def consume_on(self, connection: pika.BlockingConnection) -> None:
        """Until stopped, or until the broker cancels the consumer (its queue went away)."""
        channel = connection.channel()
        channel.basic_qos(prefetch_count=PREFETCH)
        cancelled = threading.Event()
        channel.add_on_cancel_callback(lambda _frame: cancelled.set())
        channel.basic_consume(self.config.queue, self.on_delivery, auto_ack=False)
        self.consuming.set()
        log.info("konsumerer %s", self.config.queue)
        while not self.stopping.is_set() and not cancelled.is_set():
            connection.process_data_events(time_limit=0.2)
        if cancelled.is_set():
            log.warning("megleren avsluttet konsumet på %s; kobler til igjen", self.config.queue)
            self.stopping.wait(0.2)

    def stop(self, signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        self.stopping.set()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


class ReconcileHandler(BaseHTTPRequestHandler):
    """The reconciliation API, read from the committed rows on every request (no cache)."""

    service: CaseService  # set on the subclass made per server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        try:
            if parts == ["harness", "v1", "ready"]:
                ready = self.service.consuming.is_set()
                self.send_json(200 if ready else 503, {"ready": ready})
            elif parts == ["harness", "v1", "reports"]:
                cursor = parse_qs(url.query).get("cursor", ["0"])[0] or "0"
                if not cursor.isdigit():
                    self.send_json(400, {"error": f"cursor {cursor!r} is not one this API gave"})
                    return
                rows = self.rows("WHERE id > %s ORDER BY id LIMIT %s", (int(cursor), PAGE_SIZE + 1))
                more = len(rows) > PAGE_SIZE
                page = rows[:PAGE_SIZE]
                next_cursor = str(page[-1][0]) if more else None
                self.send_json(200, {"reports": [r[1] for r in page], "next_cursor": next_cursor})
            elif len(parts) == 4 and parts[:3] == ["harness", "v1", "reports"]:
                rows = self.rows("WHERE bekymringsmelding_id = %s ORDER BY id LIMIT 1", (parts[3],))
                if rows:
                    self.send_json(200, rows[0][1])
                else:
                    self.send_json(404, {"error": f"no report {parts[3]!r} is stored"})
            else:
                self.send_json(404, {"error": f"no such resource: {url.path}"})
        except psycopg.Error as exc:
            log.warning("avstemming %s: %s", url.path, exc)
            self.send_json(503, {"error": f"the database did not answer: {exc}"})

    def rows(self, where: str, params: tuple[object, ...]) -> list[tuple[int, dict[str, Any]]]:
        query = (
            "SELECT id, bekymringsmelding_id, melding_id, stored_at, report_json,"
            " encode(sha256(report_pdf), 'hex') FROM reports " + where
        )
        with psycopg.connect(self.service.config.database_url, autocommit=True) as db:
            found = db.execute(query, params).fetchall()
        return [
            (
                row_id,
                {
                    "bekymringsmelding_id": report_id,
                    "fiks_melding_ids": [melding_id],
                    "state": "stored",
                    "stored_at": stored_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                    "json_sha256": hashlib.sha256(canonical_json(json.loads(text))).hexdigest(),
                    "pdf_sha256": pdf_sha256,
                    "case_ref": f"BV-{row_id:06d}",
                },
            )
            for row_id, report_id, melding_id, stored_at, text, pdf_sha256 in found
        ]

    def send_json(self, status: int, body: object) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("reconcile: " + format, *args)


def serve_reconciliation(service: CaseService) -> ThreadingHTTPServer:
    handler = type("Handler", (ReconcileHandler,), {"service": service})
    server = ThreadingHTTPServer(("127.0.0.1", service.config.reconcile_port), handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, args=(0.1,), name="reconcile", daemon=True
    ).start()
    return server


def main(service_class: type[CaseService] = CaseService) -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        config = Config.from_env(os.environ)
    except ConfigError as exc:
        print(f"case_service: {exc}", file=sys.stderr)
        return 2
    service = service_class(config)
    signal.signal(signal.SIGTERM, service.stop)
    signal.signal(signal.SIGINT, service.stop)
    deadline = time.monotonic() + 10
    while True:
        try:
            service.create_schema()
            break
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline or service.stopping.is_set():
                print(f"case_service: cannot reach HARNESS_DATABASE_URL: {exc}", file=sys.stderr)
                return 1
            time.sleep(0.2)
    try:
        server = serve_reconciliation(service)
    except OSError as exc:
        print(f"case_service: cannot serve on port {config.reconcile_port}: {exc}", file=sys.stderr)
        return 2
    try:
        service.consume()
    finally:
        server.shutdown()
        server.server_close()
        service.close()
    log.info("stoppet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
