'use strict';
// The 2023 incident's bug, in Node.js: mottatt whatever the store did.
//
// CaseService.handle with one line deleted: the feilet reply after a failed store. The
// error is logged and forgotten, and the code goes on to say mottatt, which switches off
// the portal's paper fallback. Expected: SOR-1 (the report is lost), SOR-2.
//
//   node examples/services/node/familia.js
const { CaseService, FEILET, MOTTATT, PackageError, feilmelding, log, main } = require('./case_service');

class FamiliaService extends CaseService {
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
      log.error(`lagring feilet for ${report.reportId}: ${err.message}`); // the bug: no feilet
    }
    await this.reply(delivery, MOTTATT);
  }
}

if (require.main === module) main(FamiliaService);
