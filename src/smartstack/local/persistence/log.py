"""An append-only log whose records are on disk when ``append`` returns.

Each record is ``MAGIC | length | crc32 | payload``.  A kill can tear only the record
being written, which was never acknowledged: opening the log keeps every whole record
and cuts the torn tail off, so the log always opens.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

MAGIC = b"SSW1"
_HEADER = struct.Struct(">4sII")


class WriteAheadLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.torn_bytes = 0  # what opening cut off: the tail a kill tore
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "r+b", buffering=0)
        end = _whole_records_end(self._file)
        size = self._file.seek(0, os.SEEK_END)
        if end < size:
            self.torn_bytes = size - end
            self._file.truncate(end)
            os.fsync(self._file.fileno())
        self._file.seek(end)
        _sync_directory(path.parent)

    @property
    def size(self) -> int:
        return self._file.tell()

    def append(self, payload: bytes) -> None:
        """Write one record and fsync it: durable once this returns.  A write that fails
        (a full disk) is cut off again, so the records after it do not sit behind a torn
        one, which opening would cut off with them."""
        record = memoryview(_HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload)
        start = self._file.tell()
        try:
            while record:
                record = record[self._file.write(record) or 0 :]
            os.fdatasync(self._file.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                self._file.truncate(start)
                self._file.seek(start)
            raise

    def records(self) -> Iterator[bytes]:
        """Every whole record, oldest first."""
        with self.path.open("rb") as reader:
            while True:
                record = _read_record(reader)
                if record is None:
                    return
                yield record

    def truncate(self) -> None:
        """Empty the log (its records are in a checkpoint now)."""
        self._file.truncate(0)
        self._file.seek(0)
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _read_record(reader: BinaryIO) -> bytes | None:
    header = reader.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    magic, length, crc = _HEADER.unpack(header)
    if magic != MAGIC:
        return None
    payload = reader.read(length)
    if len(payload) < length or zlib.crc32(payload) != crc:
        return None
    return bytes(payload)


def _whole_records_end(file: BinaryIO) -> int:
    file.seek(0)
    end = 0
    while _read_record(file) is not None:
        end = file.tell()
    return end


def _sync_directory(directory: Path) -> None:
    """A created or renamed file is durable once its directory entry is."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a kill leaves the old file or the new, never half."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    _sync_directory(path.parent)
