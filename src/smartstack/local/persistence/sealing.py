"""The store encrypted and authenticated at rest, as AWS keeps its data.

The log and the checkpoint hold what the local AWS holds: secret values, keys, passwords.
Each record and each checkpoint is sealed with AES-256-GCM under a key of this machine's
user, kept beside the state (not in it, so a snapshot carries no key): nothing in the
store is readable as plain text, and a file that was not sealed with that key (changed,
or brought from elsewhere) is refused before anything of it is unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12


class SealError(Exception):
    """Bytes that were not sealed with this key, or were changed since."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def for_key_file(cls, path: Path) -> Sealer:
        """The key in ``path``, made (0600) on first use."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_bytes()
        else:
            key = AESGCM.generate_key(bit_length=256)
            with os.fdopen(fd, "wb") as out:
                out.write(key)
                out.flush()
                os.fsync(out.fileno())
        if len(key) != 32:
            raise SealError(f"{path} is not a key of this store (32 bytes)")
        return cls(key)

    def seal(self, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, data, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], context)
        except (InvalidTag, ValueError):
            raise SealError("not sealed with this machine's key, or changed since") from None
