"""The protocol's own names: message types, headers, package files, and the local
time that time 0 stands for. Both worlds and the checker speak these."""

from __future__ import annotations

from datetime import datetime

# Message types of the protocol (DOMAIN.md).
PRIVAT_V1 = "no.ks.fiks.bekymringsmelding.privat.v1"
PRIVAT_V2 = "no.ks.fiks.bekymringsmelding.privat.v2"
OFFENTLIG_V1 = "no.ks.fiks.bekymringsmelding.offentlig.v1"
OFFENTLIG_V2 = "no.ks.fiks.bekymringsmelding.offentlig.v2"
REPORT_TYPES = (PRIVAT_V1, PRIVAT_V2, OFFENTLIG_V1, OFFENTLIG_V2)
MOTTATT = "no.ks.fiks.bekymringsmelding.mottatt.v1"
FEILET = "no.ks.fiks.bekymringsmelding.feilet.v1"
SERVERFEIL = "no.ks.fiks.kvittering.serverfeil.v1"
TIDSAVBRUDD = "no.ks.fiks.kvittering.tidsavbrudd"

# Headers.
MELDING_ID = "melding-id"
KLIENTMELDING_ID = "klientmelding-id"
BEKYMRINGSMELDING_ID = "bekymringsmelding-id"
SVAR_TIL = "svar-til"
# Set instead of the files when the transport passed the payload through its document store.
DOKUMENTLAGER_ID = "dokumentlager-id"

# Files in a report package.
REPORT_JSON = "bekymringsmelding.json"
REPORT_PDF = "bekymringsmelding.pdf"


# Virtual time 0 is this Norwegian local time (no offset, as the portal writes times).
EPOCH = datetime(2023, 6, 1)
