"""One live run: the reference portal, a real broker, the harness's HTTP server, the
vendor's service as a process, its own PostgreSQL database; a history at the end.

The portal is `components/portal.py`, the same class as in the simulation, on a
wall-clock loop (`live/clock.py`). What the harness sees becomes events of the same
vocabulary (`core/history.py`): the portal's own events, the broker's deliveries
(its firehose) and dead letters, every reply as it arrives at the send API (with a
durability probe of the service's reconciliation row first, for a `mottatt`), what
the service printed, crashes and restarts it caused, and at the end the service's
rows as `record` events, read after a SIGKILL and restart of the service.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.components.portal import Portal, PortalState
from harness.core.history import (
    CASE_SYSTEM,
    FAULT,
    HARNESS,
    HTTP,
    STORAGE,
    TRANSPORT,
    Event,
    History,
)
from harness.core.timing import Timing
from harness.core.wire import (
    BEKYMRINGSMELDING_ID,
    DOKUMENTLAGER_ID,
    KLIENTMELDING_ID,
    MELDING_ID,
    MOTTATT,
    SERVERFEIL,
    SVAR_TIL,
    TIDSAVBRUDD,
)
from harness.core.workload import make_submission
from harness.live.amqp.broker import Endpoint
from harness.live.amqp.fiksio import BrokerRun, Dead, Delivered, Listener, Publisher
from harness.live.clock import WallLoop
from harness.live.crypto.mode import CryptoMode
from harness.live.http.server import Answer, FiksIoServer
from harness.live.package import pack
from harness.live.plan import NEEDS_MANAGEMENT, LivePlan
from harness.live.postgres import DEFAULT_ADMIN_URL, RunDatabase
from harness.live.reconcile import HttpReconciler, ReconcileError, Reconciler, Row, SqlReconciler
from harness.live.service import Service, ServiceError

PORTAL_ACCOUNT = "5f4c3a0e-7d1b-4e2a-9c6f-0b8d2e1a7c35"  # the portal's own account (synthetic)
INTEGRATION_ID = "harness-integrasjon"
HTTP_WAIT = 30.0  # seconds an HTTP request may wait for the loop
WATCH_MS = 250  # how often the supervisor looks at the service's process


@dataclass
class LiveContext:
    """What components need (core/context.Context), in wall-clock time."""

    loop: WallLoop
    history: History
    timing: Timing
    digests: dict[bytes, bytes] | None = field(default_factory=dict)

    def record(self, component: str, kind: str, report: str | None = None, **data: object) -> None:
        self.history.append(Event(self.loop.now, component, kind, report, data))


@dataclass(frozen=True)
class ServiceSpec:
    command: str
    reconcile: str = "http"  # http | sql | an http://127.0.0.1:PORT URL
    log: Path = Path("service.log")
    crypto: bool = False  # packages as Fiks IO seals them (ASiC-E in CMS), not plain zips


@dataclass
class LiveResult:
    history: History
    completed: bool
    reached: dict[str, int]
    fired: dict[str, int]
    service_starts: int
    broker: str
    reconcile_form: str
    notes: list[str]


@dataclass
class _Sent:
    report: str
    index: int
    melding_id: str
    replies: int = 0


class LiveWorld:
    def __init__(
        self,
        plan: LivePlan,
        service: ServiceSpec,
        endpoint: Endpoint,
        postgres_url: str = DEFAULT_ADMIN_URL,
        run_id: str | None = None,
    ) -> None:
        self.plan = plan
        self.spec = service
        self.endpoint = endpoint
        self.loop = WallLoop(plan.seed)
        self.ctx = LiveContext(self.loop, History(), plan.timing.to_timing())
        run_id = run_id or secrets.token_hex(4)
        self.account = _uuid(f"{plan.seed}:account")
        self.broker = BrokerRun(endpoint, self.account, run_id)
        self.db = RunDatabase(postgres_url, run_id)
        self.reached: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()
        self.notes: list[str] = []
        self._sent: dict[str, _Sent] = {}  # by melding-id
        self._documents: dict[str, tuple[str, bytes]] = {}  # dokumentlager-id -> (melding, body)
        self._current: str | None = None  # the report in flight (sequential mode)
        self._current_index = -1
        self._closed: set[str] = set()
        self._faults_done: set[tuple[str, int]] = set()
        self._token = secrets.token_hex(16)
        self.server: FiksIoServer | None = None
        self.service: Service | None = None
        self.publisher: Publisher | None = None
        self.listener: Listener | None = None
        self.reconciler: Reconciler | None = None
        self.portal: Portal | None = None
        self.fatal: Exception | None = None  # a broken service, found inside the loop
        self._killed = False  # killed by a fault, restart pending
        self.crypto = CryptoMode() if service.crypto else None

    # -- setting up and tearing down ---------------------------------------
    def _env(self, reconcile_port: int) -> dict[str, str]:
        assert self.server is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
        env.update(
            HARNESS_AMQP_URL=self.broker.service_url,
            HARNESS_FIKSIO_ACCOUNT=self.account,
            HARNESS_FIKSIO_QUEUE=self.broker.queue,
            HARNESS_SEND_URL=self.server.send_url,
            HARNESS_DOKUMENTLAGER_URL=self.server.dokumentlager_url,
            HARNESS_TOKEN_URL=self.server.token_url,
            HARNESS_INTEGRATION_ID=INTEGRATION_ID,
            HARNESS_INTEGRATION_PASSWORD=self._token,
            HARNESS_DATABASE_URL=self.db.url,
            HARNESS_RECONCILE_PORT=str(reconcile_port),
            HARNESS_RECONCILE_URL=f"http://127.0.0.1:{reconcile_port}",
        )
        if self.crypto is not None:
            env.update(self.crypto.env())
        return env

    def run(self) -> LiveResult:
        try:
            self._set_up()
            completed = self._drive()
            self._finish(completed)
            return LiveResult(
                self.ctx.history,
                completed,
                dict(self.reached),
                dict(self.fired),
                self.service.starts if self.service else 0,
                "private RabbitMQ node" if self.endpoint.private else "given broker",
                self.reconciler.form if self.reconciler else self.spec.reconcile,
                self.notes,
            )
        finally:
            self._tear_down()

    def _set_up(self) -> None:
        from harness.live.amqp.broker import free_port

        self.server = FiksIoServer(self)
        self.broker.create()
        self.db.create()
        port = free_port()
        url = self.spec.reconcile if self.spec.reconcile.startswith("http://") else None
        self.reconciler = (
            SqlReconciler(self.db.query)
            if self.spec.reconcile == "sql"
            else HttpReconciler(url or f"http://127.0.0.1:{port}")
        )
        ready_url = None if self.spec.reconcile == "sql" else url or f"http://127.0.0.1:{port}"
        self.service = Service(
            self.spec.command, self._env(port), self.spec.log, ready_url, self._service_said
        )
        self.publisher = Publisher(self.broker)
        self.listener = Listener(self.broker, self._on_dead, self._on_delivered)
        self._start_service()
        self.portal = Portal(self.ctx, self._send)
        self.portal.on_closed = self._on_closed
        self.loop.call_later(WATCH_MS, self._watch)

    def _watch(self) -> None:
        """A supervisor's round: a service that died on its own is a crash, and is
        started again (as systemd or a container runtime would)."""
        service = self.service
        killed = self._killed
        if not killed and service is not None and service.process is not None and not service.alive:
            code = service.process.returncode
            self.ctx.record(
                CASE_SYSTEM, "crash", self._current, cause="exited", detail=f"exit status {code}"
            )
            self._start_service()
        self.loop.call_later(WATCH_MS, self._watch)

    def _start_service(self) -> None:
        assert self.service is not None
        self.service.start()
        took = self.service.wait_ready(
            lambda: self.broker.queue_state()[1], self.plan.timing.ready_timeout
        )
        self.ctx.record(
            CASE_SYSTEM,
            "start",
            self._current,
            incarnation=self.service.starts,
            took_ms=int(took * 1000),
        )

    def _tear_down(self) -> None:
        """Everything the run made goes, whatever happened: each step on its own."""
        self.loop.stop()
        steps: list[Callable[[], None]] = [self._stop_service]
        if self.listener is not None:
            steps.append(self.listener.close)
        if self.publisher is not None:
            steps.append(self.publisher.close)
        steps += [self.broker.remove, self.db.drop]
        if self.server is not None:
            steps.append(self.server.stop)
        if self.crypto is not None:
            steps.append(self.crypto.close)
        for step in steps:
            with contextlib.suppress(Exception):
                step()

    def _stop_service(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service.flush()

    # -- driving the workload ----------------------------------------------
    def _drive(self) -> bool:
        specs = self.plan.specs()
        t = self.plan.timing
        per_report = t.deadline + t.print_delay + 2 * t.ready_timeout + 5
        for index, spec in enumerate(specs):
            sub = make_submission(index, spec, self.plan.seed)
            self._current_index = index
            # One fault a report: a storage window heals before the next report goes out.
            self.loop.run_until(lambda: not self.db.down, t.deadline)
            self._storage_up()
            self._storage_fault(index)
            assert self.portal is not None
            before = set(self.portal.reports)
            self.portal.submit(sub)
            new = set(self.portal.reports) - before
            if not new:
                continue  # refused by the portal: nothing in flight
            report = self._current = next(iter(new))
            if self.plan.faults_for(index, "resend"):
                self._fire("resend", index, report)
                self.portal.resend_now(report)
            resolved = self.loop.run_until(
                lambda r=report: r in self._closed or self.fatal is not None,  # type: ignore[misc]
                per_report,
            )
            if self.fatal is not None:
                raise self.fatal
            if not resolved:
                self.notes.append(f"report #{index} was not resolved in {per_report:.0f} s")
                return False
        self.loop.sleep(t.settle)
        return True

    def _storage_fault(self, index: int) -> None:
        for fault in self.plan.faults_for(index, "storage_down"):
            self.reached[fault.point] += 1
            self.fired[fault.point] += 1
            self.db.storage_down()
            self.ctx.record(STORAGE, "fault", None, fault=fault.point, seconds=fault.seconds)
            self.loop.call_later(int(fault.seconds * 1000), self._storage_up)

    def _storage_up(self) -> None:
        if self.db.down:
            self.db.storage_up()
            self.ctx.record(STORAGE, "healed", self._current)

    def _fire(self, kind: str, index: int, report: str | None) -> bool:
        """Whether the plan strikes `kind` at report `index` now (once per report)."""
        if not self.plan.faults_for(index, kind):
            return False
        point = f"live.{kind}"
        self.reached[point] += 1
        if (kind, index) in self._faults_done:
            return False
        if kind in NEEDS_MANAGEMENT and not self.endpoint.private:
            self.notes.append(f"{point} skipped: it needs a private node (the management API)")
            return False
        self._faults_done.add((kind, index))
        self.fired[point] += 1
        self.ctx.record(FAULT, "inject", report, fault=point)
        return True

    def _on_closed(self, report: str) -> None:
        self._closed.add(report)

    # -- the portal's sender: publishing ------------------------------------
    def _send(
        self, meldingstype: str, headers: Mapping[str, str], files: Mapping[str, bytes]
    ) -> str:
        report = headers.get(BEKYMRINGSMELDING_ID, "")
        index = self._index_of(report)
        attempt = sum(1 for s in self._sent.values() if s.report == report)
        melding_id = _uuid(f"{self.plan.seed}:{report}:{attempt}")
        body = pack(files) if self.crypto is None else self.crypto.seal(files)
        amqp_headers = {
            MELDING_ID: melding_id,
            "type": meldingstype,
            "avsender-id": PORTAL_ACCOUNT,
            "egendefinert-header.klientMeldingId": headers.get(KLIENTMELDING_ID, ""),
            "egendefinert-header.bekymringsmelding-id": report,
        }
        by_reference = attempt == 0 and bool(self.plan.faults_for(index, "kill_at_download"))
        if by_reference:
            doc = _uuid(f"{self.plan.seed}:{report}:dokument")
            self._documents[doc] = (melding_id, body)
            amqp_headers[DOKUMENTLAGER_ID] = doc
            body = b""
        self._sent[melding_id] = _Sent(report, index, melding_id)
        assert self.publisher is not None
        self.publisher.publish(body, amqp_headers, self.ctx.timing.ttl)
        self.ctx.record(
            TRANSPORT, "queue", report, melding_id=melding_id, by_reference=by_reference
        )
        return melding_id

    def _index_of(self, report: str) -> int:
        if self.portal is not None and report in self.portal.reports:
            return self.portal.reports[report].submission.index
        return self._current_index

    # -- what the broker tells -----------------------------------------------
    def _on_delivered(self, d: Delivered) -> None:
        def note() -> None:
            sent = self._sent.get(d.melding_id)
            self.ctx.record(
                TRANSPORT,
                "deliver",
                sent.report if sent else None,
                melding_id=d.melding_id,
                delivery=d.delivery_count + 1,
                redelivered=d.redelivered,
            )

        self.loop.post(note)

    def _on_dead(self, d: Dead) -> None:
        def note() -> None:
            sent = self._sent.get(d.melding_id)
            report = sent.report if sent else None
            receipt = TIDSAVBRUDD if d.reason == "expired" else SERVERFEIL
            kind = "expire" if d.reason == "expired" else "dead_letter"
            self.ctx.record(
                TRANSPORT,
                kind,
                report,
                melding_id=d.melding_id,
                reason=d.reason,
                deliveries=d.deliveries,
            )
            assert self.portal is not None
            self.portal.on_receipt(receipt, {SVAR_TIL: d.melding_id})

        self.loop.post(note)

    def _service_said(self, line: str) -> None:
        self.loop.post(lambda: self.ctx.record(CASE_SYSTEM, "log", self._about(line), line=line))

    def _about(self, line: str) -> str | None:
        """The report a line of the service's output names (by its id or a melding-id),
        else the report in flight."""
        if self.portal is not None:
            for report in self.portal.reports:
                if report in line:
                    return report
        for melding_id, sent in self._sent.items():
            if melding_id in line:
                return sent.report
        return self._current

    # -- the HTTP routes (called from the server's threads) -----------------------
    def _authorised(self, auth: Mapping[str, str]) -> bool:
        return (
            auth.get("IntegrasjonId") == INTEGRATION_ID
            and auth.get("IntegrasjonPassord") == self._token
            and auth.get("Authorization", "").startswith("Bearer ")
        )

    def send(
        self, metadata: dict[str, Any], data: bytes | None, auth: dict[str, str]
    ) -> Answer | None:
        try:
            return self.loop.ask(lambda: self._reply(metadata, data, auth), HTTP_WAIT)
        except Exception:
            return Answer.json(503, {"error": "the harness is shutting down"})

    def _reply(
        self, metadata: dict[str, Any], data: bytes | None, auth: Mapping[str, str]
    ) -> Answer | None:
        svar = str(metadata.get("svarPaMelding") or "")
        kind = str(metadata.get("meldingType") or "")
        sent = self._sent.get(svar)
        report = sent.report if sent else None
        if not self._authorised(auth):
            self.ctx.record(HTTP, "refused", report, method="POST", path="send", status=401)
            return Answer.json(
                401, {"error": "IntegrasjonId, IntegrasjonPassord and a Bearer token"}
            )
        if sent is None:
            self.ctx.record(CASE_SYSTEM, "reply_unknown", None, meldingstype=kind, svar_til=svar)
            return Answer.json(400, {"error": f"svarPaMelding {svar!r} answers no message sent"})
        sent.replies += 1
        reply: dict[str, object] = {"meldingstype": kind, "via": "http", "melding_id": svar}
        if kind == MOTTATT:
            reply["durable"] = self._probe(sent.report)
        self.ctx.record(CASE_SYSTEM, "reply", report, **reply)
        problem = None if self.crypto is None or not data else self.crypto.unreadable(data)
        if problem is not None:  # the portal cannot read what the service told it
            self.ctx.record(
                CASE_SYSTEM, "reply_unreadable", report, meldingstype=kind, detail=problem
            )
        if sent.replies == 1 and self._fire("kill_at_reply", sent.index, report):
            self._kill(report, "live.kill_at_reply", sent)
            return None  # the service died before it heard back: the reply never counted
        if sent.replies == 1 and self._fire("close_connection", sent.index, report):
            status = self.broker.close_service_connections("harness fault: close_connection")
            self.ctx.record(
                TRANSPORT, "fault", report, fault="live.close_connection", status=status
            )
        self.ctx.record(TRANSPORT, "route_reply", report, meldingstype=kind, svar_til=svar)
        assert self.portal is not None
        portal = self.portal
        self.loop.call_later(
            self.ctx.timing.latency, lambda: portal.on_receipt(kind, {SVAR_TIL: svar})
        )
        return Answer.json(
            202,
            {
                "meldingId": _uuid(f"{self.plan.seed}:{svar}:svar:{sent.replies}"),
                "meldingType": kind,
                "avsenderKontoId": str(metadata.get("avsenderKontoId") or self.account),
                "mottakerKontoId": str(metadata.get("mottakerKontoId") or PORTAL_ACCOUNT),
                "ttl": int(metadata.get("ttl") or 0)
                if str(metadata.get("ttl") or "0").isdigit()
                else 0,
                "dokumentlagerId": None,
                "svarPaMelding": svar,
                "headere": metadata.get("headere") or {},
            },
        )

    def download(self, dokumentlager_id: str, auth: dict[str, str]) -> Answer | None:
        try:
            return self.loop.ask(lambda: self._download(dokumentlager_id, auth), HTTP_WAIT)
        except Exception:
            return Answer.json(503, {"error": "the harness is shutting down"})

    def _download(self, doc: str, auth: Mapping[str, str]) -> Answer | None:
        found = self._documents.get(doc)
        sent = self._sent.get(found[0]) if found else None
        report = sent.report if sent else None
        if not self._authorised(auth):
            self.ctx.record(HTTP, "refused", report, method="GET", path="dokumentlager", status=401)
            return Answer.json(
                401, {"error": "IntegrasjonId, IntegrasjonPassord and a Bearer token"}
            )
        if found is None or sent is None:
            self.ctx.record(HTTP, "request", None, method="GET", path="dokumentlager", status=404)
            return Answer.json(404, {"error": f"no document {doc}"})
        self.ctx.record(HTTP, "request", report, method="GET", path="dokumentlager", status=200)
        if self._fire("kill_at_download", sent.index, report):
            self._kill(report, "live.kill_at_download", sent)
            return None
        return Answer(200, found[1], "application/octet-stream")

    def token(self) -> Answer:
        return Answer.json(200, {"access_token": f"harness-{self._token[:8]}", "expires_in": 120})

    def catalogue(self, account: str) -> Answer:
        return Answer.json(404, {"error": "plain mode: no keys (encryption comes with issue 17)"})

    # -- kills, restarts and the durability probe -----------------------------------
    def _kill(self, report: str | None, point: str, sent: _Sent) -> None:
        """SIGKILL the service, tell whether it had acked the message, restart it."""
        assert self.service is not None
        self._killed = True  # the supervisor's round leaves the restart to _restart
        self.service.kill()
        self.ctx.record(CASE_SYSTEM, "crash", report, cause="fault", detail=point)
        acked = self._acked_before_kill(sent)
        self.loop.post(lambda: self._restart(report, sent, acked))

    def _acked_before_kill(self, sent: _Sent) -> bool | None:
        """After a kill: the broker puts back whatever the dead consumer had not acked.
        If the queue is empty once the consumer is gone, the message had been acked."""
        limit = time.monotonic() + 5
        ready = consumers = -1
        while time.monotonic() < limit:
            ready, consumers = self.broker.queue_state()
            if consumers == 0:
                break
            time.sleep(0.02)
        if consumers != 0:
            return None
        return ready == 0 and sent.replies == 0

    def _restart(self, report: str | None, sent: _Sent, acked: bool | None) -> None:
        self._start_service()
        self._killed = False
        if acked:  # acked, yet never answered: the probe says whether it had been stored
            self.ctx.record(
                CASE_SYSTEM,
                "ack",
                report,
                answered=False,
                durable=self._probe(sent.report),
                inferred="the queue was empty once the killed consumer was gone",
            )

    def _probe(self, report: str) -> bool:
        assert self.reconciler is not None
        try:
            return bool(self.reconciler.find(report))
        except ReconcileError as exc:
            self.ctx.record(HARNESS, "probe_failed", report, detail=str(exc))
            self.fatal = exc
            raise

    # -- the end ------------------------------------------------------------
    def _finish(self, completed: bool) -> None:
        assert self.service is not None and self.reconciler is not None
        self._storage_up()
        self.ctx.record(HARNESS, "end", None, completed=completed)
        first = self._rows()
        self.service.kill()
        self.ctx.record(HARNESS, "restart_for_reconcile", None)
        self._start_service()
        second = self._rows()
        before = sorted(r.digest for r in first)
        after = sorted(r.digest for r in second)
        if before != after:
            self.ctx.record(
                HARNESS, "reconcile_changed", None, before=len(first), after=len(second)
            )
        assert self.portal is not None
        counts = Counter(r.report_id for r in second if r.state == "stored")
        for report in self.portal.reports:  # what a person checks first: is it there?
            self.ctx.record(HARNESS, "reconciled", report, rows=counts.get(report, 0))
        for row in sorted(second, key=lambda r: (r.report_id, r.digest)):
            if row.state != "stored":
                continue
            self.ctx.record(
                HARNESS,
                "record",
                row.report_id,
                digest=row.digest,
                files=row.files,
                melding_ids=list(row.melding_ids),
            )
        self.service.stop()
        self.service.flush()

    def _rows(self) -> list[Row]:
        assert self.reconciler is not None
        return self.reconciler.rows()


def _uuid(text: str) -> str:
    """A UUID-shaped id derived from `text`: the same plan gives the same ids."""
    h = hashlib.sha256(text.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:32]}"


def run_live(
    plan: LivePlan,
    service: ServiceSpec,
    endpoint: Endpoint,
    postgres_url: str = DEFAULT_ADMIN_URL,
    run_id: str | None = None,
) -> LiveResult:
    return LiveWorld(plan, service, endpoint, postgres_url, run_id).run()


__all__ = ["LiveResult", "LiveWorld", "PortalState", "ServiceError", "ServiceSpec", "run_live"]
