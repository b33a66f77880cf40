"""Synthetic concern reports: invented people, synthetic fnr, deterministic from a seed.

Only synthetic identity numbers are made: Norway's test-data convention adds
80 to the month, so no generated fnr can belong to a real person.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

from harness.core.hostile import apply_profile, pad_pdf, profile_rng
from harness.core.wire import (
    EPOCH_AT,
    OFFENTLIG_V1,
    OFFENTLIG_V2,
    PRIVAT_V1,
    PRIVAT_V2,
    REPORT_JSON,
    REPORT_PDF,
    local_time,
)

FORMS = {
    ("privat", 1): PRIVAT_V1,
    ("privat", 2): PRIVAT_V2,
    ("offentlig", 1): OFFENTLIG_V1,
    ("offentlig", 2): OFFENTLIG_V2,
}
# Broken submissions the portal must refuse, each a distinct kind of bad input.
DEFECTS = (
    "missing_melding",
    "bad_kommunenummer",
    "wrong_type",
    "not_json",
    "invalid_utf8",
    "oversized",
    "unknown_type",
)
MAX_PACKAGE_BYTES = 5 * 1024 * 1024

_GIVEN = ("Kari", "Ola", "Åse", "Øystein", "Ingrid", "Håkon", "Sølvi", "Bjørn", "Liv", "Eirik")
_FAMILY = ("Nordmann", "Testesen", "Fjellstad", "Bråten", "Aasen", "Lien", "Dahl", "Ødegård")
_DISTRICTS = (
    ("01", "Arna"),
    ("02", "Bergenhus"),
    ("03", "Fana"),
    ("04", "Fyllingsdalen"),
    ("05", "Laksevåg"),
    ("06", "Ytrebygda"),
    ("07", "Årstad"),
    ("08", "Åsane"),
)


@dataclass(frozen=True)
class ReportSpec:
    """One submission in a workload: when, which form, and whether it is broken on purpose."""

    at: int  # virtual ms
    form: str = "privat"
    version: int = 2
    defect: str | None = None  # one of DEFECTS: the portal must refuse it
    data: str | None = None  # one of hostile.DATA_PROFILES: valid, but hard to handle
    fields: tuple[tuple[str, str], ...] = ()  # top-level fields set as given (scenarios)

    @property
    def meldingstype(self) -> str:
        return FORMS[(self.form, self.version)]


@dataclass(frozen=True)
class Submission:
    index: int
    meldingstype: str
    files: dict[str, bytes]
    spec: ReportSpec


def synthetic_fnr(rng: random.Random) -> str:
    """An 11-digit fnr with valid control digits and month + 80 (a synthetic number)."""
    w1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
    w2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    while True:
        base = (
            f"{rng.randint(1, 28):02d}{rng.randint(1, 12) + 80:02d}"
            f"{rng.randint(10, 24):02d}{rng.randint(500, 999):03d}"
        )
        k1 = 11 - sum(int(d) * w for d, w in zip(base, w1, strict=True)) % 11
        k1 = 0 if k1 == 11 else k1
        if k1 == 10:
            continue
        k2 = 11 - sum(int(d) * w for d, w in zip(base + str(k1), w2, strict=True)) % 11
        k2 = 0 if k2 == 11 else k2
        if k2 != 10:
            return f"{base}{k1}{k2}"


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_GIVEN)} {rng.choice(_FAMILY)}"


def _address(rng: random.Random) -> dict[str, str]:
    return {
        "adresselinje1": f"Testveien {rng.randint(1, 99)}",
        "adresselinje2": "",
        "adresselinje3": "",
        "postnummer": f"50{rng.randint(0, 99):02d}",
        "poststed": "Bergen",
    }


def report_body(spec: ReportSpec, rng: random.Random, start: datetime = EPOCH_AT) -> dict[str, Any]:
    number, district = rng.choice(_DISTRICTS)
    sent = local_time(start, spec.at - spec.at % 1000)
    body: dict[str, Any] = {
        "kommunenummer": "4601",
        "kommunenavn": "Bergen",
        "bydelsnummer": number,
        "bydelsnavn": district,
        # Local time without an offset, as the real portal sends it.
        "sendingstidspunkt": sent.isoformat(timespec="seconds"),
        "leveringskanal": "Fagsystem",
    }
    text = f"Bekymring nr. {rng.randint(1, 10**6)}: barnet virker redd."
    if spec.form == "privat":
        body["melding"] = text
        body["privatMelder"] = {
            "personnavn": _name(rng),
            "telefonnummer": "99999999",
            "adresse": _address(rng),
        }
        # The protocol's schema lets an empty list of children through (its minLength on
        # an array is ignored), so real case systems meet such reports: send some.
        body["privatBarn"] = (
            []
            if rng.random() < 0.125
            else [
                {
                    "personnavn": _name(rng),
                    "antattAlder": str(rng.randint(0, 17)),
                    "relasjon": "Nabo",
                    "adresse": _address(rng),
                }
            ]
        )
    else:
        body["offentligMelder"] = {
            "personnavn": _name(rng),
            "rolle": "Lærer",
            "telefonnummer": "99999999",
            "epost": "laerer@skole.test",
            "virksomhet": {"navn": "Testskolen", "orgnr": "999999999", "adresse": _address(rng)},
        }
        body["offentligBarn"] = [
            {
                "fnr": synthetic_fnr(rng),
                "ufoedt": False,
                "personnavn": _name(rng),
                "adresse": _address(rng),
                "orientert": False,
                "orientertGrunn": "",
            }
        ]
        body["foresatte"] = [{"personnavn": _name(rng), "orientert": True, "orientertGrunn": ""}]
        body["melding"] = {"melding": text, "historie": "Har vart en stund."}
        if spec.version == 2:
            body["melding"]["andreSynspunkter"] = ""
    return body


def make_submission(
    index: int, spec: ReportSpec, seed: int, start: datetime = EPOCH_AT
) -> Submission:
    """Submission `index` of a plan; `start` is the local moment of virtual time 0."""
    rng = profile_rng(spec.data, seed, index)
    body = report_body(spec, rng, start)
    if spec.data is not None:
        body = apply_profile(body, spec.data, rng)
    body.update(spec.fields)
    meldingstype = spec.meldingstype
    if spec.defect == "missing_melding":
        del body["melding"]
    elif spec.defect == "bad_kommunenummer":
        body["kommunenummer"] = "46A1"
    elif spec.defect == "wrong_type":
        body["kommunenummer"] = 4601
    elif spec.defect == "unknown_type":
        meldingstype = "no.ks.fiks.bekymringsmelding.ukjent.v9"
    raw = json.dumps(body, ensure_ascii=False).encode()  # no indent: the C encoder, 10x faster
    if spec.defect == "not_json":
        raw = raw[: len(raw) // 2]
    elif spec.defect == "invalid_utf8":
        raw = raw.replace(b"Bergen", b"Berg\xe6n", 1)  # a Latin-1 byte, not UTF-8
    pdf = b"%PDF-1.4\n% synthetic rendering\n" + rng.randbytes(64) + b"\n%%EOF\n"
    if spec.data == "near_limit":
        pdf = pad_pdf(pdf, len(raw), MAX_PACKAGE_BYTES)
    if spec.defect == "oversized":
        pdf += bytes(MAX_PACKAGE_BYTES)  # the package ends just over the 5 MB limit
    if spec.data == "empty_pdf":
        pdf = b""
    if spec.data == "missing_pdf":
        return Submission(index, meldingstype, {REPORT_JSON: raw}, spec)
    return Submission(index, meldingstype, {REPORT_JSON: raw, REPORT_PDF: pdf}, spec)


class SteadyWorkload(Sequence[ReportSpec]):
    """`count` reports, one every `every` ms, forms and versions taking turns, made on
    demand: a million-report soak holds none of them in memory."""

    def __init__(self, count: int, every: int) -> None:
        self._count, self._every = count, every

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> ReportSpec: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ReportSpec]: ...
    def __getitem__(self, index: int | slice) -> ReportSpec | Sequence[ReportSpec]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not 0 <= index < self._count:
            raise IndexError(index)
        return ReportSpec(
            index * self._every, "privat" if index % 2 else "offentlig", 2 - index % 2
        )
