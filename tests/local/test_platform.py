"""The local platform's lifecycle, on its own ports and state directory."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartstack.aws import target_for
from smartstack.config import Settings, resolve_settings
from smartstack.errors import NotRunningError, PortInUseError
from smartstack.local import platform, processes
from tests.conftest import ROOT, free_port


@pytest.fixture
def own_settings(tmp_path: Path) -> Iterator[Settings]:
    """A platform of its own: these tests stop and kill it."""
    settings = resolve_settings(
        root=ROOT,
        moto_port=free_port(),
        postgres_port=free_port(),
        environ={"SMARTSTACK_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path)},
    )
    yield settings
    platform.down(settings, purge=True)


def test_up_twice_is_idempotent(own_settings: Settings) -> None:
    first = platform.up(own_settings)
    assert first.healthy
    assert all(c.started for c in first.components)
    second = platform.up(own_settings)
    assert second.healthy
    assert not any(c.started for c in second.components)
    assert [c.pid for c in first.components] == [c.pid for c in second.components]


def test_endpoint_settings_reach_the_local_aws(own_settings: Settings) -> None:
    platform.up(own_settings)
    target = target_for(own_settings)
    assert target.endpoint_url("s3") == f"http://localhost:{own_settings.moto_port}"
    assert target.account_id() == "123456789012"


def test_status_reflects_a_killed_moto_server(own_settings: Settings) -> None:
    status = platform.up(own_settings)
    moto_pid = next(c.pid for c in status.components if c.name == "aws")
    assert moto_pid is not None
    os.kill(moto_pid, signal.SIGKILL)
    processes.terminate(moto_pid, timeout=5)
    after = {c.name: c for c in platform.status(own_settings).components}
    assert not after["aws"].running and not after["aws"].healthy
    assert after["postgres"].healthy
    with pytest.raises(NotRunningError, match="smartstack local up"):
        target_for(own_settings)
    restarted = {c.name: c for c in platform.up(own_settings).components}
    assert restarted["aws"].started and restarted["aws"].healthy


def test_down_leaves_no_process_of_ours(own_settings: Settings) -> None:
    pids = [c.pid for c in platform.up(own_settings).components]
    platform.down(own_settings)
    for pid in pids:
        assert pid is not None and not processes.pid_alive(pid)
    assert not platform.status(own_settings).healthy
    assert not own_settings.endpoints_file.exists()


def test_down_does_not_touch_a_process_it_did_not_start(own_settings: Settings) -> None:
    own_settings.local_dir.mkdir(parents=True)
    bystander = processes.spawn(
        ["sleep", "30"],
        own_settings.local_dir / "b.log",
        own_settings.local_dir / "moto.pid",
        dict(os.environ),
    )
    try:
        platform.down(own_settings)
        assert processes.pid_alive(bystander)
    finally:
        processes.terminate(bystander)


def test_a_taken_port_is_refused_before_anything_starts(own_settings: Settings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", own_settings.moto_port))
        squatter.listen()
        with pytest.raises(PortInUseError, match=f"port {own_settings.moto_port} is taken"):
            platform.up(own_settings)
    assert not any(c.running for c in platform.status(own_settings).components)
