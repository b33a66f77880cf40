"""The reference services under `examples/services/`, driven from the outside.

Each test runs a service as the harness would (a command with HARNESS_*
variables) against the machine's RabbitMQ and PostgreSQL and a fake of the
Fiks IO HTTP side, then judges it only by what it sent and what its
reconciliation API says. The correct services must pass every one; each buggy
variant must show its own bug, and only that one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable

import psycopg
import pytest
import requests

from harness.core.digest import canonical_json
from harness.core.hostile import DATA_PROFILES
from services.blackbox_support import (
    FEILET,
    MOTTATT,
    PORTAL_ACCOUNT,
    FakeFiksIO,
    Queue,
    Service,
    package,
    rabbitmqctl,
    report_files,
    wait_for,
)

pytestmark = pytest.mark.blackbox

CORRECT = ["python/case_service", "node/case_service"]
FAMILIA = ["python/familia", "node/familia"]
Start = Callable[[str], Service]


def json_sha256(raw: bytes) -> str:
    """What the harness expects in `json_sha256`: its own canonical JSON of what it sent."""
    return hashlib.sha256(canonical_json(json.loads(raw))).hexdigest()


def refuse_writes(database: str, *, at_commit: bool = False) -> None:
    """Make every insert into the services' table fail, at once or only at COMMIT."""
    with psycopg.connect(database, autocommit=True) as db:
        db.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'disken er full (test)'; END $$"
        )
        if at_commit:
            db.execute(
                "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON reports"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        else:
            db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON reports"
                " FOR EACH ROW EXECUTE FUNCTION refuse()"
            )


@pytest.mark.parametrize("name", CORRECT)
def test_stores_each_report_once_and_replies_mottatt_after_commit(
    name: str, start_service: Start, queue: Queue, fiksio: FakeFiksIO, database: str
) -> None:
    service = start_service(name)
    sent = {}
    for index, spec in enumerate([{"form": "privat"}, {"form": "offentlig", "version": 1}]):
        files = report_files(index, **spec)
        report_id = str(uuid.uuid4())
        sent[report_id] = (queue.publish(package(files), report_id), files)
    # one by reference: an empty body and a dokumentlager-id, as Fiks IO sends large packages
    files = report_files(2, data="astral")
    fiksio.documents["dok-1"] = package(files)
    by_ref = str(uuid.uuid4())
    sent[by_ref] = (queue.publish(b"", by_ref, extra={"dokumentlager-id": "dok-1"}), files)

    for melding_id, _files in sent.values():
        (reply,) = fiksio.wait_reply(melding_id)
        assert reply.type == MOTTATT
        assert reply.data is None  # mottatt carries no payload
        assert reply.metadata["avsenderKontoId"] == queue.account
        assert reply.metadata["mottakerKontoId"] == PORTAL_ACCOUNT
        assert reply.metadata["ttl"] > 0
        assert reply.headers["Authorization"].startswith("Bearer token-")

    rows = {row["bekymringsmelding_id"]: row for row in service.reports()}
    assert set(rows) == set(sent)
    for report_id, (melding_id, files) in sent.items():
        row = rows[report_id]
        assert row["fiks_melding_ids"] == [melding_id]
        assert row["state"] == "stored"
        assert row["json_sha256"] == json_sha256(files["bekymringsmelding.json"])
        assert row["pdf_sha256"] == hashlib.sha256(files["bekymringsmelding.pdf"]).hexdigest()
        assert row["stored_at"].endswith("Z") and "T" in row["stored_at"]
        single = service.report(report_id)
        assert single.status_code == 200 and single.json() == row
    assert service.report(str(uuid.uuid4())).status_code == 404

    queue.wait_settled()  # every message acked


@pytest.mark.parametrize("name", CORRECT)
def test_a_resend_or_a_redelivery_stores_nothing_new_and_says_mottatt_again(
    name: str, start_service: Start, queue: Queue, fiksio: FakeFiksIO
) -> None:
    service = start_service(name)
    files = report_files(0)
    report_id = str(uuid.uuid4())
    first = queue.publish(package(files), report_id)
    fiksio.wait_reply(first)
    resend = queue.publish(package(files), report_id)  # new melding-id, same report id
    again = queue.publish(package(files), report_id, melding_id=first)  # same melding-id
    assert fiksio.wait_reply(resend)[0].type == MOTTATT
    assert [r.type for r in fiksio.wait_reply(first, 2)] == [MOTTATT, MOTTATT]
    assert again == first
    (row,) = service.reports()
    assert row["bekymringsmelding_id"] == report_id
    assert row["fiks_melding_ids"] == [first]


@pytest.mark.parametrize("name", CORRECT)
def test_an_unusable_package_gets_feilet_with_a_reason_and_is_not_stored(
    name: str, start_service: Start, queue: Queue, fiksio: FakeFiksIO
) -> None:
    service = start_service(name)
    files = report_files(0)
    broken = {
        "not a zip": (b"PK\x03\x04 this is no zip", {}),
        "no json": (package({"bekymringsmelding.pdf": files["bekymringsmelding.pdf"]}), {}),
        "bad json": (package({**files, "bekymringsmelding.json": b'{"melding": '}), {}),
        "not utf-8": (package({**files, "bekymringsmelding.json": b'{"a": "\xe6"}'}), {}),
        "NaN": (package({**files, "bekymringsmelding.json": b'{"a": [1, -Infinity, NaN]}'}), {}),
        "lone surrogate": (package({**files, "bekymringsmelding.json": b'{"a": "\\ud800"}'}), {}),
        "not an object": (package({**files, "bekymringsmelding.json": b'["a"]'}), {}),
        "no report id": (package(files), {"drop": ("egendefinert-header.bekymringsmelding-id",)}),
        "not in dokumentlager": (b"", {"extra": {"dokumentlager-id": "finnes-ikke"}}),
    }
    sent = {
        why: queue.publish(body, str(uuid.uuid4()), **options)  # type: ignore[arg-type]
        for why, (body, options) in broken.items()
    }
    for why, melding_id in sent.items():
        (reply,) = fiksio.wait_reply(melding_id)
        assert reply.type == FEILET, why
        assert reply.feilmelding()["melding"], why  # a reason a person can read
    assert service.reports() == []
    queue.wait_settled()  # refused is still handled: acked, not left to redeliver


@pytest.mark.parametrize("name", CORRECT)
def test_a_failed_store_gets_feilet(
    name: str, start_service: Start, queue: Queue, fiksio: FakeFiksIO, database: str
) -> None:
    service = start_service(name)
    refuse_writes(database)
    melding_id = queue.publish(package(report_files(0)), str(uuid.uuid4()))
    (reply,) = fiksio.wait_reply(melding_id)
    assert reply.type == FEILET
    assert "disken er full" in reply.feilmelding()["melding"]
    assert service.reports() == []


@pytest.mark.parametrize("name", FAMILIA)
def test_familia_says_mottatt_for_a_report_the_database_refused(
    name: str, start_service: Start, queue: Queue, fiksio: FakeFiksIO, database: str
) -> None:
    service = start_service(name)
    refuse_writes(database)
    melding_id = queue.publish(package(report_files(0)), str(uuid.uuid4()))
    (reply,) = fiksio.wait_reply(melding_id)
    assert reply.type == MOTTATT  # the bug: a receipt for nothing
    assert service.reports() == []
    assert "disken er full" in service.log()  # logged, and forgotten


@pytest.mark.parametrize("name", FAMILIA)
def test_familia_is_correct_while_the_database_works(
    name: str, start_service: Start, queue: Queue, fiksio: FakeFiksIO
) -> None:
    """Its bug hides behind a failure: on a good day it stores and confirms as it should."""
    service = start_service(name)
    files = report_files(0)
    report_id = str(uuid.uuid4())
    assert fiksio.wait_reply(queue.publish(package(files), report_id))[0].type == MOTTATT
    (row,) = service.reports()
    assert row["json_sha256"] == json_sha256(files["bekymringsmelding.json"])


@pytest.mark.parametrize(
    ("name", "mottatt_first"),
    [("python/case_service", False), ("python/mottatt_before_commit", True)],
)
def test_mottatt_before_commit_confirms_a_report_whose_commit_then_fails(
    name: str,
    mottatt_first: bool,
    start_service: Start,
    queue: Queue,
    fiksio: FakeFiksIO,
    database: str,
) -> None:
    service = start_service(name)
    refuse_writes(database, at_commit=True)  # the insert works, the COMMIT fails
    melding_id = queue.publish(package(report_files(0)), str(uuid.uuid4()))
    if mottatt_first:
        replies = fiksio.wait_reply(melding_id, 2)
        assert [r.type for r in replies] == [MOTTATT, FEILET]  # the receipt came first
    else:
        (reply,) = fiksio.wait_reply(melding_id)
        assert reply.type == FEILET
    assert service.reports() == []


@pytest.mark.parametrize(
    ("name", "rows"), [("python/case_service", 1), ("python/keyed_on_melding_id", 2)]
)
def test_keyed_on_melding_id_stores_a_resend_twice(
    name: str, rows: int, start_service: Start, queue: Queue, fiksio: FakeFiksIO
) -> None:
    service = start_service(name)
    files = report_files(0)
    report_id = str(uuid.uuid4())
    first = queue.publish(package(files), report_id)
    fiksio.wait_reply(first)
    fiksio.wait_reply(queue.publish(package(files), report_id, melding_id=first), 2)
    assert len(service.reports()) == 1  # a broker redelivery keeps melding-id: caught by both
    fiksio.wait_reply(queue.publish(package(files), report_id))  # a resend: a new melding-id
    found = service.reports()
    assert [r["bekymringsmelding_id"] for r in found] == [report_id] * rows
    assert service.report(report_id).json() == found[0]


@pytest.mark.parametrize(
    ("name", "retried"), [("python/case_service", True), ("python/ack_before_store", False)]
)
def test_a_reply_that_fails_is_retried_only_if_the_message_was_not_acked(
    name: str, retried: bool, start_service: Start, queue: Queue, fiksio: FakeFiksIO
) -> None:
    service = start_service(name)
    fiksio.fail_next = 1  # the send API answers the first reply 500 and applies nothing
    melding_id = queue.publish(package(report_files(0)), str(uuid.uuid4()))
    wait_for("the refused reply", lambda: fiksio.refused)
    # a second report behind it: once it is answered, a requeued first one was retried
    marker = queue.publish(package(report_files(1)), str(uuid.uuid4()))
    fiksio.wait_reply(marker)
    if retried:
        assert [r.type for r in fiksio.wait_reply(melding_id)] == [MOTTATT]
    else:
        assert fiksio.replies_to(melding_id) == []  # acked already: nobody will ever answer
    assert len(service.reports()) == 2  # stored either way: the loss is the portal's receipt
    queue.wait_settled()


@pytest.mark.parametrize(
    ("name", "survives"), [("python/case_service", True), ("python/ack_before_store", False)]
)
def test_a_kill_before_the_commit_loses_the_report_only_if_it_was_acked(
    name: str,
    survives: bool,
    start_service: Start,
    queue: Queue,
    fiksio: FakeFiksIO,
    database: str,
) -> None:
    service = start_service(name)
    with psycopg.connect(database, autocommit=True) as lock:
        with lock.transaction():
            lock.execute("LOCK TABLE reports IN EXCLUSIVE MODE")  # the service's insert waits
            report_id = str(uuid.uuid4())
            melding_id = queue.publish(package(report_files(0)), report_id)
            wait_for(
                "the service's insert to wait on the lock",
                lambda: (
                    lock.execute(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    ).fetchone()
                    == (1,)
                ),
            )
            service.kill()
        service.start()
    marker = queue.publish(package(report_files(1)), str(uuid.uuid4()))
    fiksio.wait_reply(marker)
    stored = {r["bekymringsmelding_id"] for r in service.reports()}
    if survives:  # unacked, so the broker delivered it again to the restarted service
        assert [r.type for r in fiksio.wait_reply(melding_id)] == [MOTTATT]
        assert report_id in stored
    else:
        assert fiksio.replies_to(melding_id) == []
        assert report_id not in stored
    queue.wait_settled()


@pytest.mark.parametrize("name", CORRECT)
def test_every_hostile_profile_reconciles_to_the_harness_digest(
    name: str, start_service: Start, queue: Queue, fiksio: FakeFiksIO, database: str
) -> None:
    """json_sha256 is computed by the service from its stored row; it must be the bytes the
    harness's own canonical JSON gives, for every data profile (NFD, 4-byte UTF-8, ...)."""
    service = start_service(name)
    expected = {}
    for index, profile in enumerate(DATA_PROFILES):
        if profile == "near_limit":
            continue  # 5 MB of PDF says nothing here about JSON; the size is covered elsewhere
        files = report_files(index, data=profile, form="offentlig" if index % 2 else "privat")
        report_id = str(uuid.uuid4())
        fiksio.wait_reply(queue.publish(package(files), report_id))
        expected[report_id] = json_sha256(files["bekymringsmelding.json"])
    rows = service.reports()
    assert {r["bekymringsmelding_id"]: r["json_sha256"] for r in rows} == expected
    # the SQL form (--reconcile sql) says the same as the HTTP form
    with psycopg.connect(database) as db:
        view = dict(db.execute("SELECT bekymringsmelding_id, json_sha256 FROM harness_reports"))
    assert view == expected


def close_connections(account: str) -> int:
    """Close the service's broker connections, as the harness's connection fault does."""
    listing = rabbitmqctl("list_connections", "pid", "client_properties")
    pids = [line.split("\t")[0] for line in listing.splitlines() if account in line]
    for pid in pids:
        rabbitmqctl("close_connection", pid, "test")
    return len(pids)


@pytest.mark.parametrize("name", CORRECT)
def test_a_closed_connection_is_reopened_and_the_unacked_message_answered_again(
    name: str, start_service: Start, queue: Queue, fiksio: FakeFiksIO, database: str
) -> None:
    service = start_service(name)
    report_id = str(uuid.uuid4())
    with psycopg.connect(database, autocommit=True) as lock, lock.transaction():
        lock.execute("LOCK TABLE reports IN EXCLUSIVE MODE")
        melding_id = queue.publish(package(report_files(0)), report_id)
        wait_for(
            "the service's insert to wait on the lock",
            lambda: (
                lock.execute(
                    "SELECT count(*) > 0 FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                ).fetchone()
                == (True,)
            ),
        )
        assert close_connections(queue.account) == 1
    # the store commits and mottatt goes out, but the ack meets a closed channel: the broker
    # delivers the message again, and the second delivery finds the report stored
    assert [r.type for r in fiksio.wait_reply(melding_id, 2)] == [MOTTATT, MOTTATT]
    (row,) = service.reports()
    assert row["bekymringsmelding_id"] == report_id
    wait_for("the service to consume again", service.ready)
    queue.wait_settled()


@pytest.mark.parametrize("name", CORRECT)
def test_ready_only_while_consuming_and_back_once_the_queue_is(
    name: str, start_service: Start, queue: Queue, fiksio: FakeFiksIO
) -> None:
    service = start_service(name)
    queue.channel.queue_delete(queue.name)  # the broker cancels the consumer
    wait_for("ready to say 503", lambda: not service.ready())
    queue.channel.queue_declare(queue.name, durable=True, arguments={"x-queue-type": "quorum"})
    wait_for("ready to say 200 again", service.ready)
    melding_id = queue.publish(package(report_files(0)), str(uuid.uuid4()))
    assert fiksio.wait_reply(melding_id)[0].type == MOTTATT


@pytest.mark.parametrize("name", CORRECT)
def test_the_listing_pages_through_every_committed_row_exactly_once(
    name: str, start_service: Start, database: str
) -> None:
    service = start_service(name)
    body = json.dumps({"melding": "Å 🧒", "n": 1.0})
    with psycopg.connect(database) as db:  # rows as if stored: the listing reads the table
        db.cursor().executemany(
            "INSERT INTO reports (idempotency_key, bekymringsmelding_id, melding_id,"
            " meldingstype, report_json, report_pdf) VALUES (%s, %s, %s, 't', %s, %s)",
            [(f"k{n}", f"r{n}", f"m{n}", body, b"%PDF") for n in range(250)],
        )
        db.commit()
        with psycopg.connect(database) as uncommitted:  # not committed: never listed
            uncommitted.execute(
                "INSERT INTO reports (idempotency_key, bekymringsmelding_id, melding_id,"
                " meldingstype, report_json, report_pdf) VALUES ('x', 'x', 'x', 't', '{}', '')"
            )
            rows = service.reports()
            uncommitted.rollback()
    assert [r["bekymringsmelding_id"] for r in rows] == [f"r{n}" for n in range(250)]
    assert {r["json_sha256"] for r in rows} == {json_sha256(body.encode())}
    assert len({r["case_ref"] for r in rows}) == 250
    first = requests.get(f"{service.reconcile}/harness/v1/reports", timeout=5).json()
    assert len(first["reports"]) < 250 and first["next_cursor"] is not None
    bad = requests.get(f"{service.reconcile}/harness/v1/reports?cursor=zz", timeout=5)
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]


@pytest.mark.parametrize("name", CORRECT)
def test_a_revoked_token_is_replaced_and_the_reply_sent(
    name: str, start_service: Start, queue: Queue, fiksio: FakeFiksIO
) -> None:
    start_service(name)
    fiksio.wait_reply(queue.publish(package(report_files(0)), str(uuid.uuid4())))
    issued = len(fiksio.tokens)
    fiksio.tokens.clear()  # every token the service holds is now refused with 401
    melding_id = queue.publish(package(report_files(1)), str(uuid.uuid4()))
    assert [r.type for r in fiksio.wait_reply(melding_id)] == [MOTTATT]
    assert issued >= 1 and len(fiksio.tokens) == 1  # one fresh token, fetched after the 401


@pytest.mark.parametrize("name", CORRECT)
def test_a_message_with_no_address_is_dropped_not_redelivered_forever(
    name: str, start_service: Start, queue: Queue, fiksio: FakeFiksIO
) -> None:
    start_service(name)
    files = report_files(0)
    queue.publish(package(files), str(uuid.uuid4()), drop=("melding-id",))
    marker = queue.publish(package(files), str(uuid.uuid4()))
    fiksio.wait_reply(marker)
    assert len(fiksio.replies) == 1  # nobody to answer: no reply at all
    queue.wait_settled()
