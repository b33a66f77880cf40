"""Frames between the harness and the adapter's processes, and a codec that is safe to
decode from a process that runs untrusted code.

Only plain values cross: None, booleans, integers, floats, strings, bytes, lists and
string-keyed dictionaries. Nothing is unpickled, so a hostile adapter that writes
its own bytes onto the socket can make a frame invalid (a crash of its process),
never run code in the harness. Sizes are bounded before anything is allocated.
"""

from __future__ import annotations

import struct
from typing import Any

MAX_FRAME = 64 * 1024 * 1024  # a report package is at most 5 MB; records come in batches
MAX_DEPTH = 16
_LEN = struct.Struct(">I")
_I64 = struct.Struct(">q")
_F64 = struct.Struct(">d")

Value = Any  # None | bool | int | float | str | bytes | list[Value] | dict[str, Value]


class CodecError(ValueError):
    """A frame that is not a value of this codec (or is too large)."""


def _put(out: list[bytes], value: Value, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CodecError("a value nested too deep")
    if value is None:
        out.append(b"N")
    elif value is True:
        out.append(b"T")
    elif value is False:
        out.append(b"F")
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            out += (b"i", _I64.pack(value))
        else:
            text = str(value).encode()
            out += (b"I", _LEN.pack(len(text)), text)
    elif isinstance(value, float):
        out += (b"f", _F64.pack(value))
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        out += (b"s", _LEN.pack(len(data)), data)
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        out += (b"b", _LEN.pack(len(data)), data)
    elif isinstance(value, list | tuple):
        out += (b"l", _LEN.pack(len(value)))
        for item in value:
            _put(out, item, depth + 1)
    elif isinstance(value, dict):
        out += (b"d", _LEN.pack(len(value)))
        for key, item in value.items():
            if not isinstance(key, str):
                raise CodecError(f"a dictionary key that is a {type(key).__name__}")
            _put(out, key, depth + 1)
            _put(out, item, depth + 1)
    else:
        raise CodecError(f"cannot send a {type(value).__name__}")


def encode(value: Value) -> bytes:
    """One frame: its length, then the value."""
    out: list[bytes] = [b""]
    _put(out, value, 0)
    body = b"".join(out)
    if len(body) > MAX_FRAME:
        raise CodecError(f"a frame of {len(body)} bytes (at most {MAX_FRAME})")
    return _LEN.pack(len(body)) + body


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise CodecError("a frame cut short")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def length(self) -> int:
        n: int = _LEN.unpack(self.take(4))[0]
        if n > len(self.data) - self.pos:
            raise CodecError("a length beyond the frame")
        return n

    def value(self, depth: int) -> Value:
        if depth > MAX_DEPTH:
            raise CodecError("a value nested too deep")
        tag = self.take(1)
        if tag == b"N":
            return None
        if tag == b"T":
            return True
        if tag == b"F":
            return False
        if tag == b"i":
            return _I64.unpack(self.take(8))[0]
        if tag == b"f":
            return _F64.unpack(self.take(8))[0]
        if tag == b"I":
            text = self.take(self.length())
            if len(text) > 400 or not text.lstrip(b"-").isdigit():
                raise CodecError("a malformed integer")
            return int(text)
        if tag == b"s":
            try:
                return self.take(self.length()).decode("utf-8", "surrogatepass")
            except UnicodeDecodeError as exc:
                raise CodecError(f"a string that is not UTF-8 ({exc.reason})") from None
        if tag == b"b":
            return self.take(self.length())
        if tag == b"l":
            return [self.value(depth + 1) for _ in range(self.length())]
        if tag == b"d":
            out: dict[str, Value] = {}
            for _ in range(self.length()):
                key = self.value(depth + 1)
                if not isinstance(key, str):
                    raise CodecError("a dictionary key that is not a string")
                out[key] = self.value(depth + 1)
            return out
        raise CodecError(f"an unknown tag {tag!r}")


def decode(body: bytes) -> Value:
    """The value of one frame's body (without its length prefix), or CodecError."""
    reader = _Reader(body)
    value = reader.value(0)
    if reader.pos != len(body):
        raise CodecError("bytes after the value")
    return value


class FrameBuffer:
    """Collects bytes as they arrive and hands out whole frame bodies."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next(self) -> bytes | None:
        if len(self._buf) < 4:
            return None
        n = _LEN.unpack_from(self._buf)[0]
        if n > MAX_FRAME:
            raise CodecError(f"a frame of {n} bytes (at most {MAX_FRAME})")
        if len(self._buf) < 4 + n:
            return None
        body = bytes(self._buf[4 : 4 + n])
        del self._buf[: 4 + n]
        return body

    def next_ready(self) -> bool:
        """Whether a whole frame is waiting."""
        if len(self._buf) < 4:
            return False
        size: int = _LEN.unpack_from(self._buf)[0]
        return len(self._buf) >= 4 + size
