"""A tiny case-system service for the live tier's own tests (pika + psycopg).

Not an example to copy (those are in examples/services/): the smallest service that
keeps the contract, so the harness's side can be tested on its own. `--bug NAME`
makes it one of the classic broken ones:
  familia       replies `mottatt` whatever the store did
  no-dedup      stores every delivery as a new record
  early-mottatt replies `mottatt` before it commits
  ack-first     acks the message before it has stored it
  no-ready      never answers /harness/v1/ready
  no-consume    answers it, but never consumes its queue
  exit          exits at once
  bad-rows      serves rows that do not match the reconciliation schema
  feilet-wrong-key  (crypto mode) encrypts its `feilet` to its own key, not the portal's
`--sql` serves no HTTP at all: the harness reads the view harness_reports.
With HARNESS_FIKSIO_CRYPTO=on it opens each package with the account's key from
HARNESS_FIKSIO_KEYS and seals its `feilet` replies for the portal.
"""

import sys

if "exit" in sys.argv[1:]:  # before the imports: a service that dies at once
    sys.exit(3)

import hashlib
import io
import json
import os
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pika
import psycopg
import requests

BUG = sys.argv[sys.argv.index("--bug") + 1] if "--bug" in sys.argv else ""
ENV = os.environ
CRYPTO = ENV.get("HARNESS_FIKSIO_CRYPTO") == "on"
if CRYPTO:
    from pathlib import Path

    from harness.live.crypto.asice import seal
    from harness.live.crypto.roles import Service

    KEYS = Service.from_folder(Path(ENV["HARNESS_FIKSIO_KEYS"]))
DB = ENV["HARNESS_DATABASE_URL"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS report (
  n serial PRIMARY KEY, id text NOT NULL, meldinger text[] NOT NULL, body jsonb NOT NULL,
  pdf bytea, json_sha256 text NOT NULL, stored_at timestamptz NOT NULL DEFAULT now()
  {unique}
);
CREATE OR REPLACE VIEW harness_reports AS
  SELECT id AS bekymringsmelding_id, meldinger AS fiks_melding_ids, 'stored' AS state,
         stored_at, json_sha256, encode(sha256(pdf), 'hex') AS pdf_sha256,
         'SAK-' || n AS case_ref
  FROM report;
"""


def canonical_sha(body: bytes) -> str:
    text = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def row(r: tuple) -> dict:
    rid, meldinger, state, at, json_sha, pdf_sha, case_ref = r
    out = {
        "bekymringsmelding_id": rid,
        "fiks_melding_ids": list(meldinger),
        "state": state,
        "stored_at": at.isoformat(),
        "json_sha256": json_sha,
        "pdf_sha256": pdf_sha,
        "case_ref": case_ref,
    }
    if BUG == "bad-rows":
        del out["json_sha256"]
    return out


class Reconcile(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/harness/v1/ready":
            status, out = (503 if BUG == "no-ready" else 200), {}
        else:
            with psycopg.connect(DB) as c:
                rows = [row(r) for r in c.execute("SELECT * FROM harness_reports")]
            if self.path.startswith("/harness/v1/reports/"):
                mine = [r for r in rows if r["bekymringsmelding_id"] == self.path.split("/")[-1]]
                status, out = (200, mine[0]) if mine else (404, {})
            else:
                status, out = 200, {"reports": rows, "next_cursor": None}
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def auth() -> dict:
    token = requests.post(ENV["HARNESS_TOKEN_URL"], timeout=5).json()["access_token"]
    return {
        "Authorization": f"Bearer {token}",
        "IntegrasjonId": ENV["HARNESS_INTEGRATION_ID"],
        "IntegrasjonPassord": ENV["HARNESS_INTEGRATION_PASSWORD"],
    }


def reply(headers: dict, kind: str) -> None:
    meta = {
        "avsenderKontoId": ENV["HARNESS_FIKSIO_ACCOUNT"],
        "mottakerKontoId": headers["avsender-id"],
        "meldingType": kind,
        "svarPaMelding": headers["melding-id"],
        "ttl": 60000,
        "headere": {},
    }
    files = {"metadata": (None, json.dumps(meta), "application/json")}
    if CRYPTO and kind.endswith("feilet.v1"):
        reason = {"feilmelding.json": json.dumps({"feilmelding": "lagring feilet"}).encode()}
        to = KEYS.account if BUG == "feilet-wrong-key" else KEYS.portal
        files["data"] = (
            "feilet.asice",
            seal(reason, KEYS.key, KEYS.account, to),
            "application/octet-stream",
        )
    r = requests.post(ENV["HARNESS_SEND_URL"], files=files, headers=auth(), timeout=10)
    r.raise_for_status()


def store(db: psycopg.Connection, rid: str, melding: str, files: dict) -> None:
    with db.transaction():
        if BUG != "no-dedup":
            found = db.execute("SELECT n FROM report WHERE id = %s", (rid,)).fetchone()
            if found:
                db.execute(
                    "UPDATE report SET meldinger = array_append(meldinger, %s) WHERE n = %s",
                    (melding, found[0]),
                )
                return
        body = files["bekymringsmelding.json"]
        db.execute(
            "INSERT INTO report (id, meldinger, body, pdf, json_sha256)"
            " VALUES (%s, %s, %s, %s, %s)",
            (rid, [melding], body.decode(), files["bekymringsmelding.pdf"], canonical_sha(body)),
        )
        if BUG == "early-mottatt":
            reply(CURRENT, "no.ks.fiks.bekymringsmelding.mottatt.v1")


CURRENT: dict = {}


def handle(ch, method, props, body: bytes) -> None:
    global CURRENT
    h = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in props.headers.items()}
    CURRENT = h
    if BUG == "ack-first":
        ch.basic_ack(method.delivery_tag)
        # A synchronous round trip on the same channel: when its answer comes, the broker
        # has taken the ack (frames of a channel are handled in order). Without it a kill
        # a moment later can beat the ack to the broker, and the bug goes unseen.
        ch.basic_qos(prefetch_count=10)
    if "dokumentlager-id" in h:
        url = f"{ENV['HARNESS_DOKUMENTLAGER_URL']}/{h['dokumentlager-id']}"
        body = requests.get(url, headers=auth(), timeout=10).content
    opened = KEYS.open(body).files if CRYPTO else None
    files = {
        n: opened[n] if opened is not None else zipfile.ZipFile(io.BytesIO(body)).read(n)
        for n in ("bekymringsmelding.json", "bekymringsmelding.pdf")
    }
    rid = h["egendefinert-header.bekymringsmelding-id"]
    kind = "no.ks.fiks.bekymringsmelding.mottatt.v1"
    try:
        store(STATE["db"], rid, h["melding-id"], files)
        print(f"stored {rid}", flush=True)
    except psycopg.Error as exc:
        print(f"store failed for {rid}: {' '.join(str(exc).split())[:120]}", flush=True)
        STATE["db"] = psycopg.connect(DB, autocommit=True)
        if BUG != "familia":
            kind = "no.ks.fiks.bekymringsmelding.feilet.v1"
    if not (BUG == "early-mottatt" and kind.endswith("mottatt.v1")):
        reply(h, kind)
    if BUG != "ack-first":
        ch.basic_ack(method.delivery_tag)


STATE: dict = {}


def main() -> None:
    db = STATE["db"] = psycopg.connect(DB, autocommit=True)
    db.execute(SCHEMA.format(unique="" if BUG == "no-dedup" else ", UNIQUE (id)"))
    if "--sql" not in sys.argv:
        port = int(ENV["HARNESS_RECONCILE_PORT"])
        server = ThreadingHTTPServer(("127.0.0.1", port), Reconcile)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    if BUG == "no-consume":
        threading.Event().wait()
    while True:  # a closed connection is opened again; what was unacked comes back
        try:
            conn = pika.BlockingConnection(pika.URLParameters(ENV["HARNESS_AMQP_URL"]))
            ch = conn.channel()
            ch.basic_qos(prefetch_count=10)
            ch.basic_consume(ENV["HARNESS_FIKSIO_QUEUE"], handle)
            print("consuming", flush=True)
            ch.start_consuming()
        except pika.exceptions.AMQPError as exc:
            print(f"broker connection lost: {exc!r}", flush=True)


if __name__ == "__main__":
    main()
