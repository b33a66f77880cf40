"""`harness audit --example bergen-2023`: a synthetic pair of exports to see an audit at once.

The 21 reports Bergen published as lost (their times and offices, from the bundled
scenario `bergen-2023`) are hidden among ordinary synthetic traffic to Bergen from
September 2020 to June 2023: reports stored and confirmed, and a few that the case
system refused with `feilet` and the portal sent by letter. In the exports the 21
were confirmed (`mottatt`) and have no record in the case system, as happened.
Everything is made from a fixed seed: the same files every time. The ids, digests
and traffic are invented; only the 21 moments and offices are Bergen's.
"""

from __future__ import annotations

import csv
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from harness.audit.exports import PORTAL_OPTIONAL, PORTAL_REQUIRED

ORDINARY = 10_000
FIRST, LAST = datetime(2020, 9, 1), datetime(2023, 6, 30)
OFFICES = (  # bydelsnummer, office: the scenario's own pairs
    ("01", "Arna og Åsane"),
    ("02", "Bergenhus/Årstad"),
    ("03", "Fana/Ytrebygda"),
    ("04", "Fyllingsdalen/Laksevåg"),
)
CASE_COLUMNS = (
    "bekymringsmelding_id",
    "fiks_melding_ids",
    "state",
    "stored_at",
    "json_sha256",
    "pdf_sha256",
    "case_ref",
)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def bergen_lost() -> list[tuple[datetime, str, str]]:
    """(local time, bydelsnummer, bydelsnavn) of the 21 published reports."""
    from harness.scenarios.model import load

    scenario = load("bergen-2023")
    out = []
    for spec in scenario.reports:
        fields = dict(spec.fields)
        out.append(
            (
                datetime.fromisoformat(fields["sendingstidspunkt"]),
                fields.get("bydelsnummer", ""),
                fields.get("bydelsnavn", ""),
            )
        )
    return out


def write_bergen(directory: Path, ordinary: int = ORDINARY) -> tuple[Path, Path]:
    """Write portal.csv and case-system.csv into `directory`; return their paths.

    Rows are made in time order and written as they are made, so a million of them
    take no more memory than ten."""
    rng = random.Random(2023)
    directory.mkdir(parents=True, exist_ok=True)
    portal_path, case_path = directory / "portal.csv", directory / "case-system.csv"
    lost = sorted(bergen_lost())
    mean_gap = (LAST - FIRST).total_seconds() / max(1, ordinary)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def digest() -> str:
        return f"{rng.getrandbits(256):064x}"

    with (
        portal_path.open("w", encoding="utf-8", newline="") as p_handle,
        case_path.open("w", encoding="utf-8", newline="") as c_handle,
    ):
        portal_out = csv.DictWriter(p_handle, fieldnames=[*PORTAL_REQUIRED, *PORTAL_OPTIONAL])
        case_out = csv.DictWriter(c_handle, fieldnames=list(CASE_COLUMNS))
        portal_out.writeheader()
        case_out.writeheader()
        sent = FIRST
        for _ in range(ordinary):
            sent += timedelta(seconds=rng.expovariate(1 / mean_gap))
            while lost and lost[0][0] <= sent:
                _write_lost(portal_out, lost.pop(0), rng, new_id(), digest(), digest())
            number, office = rng.choice(OFFICES)
            json_sha, pdf_sha, report_id = digest(), digest(), new_id()
            row = {
                "bekymringsmelding_id": report_id,
                "sendt": _stamp(sent),
                "kommunenummer": "4601",
                "bydelsnummer": number,
                "bydelsnavn": office,
                "json_sha256": json_sha,
                "pdf_sha256": pdf_sha,
            }
            if rng.random() < 0.02:  # refused with feilet: sent by letter, no record
                failed = sent + timedelta(seconds=rng.randrange(5, 120))
                row |= {
                    "status": "LEVERT",
                    "levert_via": "print",
                    "feilet": _stamp(failed),
                    "status_tidspunkt": _stamp(failed + timedelta(days=2)),
                }
            else:
                stored = sent + timedelta(seconds=rng.randrange(1, 90))
                confirmed = stored + timedelta(seconds=rng.randrange(0, 5))
                row |= {
                    "status": "LEVERT",
                    "levert_via": "fagsystem",
                    "mottatt": _stamp(confirmed),
                    "status_tidspunkt": _stamp(confirmed),
                }
                case_out.writerow(
                    {
                        "bekymringsmelding_id": report_id,
                        "fiks_melding_ids": new_id(),
                        "state": "stored",
                        "stored_at": _stamp(stored),
                        "json_sha256": json_sha,
                        "pdf_sha256": pdf_sha,
                        "case_ref": f"BV-{rng.randrange(10**6):06d}",
                    }
                )
            portal_out.writerow(row)
        for item in lost:
            _write_lost(portal_out, item, rng, new_id(), digest(), digest())
    return portal_path, case_path


def _write_lost(
    out: csv.DictWriter[str],
    item: tuple[datetime, str, str],
    rng: random.Random,
    report_id: str,
    json_sha: str,
    pdf_sha: str,
) -> None:
    """One of the 21: confirmed with `mottatt`, and never stored."""
    sent, number, office = item
    confirmed = sent + timedelta(seconds=rng.randrange(2, 30))
    out.writerow(
        {
            "bekymringsmelding_id": report_id,
            "sendt": _stamp(sent),
            "status": "LEVERT",
            "levert_via": "fagsystem",
            "mottatt": _stamp(confirmed),
            "status_tidspunkt": _stamp(confirmed),
            "kommunenummer": "4601",
            "bydelsnummer": number,
            "bydelsnavn": office,
            "json_sha256": json_sha,
            "pdf_sha256": pdf_sha,
        }
    )
