"""Hostile data: valid reports shaped the way real losses hide behind.

Each profile keeps the report valid against the schema (bad input is what
`DEFECTS` in workload.py is for) but stresses what case systems get wrong:
Unicode normal forms, 4-byte UTF-8, empty optional fields, byte-identical
reports, sizes at the 5 MB limit, free text far longer than a column holds,
the hour that happens twice when Norway's clocks go back, districts a case
system does not know.

`INCOMPLETE` packages are the other kind: the portal accepts the report (its
JSON is valid) but the package that reaches the case system has an empty PDF
or none. They are invalid input for the case system, which must refuse them
with `feilet` (the portal then sends the letter from its own copy) and never
confirm or store them: see the README's decisions.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable
from typing import Any, Literal

from harness.core.wire import FALLBACK_NIGHT

DATA_PROFILES = (
    "nfc",  # "Årstad" composed (NFC), as most keyboards type it
    "nfd",  # "Årstad" decomposed (NFD): A + combining ring, as some systems send it
    "astral",  # 4-byte UTF-8 (characters outside the Basic Multilingual Plane)
    "empty_optional",  # every optional field empty or absent
    "identical",  # byte-identical to every other report of this profile in the run
    "near_limit",  # the package just under the 5 MB limit
    "dst_fallback",  # sent at 02:30 in the hour that happens twice (2023-10-29, Oslo), CEST
    "dst_repeat",  # sent at 02:30 again, an hour later (CET): same wall time, another moment
    "unknown_district",  # a district number the municipality does not have
    "no_districts",  # a municipality without districts: bydelsnummer "00"
    "long_text_64k",  # melding (and historie) of 64 Ki characters: past a 65,535-byte TEXT
    "long_text_1m",  # melding (and historie) of 1 Mi characters, the package under 5 MB
)
# Packages the portal sends but a case system must refuse (feilet), never store.
INCOMPLETE = (
    "empty_pdf",  # bekymringsmelding.pdf is there, zero bytes
    "missing_pdf",  # the package holds no bekymringsmelding.pdf at all
)
# Profiles that put the run's clock into the night the clocks go back (wire.FALLBACK_NIGHT).
DST_PROFILES = ("dst_fallback", "dst_repeat")
# Free-text sizes in characters; the text is mostly ASCII with Norwegian letters, so its
# UTF-8 is longer still: a limit counted in bytes or in characters cuts it either way.
LONG_TEXT = {"long_text_64k": 64 * 1024, "long_text_1m": 1024 * 1024}
_ASTRAL = "\U0001f9d2\U0001d4da"  # a child emoji and a mathematical script K


def _map_strings(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    return value


_SENTENCES = (
    "Barnet kom på skolen uten matpakke igjen i dag.",
    "Læreren så blåmerker på armen, og barnet ville ikke si hvor de kom fra.",
    "Naboen hører roping og gråt fra leiligheten sent på kvelden.",
    "Gutten sier at han er redd for å gå hjem etter trening.",
    "Jenta har vært borte fra barnehagen i to uker uten beskjed.",
    "Foreldrene møtte ikke til samtalen, og telefonen blir ikke besvart.",
    "Det er observert at søsknene er alene hjemme over flere døgn.",
    "Ønsker at barnevernet ser på saken så snart som mulig.",
)


def long_text(rng: random.Random, chars: int, label: str) -> str:
    """`chars` characters of plausible Norwegian prose: a paragraph drawn from `rng`,
    repeated with a running number (no two stretches alike, and cheap for a mebibyte),
    ending in a marker that a truncation would lose."""
    paragraph = " ".join(rng.choice(_SENTENCES) for _ in range(8))
    end = f" [slutt på {label}]"
    parts: list[str] = []
    size, n = 0, 0
    while size < chars - len(end):
        n += 1
        piece = f"({n}) {paragraph} "
        parts.append(piece)
        size += len(piece)
    return "".join(parts)[: chars - len(end)] + end


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


def _lengthen(body: dict[str, Any], chars: int, rng: random.Random) -> None:
    """Every free-text field of the form: `melding` (privat, a string) or `melding` and
    `historie` inside `melding` (offentlig)."""
    text = body.get("melding")
    if isinstance(text, dict):
        text["melding"] = long_text(rng, chars, "melding")
        text["historie"] = long_text(rng, chars, "historie")
    else:
        body["melding"] = long_text(rng, chars, "melding")


def apply_profile(
    body: dict[str, Any], profile: str, rng: random.Random | None = None
) -> dict[str, Any]:
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
    elif profile in DST_PROFILES:  # both passes of 02:30 read the same, without an offset
        body["sendingstidspunkt"] = "2023-10-29T02:30:00"
    elif profile in LONG_TEXT:
        _lengthen(body, LONG_TEXT[profile], rng or random.Random(profile))
    elif profile == "unknown_district":
        body["bydelsnummer"], body["bydelsnavn"] = "99", "Ukjent bydel"
    elif profile == "no_districts":
        body["kommunenummer"], body["kommunenavn"] = "4640", "Sogndal"
        body["bydelsnummer"], body["bydelsnavn"] = "00", ""
    return body


def clock_start(profiles: Iterable[str | None]) -> str | None:
    """Plan.start for a plan whose reports have these profiles: the night the clocks go
    back when one of them is sent in it (so the case system's own clock is in that
    hour too), else None (wire.EPOCH)."""
    if any(p in DST_PROFILES for p in profiles):
        return FALLBACK_NIGHT.isoformat()
    return None


def profile_rng(profile: str | None, seed: int, index: int) -> random.Random:
    """`identical` reports share one random stream, so their bytes come out the same."""
    return random.Random(f"{seed}:identical" if profile == "identical" else f"{seed}:{index}")


def pad_pdf(pdf: bytes, other_bytes: int, limit: int) -> bytes:
    """Grow the PDF so the whole package ends 1 KiB under `limit`."""
    return pdf + b"\0" * max(0, limit - 1024 - other_bytes - len(pdf))
