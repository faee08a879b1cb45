"""scripts/build-toolchain.sh, official route: OpenTofu from a release archive checked
against the release's SHA256SUMS, served here by a local HTTP server.

The server stands in for the official release site (SMARTSTACK_OPENTOFU_RELEASE_URL
points at it); the archive holds a `tofu` script that reports the pinned version.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from smartstack.core.config import resolve_settings
from smartstack.core.envfile import read_env_file
from smartstack.infra.toolchain import toolchain
from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "build-toolchain.sh"
VERSION = read_env_file((ROOT / "scripts" / "versions.env").read_text())["OPENTOFU_VERSION"]
ZIP = f"tofu_{VERSION}_linux_amd64.zip"
SUMS = f"tofu_{VERSION}_SHA256SUMS"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def release_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local release site: (base URL, the directory of this version's files)."""
    root = tmp_path / "site"
    files = root / f"v{VERSION}"
    files.mkdir(parents=True)
    tofu = f"#!/bin/sh\necho 'OpenTofu v{VERSION}'\necho 'on linux_amd64'\n"
    with zipfile.ZipFile(files / ZIP, "w") as archive:
        archive.writestr("tofu", tofu)
        archive.writestr("LICENSE", "MPL-2.0\n")
    digest = hashlib.sha256((files / ZIP).read_bytes()).hexdigest()
    (files / SUMS).write_text(f"{'0' * 64}  tofu_{VERSION}_darwin_arm64.zip\n{digest}  {ZIP}\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, url: str, route: str, **extra: str) -> dict[str, str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return dict(os.environ) | {
        "SMARTSTACK_CACHE": str(tmp_path / "cache"),
        "SMARTSTACK_OPENTOFU_RELEASE_URL": url,
        "SMARTSTACK_TOOLCHAIN_ROUTE": route,
        "TMPDIR": str(tmp),
        "PATH": "/usr/bin:/bin",  # no tofu of the developer's on PATH
        **extra,
    }


def _run(env: dict[str, str], part: str = "tofu") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), part], env=env, capture_output=True, text=True,
                          check=False, timeout=120)  # fmt: skip


def _files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if not p.is_dir())


def test_the_official_route_installs_the_release_archive(
    tmp_path: Path, release_site: tuple[str, Path]
) -> None:
    url, _ = release_site
    env = _env(tmp_path, url, "official")
    result = _run(env)
    assert result.returncode == 0, result.stderr
    cache = tmp_path / "cache"
    tofu = cache / "bin" / f"tofu-{VERSION}"
    assert subprocess.run([str(tofu), "version"], capture_output=True, text=True,
                          check=True).stdout.startswith(f"OpenTofu v{VERSION}")  # fmt: skip
    routes = [line for line in result.stderr.splitlines() if "route:" in line]
    assert len(routes) == 1 and "official" in routes[0] and "SHA256 verified" in routes[0]
    assert read_env_file((cache / "toolchain.env").read_text()) == {
        "ROUTE": "official",
        "PROVIDERS": "registry",
    }
    rc = (cache / "tofu.rc").read_text()
    assert "filesystem_mirror" in rc and "direct {}" in rc and "plugin_cache_dir" in rc
    assert _files(tmp_path / "tmp") == []

    # The provider then comes from the registry at tofu init: nothing is built.
    again = _run(env, "provider")
    assert again.returncode == 0, again.stderr
    assert "installs it from the registry" in again.stderr
    assert "building" not in again.stderr
    assert not (cache / "providers").exists() or _files(cache / "providers") == []

    # The tool then needs no provider binary beforehand; the source route does.
    settings = resolve_settings(root=ROOT, environ={"SMARTSTACK_CACHE": str(cache)})
    tools = toolchain(settings)
    assert tools.provider_from_registry
    assert tools.provider not in tools.missing() and tools.tofu not in tools.missing()
    (cache / "toolchain.env").write_text("ROUTE=source\nPROVIDERS=mirror\n")
    assert tools.provider in toolchain(settings).missing()


def test_a_wrong_checksum_is_refused_and_nothing_is_installed(
    tmp_path: Path, release_site: tuple[str, Path]
) -> None:
    url, files = release_site
    (files / SUMS).write_text(f"{'ab' * 32}  {ZIP}\n")
    for route in ("official", "auto"):  # a bad archive is never a reason to fall back
        result = _run(_env(tmp_path, url, route))
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith(f"[toolchain] error: checksum mismatch for {ZIP} ")
        assert "refused, nothing installed" in lines[-1]
        assert not any("route:" in line for line in lines)
        assert [f for f in _files(tmp_path / "cache") if "tofu" in f] == []
        assert _files(tmp_path / "tmp") == []


def test_an_archive_the_sums_do_not_list_is_refused(
    tmp_path: Path, release_site: tuple[str, Path]
) -> None:
    url, files = release_site
    (files / SUMS).write_text(f"{'ab' * 32}  tofu_{VERSION}_windows_amd64.zip\n")
    result = _run(_env(tmp_path, url, "auto"))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"[toolchain] error: the release's {SUMS} does not list {ZIP}")
    assert _files(tmp_path / "cache" / "bin") == []


def test_an_unreachable_site_fails_fast_in_one_line_when_fallback_is_off(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    result = _run(_env(tmp_path, url, "official"))
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("[toolchain] error: the official route failed: release site not "
                               f"usable within 3s ({url}/v{VERSION}/{SUMS}: ")  # fmt: skip
    assert lines[0].endswith("allow the fallback: SMARTSTACK_TOOLCHAIN_ROUTE=auto.")
    assert _files(tmp_path / "cache") == []


def test_a_site_that_never_answers_is_given_up_quickly(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        result = _run(_env(tmp_path, url, "official", SMARTSTACK_RELEASE_TIMEOUT="1"))
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "release site not usable within 1s" in result.stderr
    assert elapsed < 8


def test_an_unreachable_site_falls_back_to_the_source_build(tmp_path: Path) -> None:
    """auto: one line says the source route is taken and why; without Go, one line says so."""
    no_go = tmp_path / "bin"
    no_go.mkdir()
    for tool in ("bash", "dirname", "mkdir", "cat", "mv", "rm", "sed", "mktemp", "curl",
                 "awk", "cut", "sha256sum", "head", "grep"):  # fmt: skip
        found = shutil.which(tool)
        assert found is not None
        (no_go / tool).symlink_to(found)
    url = f"http://127.0.0.1:{_closed_port()}"
    env = _env(tmp_path, url, "auto") | {"PATH": str(no_go)}
    result = _run(env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"[toolchain] route: source, building OpenTofu {VERSION} and the "
                               "AWS provider from their Go modules (release site not usable "
                               "within 3s (")  # fmt: skip
    assert lines[1:] == [
        "[toolchain] error: Go is not installed; install Go 1.26+ "
        "(it builds OpenTofu and the AWS provider)."
    ]
    assert [f for f in _files(tmp_path / "cache") if "tofu" in f] == []


def test_without_a_release_site_the_route_says_so(tmp_path: Path) -> None:
    env = _env(tmp_path, "", "official")
    result = _run(env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "[toolchain] error: SMARTSTACK_TOOLCHAIN_ROUTE=official needs "
        "SMARTSTACK_OPENTOFU_RELEASE_URL (the release downloads' base URL)."
    )
