"""Fixtures and helpers for the reference services' own tests, without the live tier.

Each test gets a queue of its own on the machine's RabbitMQ (127.0.0.1:5672,
guest), a database of its own on the machine's PostgreSQL (127.0.0.1:5432,
postgres, trust), and a small fake of the Fiks IO HTTP side (token endpoint,
send API, document store) on a free loopback port. Every one of them, and every
service process started, is removed when the test ends, also when it fails.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

import pika
import psycopg
import pytest
import requests

from harness.core.workload import ReportSpec, make_submission

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "examples" / "services"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PORTAL_ACCOUNT = "5d8e2c6a-0b1f-4c5e-9a77-000000000001"
REPORT_TYPE = "no.ks.fiks.bekymringsmelding.privat.v2"
MOTTATT = "no.ks.fiks.bekymringsmelding.mottatt.v1"
FEILET = "no.ks.fiks.bekymringsmelding.feilet.v1"
WAIT = 20.0  # seconds: a generous bound for what normally takes milliseconds


def missing(reason: str) -> NoReturn:
    """Skip for want of a piece of the machine; fail instead where CI promises it."""
    if os.environ.get("HARNESS_REQUIRE_LIVE"):
        pytest.fail(f"HARNESS_REQUIRE_LIVE is set, but {reason}")
    pytest.skip(reason)


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


# -- the fake Fiks IO HTTP side ----------------------------------------------------------


@dataclass
class Reply:
    metadata: dict[str, Any]
    data: bytes | None
    headers: dict[str, str]

    @property
    def type(self) -> str:
        return str(self.metadata["meldingType"])

    @property
    def answers(self) -> str:
        return str(self.metadata["svarPaMelding"])

    def feilmelding(self) -> dict[str, Any]:
        assert self.data is not None, "a feilet reply without a data part"
        with zipfile.ZipFile(io.BytesIO(self.data)) as package:
            value: dict[str, Any] = json.loads(package.read("feilmelding.json"))
        return value


@dataclass
class FakeFiksIO:
    """Token endpoint, send API and document store, recording what the service sent."""

    integration_id: str = "integrasjon-test"
    integration_password: str = "passord-test"
    replies: list[Reply] = field(default_factory=list)
    refused: list[Reply] = field(default_factory=list)  # answered with `fail_status`
    documents: dict[str, bytes] = field(default_factory=dict)
    fail_next: int = 0  # answer this many send requests with `fail_status`, apply none
    fail_status: int = 500
    tokens: list[str] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def authorised(self, headers: Mapping[str, str]) -> bool:
        bearer = headers.get("Authorization", "").removeprefix("Bearer ")
        return (
            bearer in self.tokens
            and headers.get("IntegrasjonId") == self.integration_id
            and headers.get("IntegrasjonPassord") == self.integration_password
        )

    def replies_to(self, melding_id: str) -> list[Reply]:
        with self.lock:
            return [r for r in self.replies if r.answers == melding_id]

    def wait_reply(self, melding_id: str, count: int = 1) -> list[Reply]:
        found: list[Reply] = wait_for(
            f"{count} reply(ies) to {melding_id}",
            lambda: (r := self.replies_to(melding_id)) and len(r) >= count and r,
        )
        return found


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("not multipart")
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        parts[str(name)] = part.get_payload(decode=True)
    return parts


def _handler(fake: FakeFiksIO) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/token":
                token = f"token-{uuid.uuid4()}"
                with fake.lock:
                    fake.tokens.append(token)
                self.answer(200, {"access_token": token, "expires_in": 120})
                return
            if self.path != "/fiks-io/api/v1/send":
                self.answer(404, {"error": self.path})
                return
            if not fake.authorised(self.headers):
                self.answer(401, {"error": "unauthorised"})
                return
            parts = _multipart(self.headers.get("Content-Type", ""), body)
            reply = Reply(json.loads(parts["metadata"]), parts.get("data"), dict(self.headers))
            with fake.lock:
                refuse = fake.fail_next > 0
                fake.fail_next -= refuse
                (fake.refused if refuse else fake.replies).append(reply)
            if refuse:
                self.answer(fake.fail_status, {"error": "injected"})
                return
            meta = reply.metadata
            self.answer(
                202,
                {
                    "meldingId": str(uuid.uuid4()),
                    "meldingType": meta["meldingType"],
                    "avsenderKontoId": meta["avsenderKontoId"],
                    "mottakerKontoId": meta["mottakerKontoId"],
                    "ttl": meta["ttl"],
                    "dokumentlagerId": None,
                    "svarPaMelding": meta["svarPaMelding"],
                    "headere": meta.get("headere", {}),
                },
            )

        def do_GET(self) -> None:
            prefix = "/dokumentlager/nedlasting/"
            document = fake.documents.get(self.path.removeprefix(prefix))
            if not self.path.startswith(prefix) or not fake.authorised(self.headers):
                self.answer(401, {"error": "unauthorised"})
            elif document is None:
                self.answer(404, {"error": "no such document"})
            else:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def fiksio() -> Iterator[FakeFiksIO]:
    fake = FakeFiksIO()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- broker and database ---------------------------------------------------------------


@dataclass
class Queue:
    """A Fiks IO account's queue on the machine's broker, and a portal that publishes to it."""

    account: str
    name: str
    channel: Any

    def publish(
        self,
        body: bytes,
        report_id: str | None,
        *,
        melding_id: str | None = None,
        extra: Mapping[str, str] | None = None,
        drop: tuple[str, ...] = (),
    ) -> str:
        melding_id = melding_id or str(uuid.uuid4())
        headers = {
            "melding-id": melding_id,
            "type": REPORT_TYPE,
            "avsender-id": PORTAL_ACCOUNT,
            "egendefinert-header.klientMeldingId": f"klient-{report_id}",
        }
        if report_id is not None:
            headers["egendefinert-header.bekymringsmelding-id"] = report_id
        headers.update(extra or {})
        for name in drop:
            headers.pop(name, None)
        self.channel.basic_publish(
            "",
            self.name,
            body,
            pika.BasicProperties(delivery_mode=2, expiration="600000", headers=headers),
        )
        return melding_id

    def counts(self) -> tuple[int, int]:
        """(ready, unacked) as the broker counts them now. A passive declare counts only
        ready ones, and checking after the consumer has gone would race a quorum queue's
        last acks against its return of what the consumer held."""
        listing = rabbitmqctl("list_queues", "name", "messages_ready", "messages_unacknowledged")
        for line in listing.splitlines():
            name, ready, unacked = line.split("\t")
            if name == self.name:
                return int(ready), int(unacked)
        raise AssertionError(f"queue {self.name} is not on the broker")

    def wait_settled(self) -> None:
        """Every message taken, and acked or dropped: none waits, none is held unacked."""
        wait_for(f"every message on {self.name} to be settled", lambda: self.counts() == (0, 0))


def rabbitmqctl(*args: str) -> str:
    """The broker's own CLI (it sees connections and counts the moment they change)."""
    if shutil.which("rabbitmqctl") is None:
        missing("rabbitmqctl is not on PATH: the broker's counts and connections are unseen")
    done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        missing(f"rabbitmqctl cannot reach the broker: {done.stderr.strip()}")
    return done.stdout


@pytest.fixture
def queue() -> Iterator[Queue]:
    if not _reachable(5672):
        missing("no RabbitMQ on 127.0.0.1:5672 (the project's machines run one)")
    account = str(uuid.uuid4())
    name = f"fiksio.konto.{account}"
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.queue_declare(
        name, durable=True, arguments={"x-queue-type": "quorum", "x-delivery-limit": 5}
    )
    try:
        yield Queue(account, name, channel)
    finally:
        if not channel.is_open:
            connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
            channel = connection.channel()
        channel.queue_delete(name)
        connection.close()


@pytest.fixture
def database() -> Iterator[str]:
    if not _reachable(5432):
        missing("no PostgreSQL on 127.0.0.1:5432 (the project's machines run one)")
    name = f"services_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as exc:
        if "shared memory segment" in str(exc):
            pytest.fail(
                "the machine's PostgreSQL cannot open its shared memory: something changed the"
                " owner of /dev/shm or of its PostgreSQL.* files (they must belong to postgres;"
                f" /dev/shm to root, mode 1777): {exc}"
            )
        raise
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        for attempt in range(20):  # a connection refused for a moment must not leave it behind
            try:
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except psycopg.OperationalError:
                if attempt == 19:
                    raise
                time.sleep(0.25)


# -- the service under test ----------------------------------------------------------------


@dataclass
class Service:
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def reconcile(self) -> str:
        return f"http://127.0.0.1:{self.env['HARNESS_RECONCILE_PORT']}"

    def start(self) -> Service:
        assert self.process is None or self.process.poll() is not None
        self.starts += 1
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
            )
        wait_for(f"{self.command[-1]} to consume (log: {self.log()})", self.ready)
        return self

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the service exited with {self.process.returncode}: {self.log()}")
        try:
            return requests.get(f"{self.reconcile}/harness/v1/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole process group, as the harness's process fault does."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self) -> int:
        """SIGTERM, as the harness stops a service; its exit code (SIGKILL after 10 s)."""
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def reports(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor: str | None = ""
        while cursor is not None:
            page = requests.get(
                f"{self.reconcile}/harness/v1/reports", params={"cursor": cursor}, timeout=5
            )
            assert page.status_code == 200, page.text
            body = page.json()
            rows += body["reports"]
            cursor = body["next_cursor"]
        return rows

    def report(self, report_id: str) -> requests.Response:
        return requests.get(f"{self.reconcile}/harness/v1/reports/{report_id}", timeout=5)


NODE_DIR = SERVICES / "node"
PYTHON_DIR = SERVICES / "python"


def service_command(name: str) -> list[str]:
    """`python/familia` or `node/familia`: the command that starts that service."""
    language, variant = name.split("/")
    if language == "python":
        return [sys.executable, str(PYTHON_DIR / f"{variant}.py")]
    node = shutil.which("node")
    if node is None:
        missing("node is not installed (.ci/run installs it)")
    if not (NODE_DIR / "node_modules" / "amqplib").is_dir():
        missing("the Node.js service's packages are not installed: run `npm ci` in its folder")
    return [node, str(NODE_DIR / f"{variant}.js")]


@pytest.fixture
def start_service(
    queue: Queue, database: str, fiksio: FakeFiksIO, tmp_path: Path
) -> Iterator[Callable[[str], Service]]:
    started: list[Service] = []

    def start(name: str) -> Service:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
        env.update(
            HARNESS_AMQP_URL=AMQP_URL,
            HARNESS_FIKSIO_ACCOUNT=queue.account,
            HARNESS_FIKSIO_QUEUE=queue.name,
            HARNESS_SEND_URL=f"{fiksio.base}/fiks-io/api/v1/send",
            HARNESS_DOKUMENTLAGER_URL=f"{fiksio.base}/dokumentlager/nedlasting",
            HARNESS_TOKEN_URL=f"{fiksio.base}/token",
            HARNESS_INTEGRATION_ID=fiksio.integration_id,
            HARNESS_INTEGRATION_PASSWORD=fiksio.integration_password,
            HARNESS_DATABASE_URL=database,
            HARNESS_RECONCILE_PORT=str(free_port()),
        )
        service = Service(service_command(name), env, tmp_path / f"service-{len(started)}.log")
        started.append(service)
        return service.start()

    try:
        yield start
    finally:
        codes = [(s.terminate(), s) for s in started if s.process is not None]
        for code, service in codes:
            # a clean stop on SIGTERM is part of what these services promise
            assert code in (0, -signal.SIGKILL), f"exit {code} on SIGTERM: {service.log()}"


# -- packages -----------------------------------------------------------------------------


def package(files: Mapping[str, bytes]) -> bytes:
    """An ASiC-E-shaped zip without the crypto: `mimetype` first, then the files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("mimetype", "application/vnd.etsi.asic-e+zip")
        for name, data in files.items():
            z.writestr(name, data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def report_files(index: int, seed: int = 7, **spec: Any) -> dict[str, bytes]:
    """A report the harness's own workload makes: the same bytes it would send."""
    return make_submission(index, ReportSpec(at=index * 1000, **spec), seed).files
