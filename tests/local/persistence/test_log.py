"""The write-ahead log keeps every whole record and always opens, whatever a kill tore."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from smartstack.local.persistence.log import MAGIC, WriteAheadLog, write_atomically


def test_records_come_back_in_order_after_reopening(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path / "w.log")
    payloads = [os.urandom(random.randint(0, 3000)) for _ in range(50)]
    for payload in payloads:
        log.append(payload)
    log.close()
    assert list(WriteAheadLog(tmp_path / "w.log").records()) == payloads


@pytest.mark.parametrize("cut", [1, 5, 11, 12, 100])
def test_a_torn_last_record_is_cut_and_the_others_kept(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "w.log"
    log = WriteAheadLog(path)
    log.append(b"first")
    log.append(b"second")
    log.append(b"x" * 200)
    log.close()
    whole = path.stat().st_size
    os.truncate(path, whole - cut)  # a kill in the middle of the third append
    reopened = WriteAheadLog(path)
    assert list(reopened.records()) == [b"first", b"second"]
    assert reopened.torn_bytes == (200 + 12) - cut
    reopened.append(b"after")  # the log goes on from the last whole record
    reopened.close()
    assert list(WriteAheadLog(path).records()) == [b"first", b"second", b"after"]


def test_a_record_with_bad_bytes_ends_the_log_there(tmp_path: Path) -> None:
    path = tmp_path / "w.log"
    log = WriteAheadLog(path)
    for payload in (b"one", b"two", b"three"):
        log.append(payload)
    log.close()
    data = bytearray(path.read_bytes())
    data[-2] ^= 0xFF  # the last payload changed: its checksum no longer matches
    path.write_bytes(bytes(data))
    assert list(WriteAheadLog(path).records()) == [b"one", b"two"]
    assert path.read_bytes().count(MAGIC) == 2


def test_a_failed_append_is_cut_off_so_later_records_are_kept(tmp_path: Path) -> None:
    """A full disk: half a record written, then an error. The next records must not end
    up behind that torn one (opening would cut them off with it)."""
    path = tmp_path / "w.log"
    log = WriteAheadLog(path)
    log.append(b"before")
    real = log._file

    class FullDisk:
        def __init__(self) -> None:
            self.failed = False

        def write(self, data: memoryview) -> int:
            if self.failed:
                return real.write(data)
            self.failed = True
            real.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    log._file = FullDisk()  # type: ignore[assignment]
    with pytest.raises(OSError, match="No space"):
        log.append(b"x" * 100)
    log.append(b"after")
    log.close()
    assert list(WriteAheadLog(path).records()) == [b"before", b"after"]


def test_truncate_empties_the_log(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path / "w.log")
    log.append(b"one")
    log.truncate()
    log.append(b"two")
    assert list(log.records()) == [b"two"]


def test_the_log_and_its_directory_are_private(tmp_path: Path) -> None:
    """It holds what the local AWS holds, secret values included."""
    WriteAheadLog(tmp_path / "w.log").close()
    assert (tmp_path / "w.log").stat().st_mode & 0o077 == 0
    write_atomically(tmp_path / "c.pickle", b"data")
    assert (tmp_path / "c.pickle").stat().st_mode & 0o077 == 0


_APPENDER = """
import sys
from pathlib import Path
from smartstack.local.persistence.log import WriteAheadLog
log = WriteAheadLog(Path(sys.argv[1]))
n = 0
while True:
    log.append(str(n).encode() * 500)
    print(n, flush=True)  # acknowledged: on disk
    n += 1
"""


def test_a_process_killed_while_appending_leaves_every_acknowledged_record(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.log"
    for _ in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", _APPENDER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        acknowledged = [int(child.stdout.readline()) for _ in range(random.randint(1, 200))]
        child.kill()
        child.wait()
        records = list(WriteAheadLog(path).records())
        assert records[: len(acknowledged)] == [str(n).encode() * 500 for n in acknowledged]
        assert all(r == str(n).encode() * 500 for n, r in enumerate(records))
        path.unlink()


def test_write_atomically_leaves_the_old_file_or_the_new(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint"
    write_atomically(target, b"old")
    (tmp_path / "checkpoint.tmp").write_bytes(b"half of the ne")  # a kill before the rename
    assert target.read_bytes() == b"old"
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert not (tmp_path / "checkpoint.tmp").exists()
