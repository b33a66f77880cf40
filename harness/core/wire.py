"""The protocol's own names: message types, headers, package files, and the local
time that time 0 stands for. Both worlds and the checker speak these."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

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
CEST, CET = timezone(timedelta(hours=2), "CEST"), timezone(timedelta(hours=1), "CET")
# The same moment with its offset: where a run's clock starts unless its plan says otherwise.
EPOCH_AT = EPOCH.replace(tzinfo=CEST)
# 02:30:00 on the night Norway's clocks go back (2023-10-29, 03:00 CEST -> 02:00 CET):
# a plan that holds a report of that night starts its clock here, so the case system's
# own clock reads 02:30 twice, an hour apart (CEST, then CET).
FALLBACK_NIGHT = datetime(2023, 10, 29, 2, 30, tzinfo=CEST)


def _last_sunday(year: int, month: int) -> datetime:
    """01:00 UTC on the last Sunday of the month: when the EU changes its clocks."""
    day = datetime(year, month + 1, 1, 1, tzinfo=UTC) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def oslo_offset(instant: datetime) -> timezone:
    """Norway's offset at an instant (the EU rule, in force since 1996): summer time
    from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
    October. Written out, so no time-zone database is needed and no update changes it."""
    utc = instant.astimezone(UTC)
    summer = _last_sunday(utc.year, 3) <= utc < _last_sunday(utc.year, 10)
    return CEST if summer else CET


def local_time(start: datetime, ms: int) -> datetime:
    """The Norwegian wall-clock time `ms` after `start` (an aware moment), without an
    offset as the portal writes it; `fold` is 1 in the second pass of the hour that
    happens twice, so two different moments that read alike still compare apart."""
    instant = start + timedelta(milliseconds=ms)
    offset = oslo_offset(instant)
    wall = instant.astimezone(offset).replace(tzinfo=None)
    repeated = offset is CET and oslo_offset(instant - timedelta(hours=1)) is CEST
    return wall.replace(fold=1) if repeated else wall
