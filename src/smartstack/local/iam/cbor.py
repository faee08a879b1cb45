"""A small CBOR decoder (RFC 8949), for the Smithy RPC v2 CBOR requests some SDKs send.

Enough for request bodies: integers, byte and text strings (definite and indefinite),
arrays, maps, tags (the tagged value is returned), simple values and floats.
"""

from __future__ import annotations

import struct
from typing import Any


class CborError(ValueError):
    """Not CBOR, or truncated."""


_BREAK = object()


def decode_cbor(data: bytes) -> Any:
    value, end = _item(data, 0)
    if end != len(data):
        raise CborError(f"{len(data) - end} bytes after the first item")
    return value


def _length(data: bytes, pos: int, info: int) -> tuple[int | None, int]:
    if info < 24:
        return info, pos
    sizes = {24: 1, 25: 2, 26: 4, 27: 8}
    if info in sizes:
        n = sizes[info]
        if pos + n > len(data):
            raise CborError("truncated")
        return int.from_bytes(data[pos : pos + n], "big"), pos + n
    if info == 31:
        return None, pos  # indefinite
    raise CborError(f"reserved additional information {info}")


def _item(data: bytes, pos: int) -> tuple[Any, int]:
    if pos >= len(data):
        raise CborError("truncated")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if major == 7:
        return _simple(data, pos, info)
    length, pos = _length(data, pos, info)
    if major == 0:
        return length, pos
    if major == 1:
        return -1 - (length or 0), pos
    if major in (2, 3):
        if length is None:
            chunks: list[Any] = []
            while True:
                chunk, pos = _item(data, pos)
                if chunk is _BREAK:
                    break
                chunks.append(chunk)
            joined = b"".join(c.encode() if isinstance(c, str) else c for c in chunks)
            return (joined.decode() if major == 3 else joined), pos
        raw = data[pos : pos + length]
        if len(raw) != length:
            raise CborError("truncated")
        return (raw.decode() if major == 3 else bytes(raw)), pos + length
    if major == 4:
        items: list[Any] = []
        while length is None or len(items) < length:
            item, pos = _item(data, pos)
            if item is _BREAK:
                break
            items.append(item)
        return items, pos
    if major == 5:
        mapping: dict[Any, Any] = {}
        count = 0
        while length is None or count < length:
            key, pos = _item(data, pos)
            if key is _BREAK:
                break
            value, pos = _item(data, pos)
            mapping[key] = value
            count += 1
        return mapping, pos
    # major 6: a tag; the tagged item stands for itself (timestamps, big numbers)
    return _item(data, pos)


def _simple(data: bytes, pos: int, info: int) -> tuple[Any, int]:
    if info == 20:
        return False, pos
    if info == 21:
        return True, pos
    if info in (22, 23):
        return None, pos
    if info == 31:
        return _BREAK, pos
    formats = {25: (">e", 2), 26: (">f", 4), 27: (">d", 8)}
    if info in formats:
        fmt, n = formats[info]
        if pos + n > len(data):
            raise CborError("truncated")
        return struct.unpack(fmt, data[pos : pos + n])[0], pos + n
    if info == 24:
        return data[pos], pos + 1
    return info, pos
