"""Content digests: what "intact" means, computed the same way for submission and record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

# json.dumps with these options builds a new encoder on every call; one is enough.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    return _CANONICAL.encode(value).encode()


def content_digest(files: Mapping[str, bytes], memo: dict[bytes, bytes] | None = None) -> str:
    """SHA-256 over every file; JSON files by their parsed content, so a record
    that re-serialises the same report is still intact, while any changed value,
    a truncated file or a missing attachment changes the digest.

    `memo` is a run's own table of JSON files already digested: a record read back
    at reconciliation has the bytes the portal digested at accept, and parsing and
    re-encoding them again is most of what a digest costs."""
    h = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        if not name.endswith(".json"):
            digest = hashlib.sha256(data).digest()
        elif memo is None:
            digest = _json_digest(data)
        else:
            known = memo.get(data)
            digest = memo[data] = _json_digest(data) if known is None else known
        h.update(name.encode() + b"\0" + digest)
    return h.hexdigest()


def _digest(is_json: bool, data: bytes) -> bytes:
    if is_json:
        try:
            data = canonical_json(json.loads(data))
        except (ValueError, UnicodeDecodeError):
            data = b"unparseable:" + data
    return hashlib.sha256(data).digest()


# Across runs (a search repeats the same payloads) a bounded cache; only small files,
# since the cache keeps its keys alive.
_cached_digest = lru_cache(maxsize=8192)(_digest)


def _json_digest(data: bytes) -> bytes:
    return _cached_digest(True, data) if len(data) < 65_536 else _digest(True, data)
