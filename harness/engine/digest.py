"""Content digests: what "intact" means, computed the same way for submission and record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_digest(files: Mapping[str, bytes]) -> str:
    """SHA-256 over every file; JSON files by their parsed content, so a record
    that re-serialises the same report is still intact, while any changed value,
    a truncated file or a missing attachment changes the digest."""
    h = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        if name.endswith(".json"):
            try:
                data = canonical_json(json.loads(data))
            except (ValueError, UnicodeDecodeError):
                data = b"unparseable:" + data
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()
