'use strict';
// A correct case system as a service of its own, in Node.js: the twin of
// examples/services/python/case_service.py, on the same interface.
//
// It consumes its Fiks IO queue with amqplib (manual acks, prefetch 10, one message at
// a time, reconnecting whenever the connection or the consumer is lost), stores each
// report's JSON and PDF in PostgreSQL with pg in one transaction keyed on
// bekymringsmelding-id, and only then replies over the HTTP send API: mottatt after the
// commit, feilet (a zip with feilmelding.json) when it cannot store or use the package.
// It acks after the reply got a 2xx, and nacks with requeue when the reply failed.
// It serves the reconciliation API from the committed rows and creates the
// harness_reports view.
//
//   npm ci && node examples/services/node/case_service.js   (the harness sets HARNESS_*)
const crypto = require('crypto');
const http = require('http');
const amqp = require('amqplib');
const pg = require('pg');
const { JsonError, parse, stringify, hasLoneSurrogate } = require('./canonical');
const { ZipError, readZip, writeZip } = require('./zip');

const MOTTATT = 'no.ks.fiks.bekymringsmelding.mottatt.v1';
const FEILET = 'no.ks.fiks.bekymringsmelding.feilet.v1';
const REPORT_JSON = 'bekymringsmelding.json';
const REPORT_PDF = 'bekymringsmelding.pdf';
const REPORT_ID_HEADER = 'egendefinert-header.bekymringsmelding-id';
const PREFETCH = 10;
const REPLY_TTL_MS = 24 * 3600 * 1000;
const PAGE_SIZE = 100;

const SCHEMA = `
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
-- canonical JSON in SQL, as in the Python service: exact for every value a report holds
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
`;

const log = {
  line: (level, text) => process.stderr.write(`${new Date().toISOString()} ${level} ${text}\n`),
  info: (text) => log.line('INFO', text),
  warn: (text) => log.line('WARNING', text),
  error: (text) => log.line('ERROR', text),
};

class ConfigError extends Error {}
class PackageError extends Error {} // unusable package: feilet, never a retry
class Retry extends Error {} // could not finish now: the broker hands it back

function configFromEnv(env) {
  const need = (name) => {
    const value = (env[name] || '').trim();
    if (!value) throw new ConfigError(`${name} is not set: start this service under the harness`);
    return value;
  };
  const account = need('HARNESS_FIKSIO_ACCOUNT');
  const port = need('HARNESS_RECONCILE_PORT');
  if (!/^[0-9]+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new ConfigError(`HARNESS_RECONCILE_PORT=${JSON.stringify(port)} is not a TCP port number`);
  }
  return {
    amqpUrl: need('HARNESS_AMQP_URL'),
    queue: env.HARNESS_FIKSIO_QUEUE || `fiksio.konto.${account}`,
    account,
    sendUrl: need('HARNESS_SEND_URL'),
    dokumentlagerUrl: need('HARNESS_DOKUMENTLAGER_URL').replace(/\/+$/, ''),
    tokenUrl: need('HARNESS_TOKEN_URL'),
    integrationId: need('HARNESS_INTEGRATION_ID'),
    integrationPassword: need('HARNESS_INTEGRATION_PASSWORD'),
    databaseUrl: need('HARNESS_DATABASE_URL'),
    reconcilePort: Number(port),
  };
}

function feilmelding(text) {
  return writeZip(new Map([['feilmelding.json', Buffer.from(JSON.stringify({ melding: text }))]]));
}

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const headerText = (v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v == null ? '' : String(v));

class CaseService {
  constructor(config) {
    this.config = config;
    this.token = null;
    this.tokenExpires = 0;
    this.db = null;
    this.consuming = false;
    this.stopping = false;
    this.work = Promise.resolve(); // one message at a time, in delivery order
    this.connection = null;
  }

  // -- storage ------------------------------------------------------------------------

  async database() {
    if (this.db === null) {
      const client = new pg.Client({ connectionString: this.config.databaseUrl });
      client.on('error', (err) => {
        log.warn(`databaseforbindelsen ble brutt: ${err.message}`);
        if (this.db === client) this.db = null; // opened again for the next message
      });
      await client.connect();
      this.db = client;
    }
    return this.db;
  }

  async createSchema() {
    await (await this.database()).query(SCHEMA);
  }

  // What makes two deliveries the same report: its own id, kept on every resend.
  idempotencyKey(delivery, report) {
    return report.reportId;
  }

  async insert(db, delivery, report) {
    await db.query(
      'INSERT INTO reports (idempotency_key, bekymringsmelding_id, melding_id, meldingstype,' +
        ' report_json, report_pdf) VALUES ($1, $2, $3, $4, $5, $6)' +
        ' ON CONFLICT (idempotency_key) DO NOTHING',
      [
        this.idempotencyKey(delivery, report),
        report.reportId,
        delivery.meldingId,
        delivery.meldingstype,
        report.jsonText,
        report.pdf,
      ],
    );
  }

  // BEGIN, the work, COMMIT; ROLLBACK and rethrow when any of it fails.
  async transaction(work) {
    const db = await this.database();
    await db.query('BEGIN');
    try {
      await work(db);
      await db.query('COMMIT');
    } catch (err) {
      await db.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  // -- the package ----------------------------------------------------------------------

  async unpack(delivery) {
    const reportId = delivery.headers[REPORT_ID_HEADER];
    if (!reportId) throw new PackageError(`meldingen mangler headeren ${REPORT_ID_HEADER}`);
    let body = delivery.body;
    const dokumentlagerId = delivery.headers['dokumentlager-id'];
    if (dokumentlagerId) body = await this.download(dokumentlagerId);
    let files;
    try {
      files = readZip(body);
    } catch (err) {
      if (!(err instanceof ZipError)) throw err;
      throw new PackageError(`pakken er ikke en gyldig zip: ${err.message}`);
    }
    for (const name of [REPORT_JSON, REPORT_PDF]) {
      if (!files.has(name)) throw new PackageError(`pakken mangler ${name}`);
    }
    let jsonText;
    let value;
    try {
      jsonText = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(files.get(REPORT_JSON));
      value = parse(jsonText, { constants: false });
    } catch (err) {
      if (!(err instanceof JsonError || err instanceof TypeError)) throw err;
      throw new PackageError(`kunne ikke lese ${REPORT_JSON}: ${err.message}`);
    }
    if (!(value instanceof Map)) throw new PackageError(`${REPORT_JSON} er ikke et JSON-objekt`);
    if (hasLoneSurrogate(value)) throw new PackageError(`${REPORT_JSON} har ugyldig Unicode`);
    return { reportId, jsonText, pdf: files.get(REPORT_PDF) };
  }

  async download(dokumentlagerId) {
    let answer;
    try {
      answer = await fetch(`${this.config.dokumentlagerUrl}/${encodeURIComponent(dokumentlagerId)}`, {
        headers: await this.authHeaders(),
        signal: AbortSignal.timeout(30000),
      });
    } catch (err) {
      if (err instanceof Retry) throw err;
      throw new Retry(`nedlasting fra dokumentlageret feilet: ${err.message}`);
    }
    if (answer.status === 404) {
      throw new PackageError(`dokumentet ${dokumentlagerId} finnes ikke i dokumentlageret`);
    }
    if (answer.status >= 300) throw new Retry(`dokumentlageret svarte ${answer.status}`);
    return Buffer.from(await answer.arrayBuffer());
  }

  // -- replies ------------------------------------------------------------------------------

  async bearer() {
    if (this.token === null || Date.now() > this.tokenExpires) {
      const claims = { iss: this.config.integrationId, iat: Math.floor(Date.now() / 1000) };
      const assertion = [{ alg: 'none' }, claims]
        .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
        .join('.');
      try {
        const answer = await fetch(this.config.tokenUrl, {
          method: 'POST',
          body: new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
            assertion: `${assertion}.`,
          }),
          signal: AbortSignal.timeout(10000),
        });
        if (!answer.ok) throw new Error(`status ${answer.status}`);
        const body = await answer.json();
        if (typeof body.access_token !== 'string') throw new Error('no access_token');
        this.token = body.access_token;
        this.tokenExpires = Date.now() + Math.max(1000, Number(body.expires_in || 60) * 800);
      } catch (err) {
        throw new Retry(`no token from ${this.config.tokenUrl}: ${err.message}`);
      }
    }
    return this.token;
  }

  async authHeaders() {
    return {
      Authorization: `Bearer ${await this.bearer()}`,
      IntegrasjonId: this.config.integrationId,
      IntegrasjonPassord: this.config.integrationPassword,
    };
  }

  // POST the reply to the send API; throw Retry unless it answered 2xx.
  async reply(delivery, meldingstype, data = null) {
    const metadata = {
      avsenderKontoId: this.config.account,
      mottakerKontoId: delivery.avsenderId,
      meldingType: meldingstype,
      svarPaMelding: delivery.meldingId,
      ttl: REPLY_TTL_MS,
      headere: {},
    };
    const boundary = `----case-service-${crypto.randomUUID()}`;
    const part = (headers, bytes) =>
      Buffer.concat([Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`), bytes, Buffer.from('\r\n')]);
    const parts = [
      part(
        'Content-Disposition: form-data; name="metadata"\r\nContent-Type: application/json',
        Buffer.from(JSON.stringify(metadata)),
      ),
    ];
    if (data !== null) {
      const header =
        `Content-Disposition: form-data; name="data"; filename="${crypto.randomUUID()}.zip"\r\n` +
        'Content-Type: application/octet-stream';
      parts.push(part(header, data));
    }
    const body = Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]);
    for (const attempt of [1, 2]) {
      let answer;
      try {
        answer = await fetch(this.config.sendUrl, {
          method: 'POST',
          body,
          headers: { ...(await this.authHeaders()), 'Content-Type': `multipart/form-data; boundary=${boundary}` },
          signal: AbortSignal.timeout(30000),
        });
        await answer.arrayBuffer();
      } catch (err) {
        if (err instanceof Retry) throw err;
        throw new Retry(`svar ${meldingstype} ble ikke sendt: ${err.message}`);
      }
      if (answer.status === 401 && attempt === 1) {
        this.token = null; // expired or rotated: one more try with a fresh token
        continue;
      }
      if (answer.status < 200 || answer.status >= 300) {
        throw new Retry(`send-API-et svarte ${answer.status} på ${meldingstype}`);
      }
      log.info(`svarte ${meldingstype} på melding ${delivery.meldingId}`);
      return;
    }
  }

  // -- one message ----------------------------------------------------------------------------

  // Store, then reply: mottatt only after the commit returned, else feilet.
  async handle(delivery) {
    let report;
    try {
      report = await this.unpack(delivery);
    } catch (err) {
      if (!(err instanceof PackageError)) throw err;
      log.warn(`avviser melding ${delivery.meldingId}: ${err.message}`);
      return this.reply(delivery, FEILET, feilmelding(err.message));
    }
    try {
      await this.transaction((db) => this.insert(db, delivery, report));
    } catch (err) {
      log.error(`lagring feilet for ${report.reportId}: ${err.message}`);
      return this.reply(delivery, FEILET, feilmelding(`kunne ikke lagre: ${err.message}`));
    }
    await this.reply(delivery, MOTTATT);
  }

  // Ack only once the reply is out; hand the message back when it is not.
  async onDelivery(channel, message) {
    const headers = {};
    for (const [k, v] of Object.entries(message.properties.headers || {})) headers[k] = headerText(v);
    const meldingId = headers['melding-id'];
    const avsenderId = headers['avsender-id'];
    if (!meldingId || !avsenderId) {
      log.error(`forkaster melding uten adresse: melding-id=${meldingId}, avsender-id=${avsenderId}`);
      return settle(() => channel.nack(message, false, false));
    }
    const delivery = {
      meldingId,
      avsenderId,
      meldingstype: headers.type || '',
      headers,
      body: message.content,
      redelivered: message.fields.redelivered,
    };
    try {
      await this.handle(delivery);
    } catch (err) {
      if (err instanceof Retry) log.warn(`melding ${meldingId} legges tilbake i køen: ${err.message}`);
      else log.error(`uventet feil for melding ${meldingId}: ${err.stack}`);
      return settle(() => channel.nack(message, false, true));
    }
    settle(() => channel.ack(message));
  }

  // -- the broker connection ---------------------------------------------------------------------

  // Consume until stopped; every lost connection or cancelled consumer means connect again.
  async consume() {
    let backoff = 100;
    while (!this.stopping) {
      let lost;
      try {
        const connection = await amqp.connect(this.config.amqpUrl, {
          clientProperties: { connection_name: `case_service(node) ${this.config.account}` },
        });
        this.connection = connection;
        lost = new Promise((resolve) => {
          connection.on('close', () => resolve('forbindelsen ble lukket'));
          connection.on('error', (err) => log.warn(`AMQP-feil: ${err.message}`));
        });
        const channel = await connection.createChannel();
        channel.on('error', (err) => log.warn(`AMQP-kanalfeil: ${err.message}`));
        const channelLost = new Promise((resolve) => channel.on('close', () => resolve('kanalen ble lukket')));
        await channel.prefetch(PREFETCH);
        let cancel;
        const cancelled = new Promise((resolve) => {
          cancel = resolve;
        });
        await channel.consume(
          this.config.queue,
          (message) => {
            if (message === null) return cancel('megleren avsluttet konsumet'); // queue deleted
            this.work = this.work
              .then(() => this.onDelivery(channel, message))
              .catch((err) => log.error(`uventet feil: ${err.stack}`));
          },
          { noAck: false },
        );
        this.consuming = true;
        backoff = 100;
        log.info(`konsumerer ${this.config.queue}`);
        const why = await Promise.race([lost, channelLost, cancelled, this.stopped]);
        this.consuming = false;
        if (why !== 'stop') log.warn(`${why}; kobler til igjen`);
      } catch (err) {
        this.consuming = false;
        log.warn(`kan ikke konsumere ${this.config.queue} (${err.message}); prøver igjen`);
        backoff = Math.min(backoff * 2, 2000);
      }
      await this.work; // the message in hand is finished (its ack may meet a closed channel)
      await this.closeConnection();
      if (!this.stopping) await Promise.race([sleep(backoff), this.stopped]);
    }
  }

  async closeConnection() {
    const connection = this.connection;
    this.connection = null;
    if (connection !== null) await connection.close().catch(() => {}); // unacked goes back
  }

  async close() {
    if (this.db !== null) await this.db.end().catch(() => {});
  }
}

// ack and nack throw when the channel has closed meanwhile: the broker redelivers then.
function settle(call) {
  try {
    call();
  } catch (err) {
    log.warn(`kunne ikke kvittere meldingen (${err.message}); megleren leverer den igjen`);
  }
}

// -- the reconciliation API -------------------------------------------------------------------------

function serveReconciliation(service) {
  // A connection of its own per request, as the Python service does: nothing kept that
  // the database may have dropped meanwhile (a restart, a terminated backend).
  const rows = async (where, params) => {
    const db = new pg.Client({ connectionString: service.config.databaseUrl });
    db.on('error', () => {});
    let found;
    try {
      await db.connect();
      found = await db.query(
        'SELECT id, bekymringsmelding_id, melding_id, stored_at, report_json,' +
          ` encode(sha256(report_pdf), 'hex') AS pdf_sha256 FROM reports ${where}`,
        params,
      );
    } finally {
      await db.end().catch(() => {});
    }
    return found.rows.map((r) => ({
      id: r.id,
      row: {
        bekymringsmelding_id: r.bekymringsmelding_id,
        fiks_melding_ids: [r.melding_id],
        state: 'stored',
        stored_at: r.stored_at.toISOString(),
        json_sha256: sha256(Buffer.from(stringify(parse(r.report_json)), 'utf8')),
        pdf_sha256: r.pdf_sha256,
        case_ref: `BV-${String(r.id).padStart(6, '0')}`,
      },
    }));
  };
  const server = http.createServer(async (request, response) => {
    const send = (status, body) => {
      const data = Buffer.from(JSON.stringify(body));
      response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': data.length });
      response.end(data);
    };
    const url = new URL(request.url, 'http://127.0.0.1');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const under = (...prefix) => prefix.every((p, n) => parts[n] === p);
    try {
      if (request.method !== 'GET') send(405, { error: `${request.method} is not served here` });
      else if (parts.length === 3 && under('harness', 'v1', 'ready')) {
        send(service.consuming ? 200 : 503, { ready: service.consuming });
      } else if (parts.length === 3 && under('harness', 'v1', 'reports')) {
        const cursor = url.searchParams.get('cursor') || '0';
        if (!/^[0-9]+$/.test(cursor)) {
          send(400, { error: `cursor ${JSON.stringify(cursor)} is not one this API gave` });
          return;
        }
        const found = await rows('WHERE id > $1 ORDER BY id LIMIT $2', [cursor, PAGE_SIZE + 1]);
        const page = found.slice(0, PAGE_SIZE);
        const next = found.length > PAGE_SIZE ? String(page[page.length - 1].id) : null;
        send(200, { reports: page.map((r) => r.row), next_cursor: next });
      } else if (parts.length === 4 && under('harness', 'v1', 'reports')) {
        const found = await rows('WHERE bekymringsmelding_id = $1 ORDER BY id LIMIT 1', [parts[3]]);
        if (found.length) send(200, found[0].row);
        else send(404, { error: `no report ${JSON.stringify(parts[3])} is stored` });
      } else send(404, { error: `no such resource: ${url.pathname}` });
    } catch (err) {
      log.warn(`avstemming ${url.pathname}: ${err.message}`);
      send(503, { error: `the database did not answer: ${err.message}` });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(service.config.reconcilePort, '127.0.0.1', () => resolve({ server }));
  });
}

async function main(ServiceClass = CaseService) {
  let config;
  try {
    config = configFromEnv(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`case_service: ${err.message}\n`);
    process.exit(2);
  }
  const service = new ServiceClass(config);
  service.stopped = new Promise((resolve) => {
    const stop = () => {
      service.stopping = true;
      resolve('stop');
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  const deadline = Date.now() + 10000;
  for (;;) {
    try {
      await service.createSchema();
      break;
    } catch (err) {
      service.db = null;
      if (Date.now() > deadline || service.stopping) {
        process.stderr.write(`case_service: cannot reach HARNESS_DATABASE_URL: ${err.message}\n`);
        process.exit(1);
      }
      await sleep(200);
    }
  }
  let reconcile;
  try {
    reconcile = await serveReconciliation(service);
  } catch (err) {
    process.stderr.write(`case_service: cannot serve on port ${config.reconcilePort}: ${err.message}\n`);
    process.exit(2);
  }
  await service.consume();
  reconcile.server.closeAllConnections();
  await new Promise((resolve) => reconcile.server.close(resolve));
  await service.close();
  log.info('stoppet');
  process.exit(0);
}

module.exports = { CaseService, FEILET, MOTTATT, PackageError, Retry, feilmelding, log, main };

if (require.main === module) main();
