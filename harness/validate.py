"""`harness validate`: check message payloads against the contract's schemas."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.contracts import SchemaError, message_types, resolve_type, validate_bytes
from harness.errors import UsageError

# An error quotes the value it is about; of a 50 MB field it shows the start and the
# end (where the rule is named), and how much it left out.
HEAD, TAIL = 120, 80


def shorten(text: str) -> str:
    if len(text) <= HEAD + TAIL + 40:
        return text
    left_out = len(text) - HEAD - TAIL
    return f"{text[:HEAD]}…[{left_out:,} characters left out]…{text[-TAIL:]}"


def _too_deep(raw: bytes) -> bool:
    try:
        json.loads(raw.decode("utf-8"))
    except RecursionError:
        return True
    except ValueError:  # UnicodeDecodeError too: reported as an error of the file
        pass
    return False


@dataclass(frozen=True)
class FileVerdict:
    path: Path
    kind: str
    errors: tuple[SchemaError, ...]


def infer_type(path: Path, raw: bytes) -> str | None:
    """Guess the message type from the content (and a V1/V2 hint in the file name)."""
    try:
        body: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    version = "v1" if "v1" in path.stem.lower() else "v2"
    for form in ("privat", "offentlig"):
        if f"{form}Melder" in body or f"{form}Barn" in body:
            return resolve_type(f"{form}.{version}")
    if set(body) <= {"melding"}:
        return resolve_type("feilet")  # a feilmelding body: at most a `melding` text
    return None


def validate_path(path: Path, kind: str | None) -> list[FileVerdict]:
    if kind is not None and resolve_type(kind) is None:
        raise UsageError(
            f"unknown --type {kind!r}; known: {', '.join(message_types())} "
            "(or short: privat.v1, offentlig.v2, feilet, ...)"
        )
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not files:
            raise UsageError(f"no *.json files in folder {str(path)!r}")
    elif path.is_file():
        files = [path]
    else:
        raise UsageError(f"cannot read {str(path)!r}: no such file or folder")
    verdicts = []
    for file in files:
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {str(file)!r}: {exc.strerror}") from exc
        if _too_deep(raw):
            raise UsageError(
                f"{str(file)!r} nests arrays or objects too deeply to be a message "
                "(no payload of the protocol nests more than a few levels); check the file"
            )
        resolved = resolve_type(kind) if kind else infer_type(file, raw)
        if resolved is None:
            raise UsageError(
                f"cannot tell the message type of {str(file)!r}; "
                "give it with --type (e.g. --type privat.v2)"
            )
        errors = tuple(
            replace(e, message=shorten(e.message)) for e in validate_bytes(resolved, raw)
        )
        verdicts.append(FileVerdict(file, resolved, errors))
    return verdicts
