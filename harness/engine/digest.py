"""Content digests: what "intact" means, computed the same way for submission and record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_digest(files: Mapping[str, bytes]) -> str:
    """SHA-256 over every file; JSON files by their parsed content, so a record
    that re-serialises the same report is still intact, while any changed value,
    a truncated file or a missing attachment changes the digest."""
    h = hashlib.sha256()
    for name in sorted(files):
        data, is_json = files[name], name.endswith(".json")
        # Cache only small files: the cache keeps its keys alive, and a PDF may be 5 MB.
        digest = _file_digest(is_json, data) if len(data) < 65_536 else _digest(is_json, data)
        h.update(name.encode() + b"\0" + digest)
    return h.hexdigest()


def _digest(is_json: bool, data: bytes) -> bytes:
    if is_json:
        try:
            data = canonical_json(json.loads(data))
        except (ValueError, UnicodeDecodeError):
            data = b"unparseable:" + data
    return hashlib.sha256(data).digest()


# A record read back at reconciliation has the bytes the portal digested at accept.
_file_digest = lru_cache(maxsize=8192)(_digest)
