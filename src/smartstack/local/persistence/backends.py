"""moto's state as one picture, and moto made to repeat itself.

A checkpoint is every backend moto has created (every service, account and region) in
one pickle, so objects shared between backends stay shared when it is loaded back.

Replaying the log after a kill must rebuild exactly what the clients were told: the same
ids, keys and tokens.  moto draws them from one generator, ``mock_random``; here each
thread draws from its own, and each logged write runs with it seeded from the write's
number, so the replayed write draws the same values.  A backend moto creates lazily (an
account's first EC2 request makes its default VPC) is seeded from its service, account
and region, whichever request happens to create it.  The few places that draw from
``os.urandom`` instead (STS session tokens, KMS key material, S3 upload ids) draw from
``mock_random`` too.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pickle
import random
import sys
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import cloudpickle  # type: ignore[import-untyped]

_WHERE = tuple[str, str]  # the module and the name a BackendDict lives under


# A BackendDict's own attributes; any other (S3's bucket_accounts) is state to keep.
_STRUCTURE = {"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"}


def capture() -> bytes:
    """Every backend moto has created, pickled together."""
    from moto.core.base_backend import BackendDict

    where = _backend_dicts()
    state = {
        where[id(backends)]: (
            dict(backends),
            {k: v for k, v in vars(backends).items() if k not in _STRUCTURE},
        )
        for backends in list(BackendDict._instances)  # type: ignore[misc]
        if id(backends) in where
    }
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    return out.getvalue()


_LOCKS = (type(threading.Lock()), type(threading.RLock()))


class _Pickler(cloudpickle.Pickler):  # type: ignore[misc]
    """moto's objects hold lambdas (``defaultdict(lambda: ...)``), pickled by value here;
    locks, which come back new and free (nothing holds them across a restart); weak
    dictionaries (Lambda's functions by ARN), whose items are held elsewhere; and key
    pairs, which cryptography does not pickle, kept as PKCS#8."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCKS):
            return type(obj), ()
        if isinstance(obj, (weakref.WeakValueDictionary, weakref.WeakKeyDictionary)):
            return type(obj), (dict(obj.items()),)
        if isinstance(obj, defaultdict) and type(obj) is not defaultdict:
            # defaultdict pickles as type(obj)(factory), which such a subclass refuses.
            state = vars(obj) or None
            return _empty, (type(obj), obj.default_factory), state, None, iter(obj.items())
        if type(obj).__module__.startswith("cryptography.") and hasattr(obj, "private_bytes"):
            return _private_key, (_key_der(obj),)
        return super().reducer_override(obj)


def _empty(kind: type[defaultdict[Any, Any]], factory: Any) -> Any:
    mapping = kind.__new__(kind)
    mapping.default_factory = factory
    return mapping


def _key_der(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    der: bytes = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return der


def _private_key(der: bytes) -> Any:
    """A key pair of KMS or IAM, as it was (its private part, whence the public)."""
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(der, password=None)


def restore(data: bytes) -> int:
    """Put a capture back in place of whatever moto holds; returns the backends restored."""
    from moto.core.base_backend import BackendDict

    # First: a reset disposes of every S3 object moto ever made, the loaded ones included.
    BackendDict.reset()
    state: dict[_WHERE, tuple[dict[str, Any], dict[str, Any]]] = pickle.loads(data)
    restored = 0
    for (module, name), (accounts, extras) in state.items():
        live = getattr(importlib.import_module(module), name)
        for account, regions in accounts.items():
            dict.__setitem__(live, account, regions)
            restored += len(regions)
        for attribute, value in extras.items():
            setattr(live, attribute, value)
        if accounts and live not in BackendDict._instances:  # type: ignore[misc]
            BackendDict._instances.append(live)  # type: ignore[misc]
    return restored


def _backend_dicts() -> dict[int, _WHERE]:
    """Where each of moto's BackendDicts lives (module, name), by identity."""
    from moto.core.base_backend import BackendDict

    found: dict[int, _WHERE] = {}
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("moto.") or not isinstance(module, ModuleType):
            continue
        for name, value in list(vars(module).items()):
            if isinstance(value, BackendDict) and id(value) not in found:
                found[id(value)] = (module_name, name)
    return found


class _PerThreadRandom(random.Random):
    """``mock_random`` with one generator per thread, so a thread's draws are its own."""

    _local = threading.local()

    def _generator(self) -> random.Random:
        generator: random.Random | None = getattr(self._local, "generator", None)
        if generator is None:
            generator = self._local.generator = random.Random()
        return generator

    def random(self) -> float:
        return self._generator().random()

    def getrandbits(self, k: int) -> int:
        return self._generator().getrandbits(k)

    def seed(self, a: Any = None, version: int = 2) -> None:
        self._generator().seed(a, version)

    def getstate(self) -> Any:
        return self._generator().getstate()

    def setstate(self, state: Any) -> None:
        self._generator().setstate(state)


@contextlib.contextmanager
def seeded(seed: int | str) -> Iterator[None]:
    """This thread's draws from ``mock_random`` repeat for the same seed; restored after."""
    from moto.moto_api._internal import mock_random

    before = mock_random.getstate()
    mock_random.seed(seed)
    try:
        yield
    finally:
        mock_random.setstate(before)


def make_repeatable() -> None:
    """Install the per-thread generator, seeded backend creation and the urandom fixes."""
    from moto.core import base_backend
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.moto_random import MotoRandom

    class PerThreadMotoRandom(_PerThreadRandom, MotoRandom):
        pass

    mock_random.__class__ = PerThreadMotoRandom

    create = base_backend.AccountSpecificBackend.__getitem__

    def getitem(self: Any, region_name: str) -> Any:
        if dict.__contains__(self, region_name):
            return dict.__getitem__(self, region_name)
        region = "aws" if region_name == "global" else region_name
        with seeded(f"backend/{self.service_name}/{self.account_id}/{region}"):
            return create(self, region_name)

    setattr(base_backend.AccountSpecificBackend, "__getitem__", getitem)  # noqa: B010

    def urandom(size: int) -> bytes:
        return mock_random.randbytes(size)

    for module_name in ("moto.sts.utils", "moto.kms.utils", "moto.s3.models"):
        module = importlib.import_module(module_name)
        module.os = _OsDrawingFromMoto(urandom)  # type: ignore[attr-defined]


class _OsDrawingFromMoto(ModuleType):
    """``os`` for a moto module, whose ``urandom`` draws from ``mock_random``."""

    def __init__(self, urandom: Any) -> None:
        super().__init__("os")
        self.urandom = urandom

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)
