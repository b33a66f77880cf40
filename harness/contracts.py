"""The contract as data: the clause catalogue and the JSON Schemas in `contracts/`.

The contract digest covers every file there, so a report names exactly which
clauses and schemas it was checked against. Validators are compiled once and
their verdicts cached per distinct payload, so a redelivered message costs a
dictionary look-up, not a validation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import fastjsonschema

if TYPE_CHECKING:  # jsonschema is imported when a payload is invalid, not before
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

from harness.core.digest import canonical_json

SHORT_TYPES = {  # convenient names for `harness validate --type`
    "privat.v1": "no.ks.fiks.bekymringsmelding.privat.v1",
    "privat.v2": "no.ks.fiks.bekymringsmelding.privat.v2",
    "offentlig.v1": "no.ks.fiks.bekymringsmelding.offentlig.v1",
    "offentlig.v2": "no.ks.fiks.bekymringsmelding.offentlig.v2",
    "mottatt": "no.ks.fiks.bekymringsmelding.mottatt.v1",
    "feilet": "no.ks.fiks.bekymringsmelding.feilet.v1",
    "serverfeil": "no.ks.fiks.kvittering.serverfeil.v1",
    "tidsavbrudd": "no.ks.fiks.kvittering.tidsavbrudd",
}


def data_dir(name: str) -> Path:
    """A shipped data folder (contracts/, scenarios/): inside an installed wheel it sits in
    the package, in a checkout beside it."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / name, here.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the {name}/ folder is missing from this installation; reinstall the harness package"
    )


def contracts_dir() -> Path:
    return data_dir("contracts")


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


def _clause(raw: Mapping[str, Any]) -> Clause:
    return Clause(raw["id"], raw["title"], raw["description"], raw["severity"], raw.get("family"))


def contract_digest(files: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical JSON of every contract file, by relative name."""
    return "sha256:" + hashlib.sha256(canonical_json(dict(sorted(files.items())))).hexdigest()


def _read_all(root: Path) -> dict[str, Any]:
    return {
        p.relative_to(root).as_posix(): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(root.rglob("*.json"))
    }


@cache
def load_contract() -> Contract:
    files = _read_all(contracts_dir())
    return contract_from(files["clauses.json"], contract_digest(files))


def contract_from(raw: Mapping[str, Any], digest: str | None = None) -> Contract:
    return Contract(
        raw["contract"],
        raw["version"],
        digest or contract_digest({"clauses.json": raw}),
        tuple(_clause(c) for c in raw["clauses"]),
        tuple(_clause(c) for c in raw.get("warnings", [])),
    )


# -- schemas -----------------------------------------------------------------------
@dataclass(frozen=True)
class SchemaError:
    path: str  # JSON path of the offending value, e.g. $.offentligBarn[0].fnr
    rule: str  # the schema keyword broken, e.g. required, pattern, type
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} ({self.rule})"


@cache
def _schemas() -> tuple[dict[str, str], dict[str, Any]]:
    """(message type -> schema file, schema file -> schema)."""
    root = contracts_dir() / "schemas"
    index = json.loads((root / "index.json").read_text(encoding="utf-8"))
    index.pop("comment", None)
    by_file = {}
    for path in sorted(root.glob("*.json")):
        if path.name != "index.json":
            by_file[path.name] = json.loads(path.read_text(encoding="utf-8"))
    return index, by_file


def message_types() -> list[str]:
    return sorted(_schemas()[0])


def resolve_type(name: str) -> str | None:
    full = SHORT_TYPES.get(name, name)
    return full if full in _schemas()[0] else None


@cache
def validator(kind: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    index, by_file = _schemas()
    if kind not in index:
        raise KeyError(f"unknown message type {kind!r}; known: {', '.join(sorted(index))}")
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in by_file.values()
    )
    return Draft202012Validator(by_file[index[kind]], registry=registry)


def _error(err: ValidationError) -> SchemaError:
    path = err.json_path
    if err.validator == "required" and err.message.count("'") >= 2:
        path = f"{path}.{err.message.split(chr(39))[1]}"  # name the missing field itself
    return SchemaError(path, str(err.validator), err.message)


def _inline(node: Any, doc: dict[str, Any], docs: dict[str, dict[str, Any]]) -> Any:
    """The schema with every `$ref` replaced by what it points at (ours never recurse)."""
    if isinstance(node, list):
        return [_inline(v, doc, docs) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        uri, _, pointer = node["$ref"].partition("#")
        target = docs[uri] if uri else doc
        for part in filter(None, pointer.split("/")):
            target = target[part]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        merged = {**_inline(target, docs[uri] if uri else doc, docs), **rest}
        return (
            merged
            if not rest
            else {"allOf": [_inline(target, doc, docs), _inline(rest, doc, docs)]}
        )
    skip = ("$defs", "$id", "$schema", "description", "title")
    return {k: _inline(v, doc, docs) for k, v in node.items() if k not in skip}


@cache
def _fast_check(kind: str) -> Callable[[Any], Any]:
    """A compiled yes/no check (fastjsonschema, ~40x faster than the full validator).

    Valid payloads, nearly all of a run, stop here; an invalid one goes on to the
    full validator, whose errors name the path and the rule. Our schemas use only
    keywords that mean the same in draft 7, which the compiler speaks.
    """
    index, by_file = _schemas()
    docs = {schema["$id"]: schema for schema in by_file.values()}
    schema = by_file[index[kind]]
    flat = _inline(schema, schema, docs)
    flat["$schema"] = "http://json-schema.org/draft-07/schema#"
    return cast(Callable[[Any], Any], fastjsonschema.compile(flat))


def validate(kind: str, instance: Any) -> list[SchemaError]:
    """Every schema error in `instance`, in document order."""
    try:
        _fast_check(kind)(instance)
        return []
    except fastjsonschema.JsonSchemaException:
        pass  # invalid: the full validator says where and why
    errors = validator(kind).iter_errors(instance)
    return sorted((_error(e) for e in errors), key=lambda e: (e.path, e.rule))


def validate_bytes(kind: str, raw: bytes) -> tuple[SchemaError, ...]:
    """Validate a JSON payload as bytes; a bad encoding or bad JSON is an error at `$`.

    Each distinct payload is validated once: the portal's check and the case
    system's, and every redelivery, share the answer. The cache is bounded, and
    keeps no large payload alive (it holds its keys)."""
    if len(raw) > _CACHE_PAYLOADS_UP_TO:
        return _validate_bytes(kind, raw)
    return _cached_validate_bytes(kind, raw)


_CACHE_PAYLOADS_UP_TO = 65_536


def _validate_bytes(kind: str, raw: bytes) -> tuple[SchemaError, ...]:
    try:
        instance = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return (SchemaError("$", "encoding", f"not valid UTF-8: {exc.reason} at byte {exc.start}"),)
    except ValueError as exc:
        return (SchemaError("$", "json", f"not valid JSON: {exc}"),)
    return tuple(validate(kind, instance))


# 4,096 payloads outlive any report's redeliveries in a steady run.
_cached_validate_bytes = lru_cache(maxsize=4096)(_validate_bytes)
