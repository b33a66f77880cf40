"""The contract as data: the clause catalogue in `contracts/`, versioned and digested."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from harness.engine.digest import canonical_json


def contracts_dir() -> Path:
    """Inside an installed wheel the data sits in the package; in a checkout, beside it."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / "contracts", here.parent / "contracts"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "the contracts/ folder is missing from this installation; reinstall the harness package"
    )


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    description: str
    severity: str
    family: str | None


@dataclass(frozen=True)
class Contract:
    name: str
    version: str
    digest: str
    clauses: tuple[Clause, ...]
    warnings: tuple[Clause, ...]

    def clause(self, clause_id: str) -> Clause:
        for c in (*self.clauses, *self.warnings):
            if c.id == clause_id:
                return c
        raise KeyError(clause_id)


def _clause(raw: dict[str, Any]) -> Clause:
    return Clause(raw["id"], raw["title"], raw["description"], raw["severity"], raw.get("family"))


@cache
def load_contract() -> Contract:
    raw = json.loads((contracts_dir() / "clauses.json").read_text(encoding="utf-8"))
    return contract_from(raw)


def contract_from(raw: dict[str, Any]) -> Contract:
    digest = "sha256:" + hashlib.sha256(canonical_json(raw)).hexdigest()
    return Contract(
        raw["contract"],
        raw["version"],
        digest,
        tuple(_clause(c) for c in raw["clauses"]),
        tuple(_clause(c) for c in raw.get("warnings", [])),
    )
