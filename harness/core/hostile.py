"""Hostile data: valid reports shaped the way real losses hide behind.

Each profile keeps the report valid against the schema (bad input is what
`DEFECTS` in workload.py is for) but stresses what case systems get wrong:
Unicode normal forms, 4-byte UTF-8, empty optional fields, byte-identical
reports, sizes at the 5 MB limit, the ambiguous hour when Norway's clocks go
back, districts a case system does not know.
"""

from __future__ import annotations

import random
import unicodedata
from typing import Any, Literal

DATA_PROFILES = (
    "nfc",  # "Årstad" composed (NFC), as most keyboards type it
    "nfd",  # "Årstad" decomposed (NFD): A + combining ring, as some systems send it
    "astral",  # 4-byte UTF-8 (characters outside the Basic Multilingual Plane)
    "empty_optional",  # every optional field empty or absent
    "identical",  # byte-identical to every other report of this profile in the run
    "near_limit",  # the package just under the 5 MB limit
    "dst_fallback",  # sent in the hour that happens twice (2023-10-29 02:00-03:00, Oslo)
    "unknown_district",  # a district number the municipality does not have
    "no_districts",  # a municipality without districts: bydelsnummer "00"
)
_ASTRAL = "\U0001f9d2\U0001d4da"  # a child emoji and a mathematical script K


def _map_strings(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    return value


def _drop_optional(body: dict[str, Any]) -> None:
    for key in ("behovForTolk", "andreHjelpeinstanser"):
        body.pop(key, None)
    # offentligMelder's fields are all required by the schema: it keeps them
    for person in [
        body.get("privatMelder"),
        *body.get("privatBarn", []),
        *body.get("offentligBarn", []),
        *body.get("foresatte", []),
    ]:
        if isinstance(person, dict):
            for key in ("telefonnummer", "antattAlder", "relasjon", "orientertGrunn"):
                if key in person:
                    person[key] = ""
    if isinstance(body.get("privatMelder"), dict):
        body["privatMelder"].pop("telefonnummer", None)
        body["privatMelder"].pop("adresse", None)


def apply_profile(body: dict[str, Any], profile: str) -> dict[str, Any]:
    if profile in ("nfc", "nfd"):
        body["bydelsnummer"], body["bydelsnavn"] = "07", "Årstad"
        form: Literal["NFC", "NFD"] = "NFD" if profile == "nfd" else "NFC"
        return dict(_map_strings(body, lambda s: unicodedata.normalize(form, s)))
    if profile == "astral":
        return dict(_map_strings(body, lambda s: f"{s} {_ASTRAL}" if s and " " in s else s))
    if profile == "identical":
        # the same moment too, whenever it is sent: byte-identical means every byte
        body["sendingstidspunkt"] = "2023-06-01T12:00:00"
    elif profile == "empty_optional":
        _drop_optional(body)
    elif profile == "dst_fallback":
        body["sendingstidspunkt"] = "2023-10-29T02:30:00"
    elif profile == "unknown_district":
        body["bydelsnummer"], body["bydelsnavn"] = "99", "Ukjent bydel"
    elif profile == "no_districts":
        body["kommunenummer"], body["kommunenavn"] = "4640", "Sogndal"
        body["bydelsnummer"], body["bydelsnavn"] = "00", ""
    return body


def profile_rng(profile: str | None, seed: int, index: int) -> random.Random:
    """`identical` reports share one random stream, so their bytes come out the same."""
    return random.Random(f"{seed}:identical" if profile == "identical" else f"{seed}:{index}")


def pad_pdf(pdf: bytes, other_bytes: int, limit: int) -> bytes:
    """Grow the PDF so the whole package ends 1 KiB under `limit`."""
    return pdf + b"\0" * max(0, limit - 1024 - other_bytes - len(pdf))
