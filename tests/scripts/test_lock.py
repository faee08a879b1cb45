"""The dependency pins: every install is from a lock with hashes, and the locks agree with
what they lock.

``requirements.lock`` is the tool's (``pyproject.toml`` with the ``dev`` extra; regenerate
it with the pip-compile command in its header); ``scripts/checkov.lock`` is checkov's own
environment (``CHECKOV_VERSION`` of ``scripts/versions.env``; regenerate it as its top
comment says); ``app/requirements.txt`` and ``app/migrator/requirements.txt`` are the
services' (the Lambda zips').
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from smartstack.core.envfile import read_env_file
from tests.conftest import ROOT

SERVICE_PINS = (ROOT / "app/requirements.txt", ROOT / "app/migrator/requirements.txt")
CHECKOV_LOCK = ROOT / "scripts/checkov.lock"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)")


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """Each pinned name (canonical) with its version and hashes; a requirement that is not
    ``name==version`` fails."""
    text = path.read_text().replace("\\\n", " ")
    pins: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("--"):
            continue
        match = _PIN.match(line)
        assert match, f"{path.name}: {line!r} is not pinned with =="
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})\b", line)
        pins[canonicalize_name(match[1])] = (match[2], hashes)
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    ]


def disagreements(
    requirements: list[Requirement], lock: dict[str, tuple[str, list[str]]]
) -> list[str]:
    """What pyproject.toml asks for that the lock does not pin, or pins outside the range."""
    found = []
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name not in lock:
            found.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(lock[name][0], prereleases=True):
            found.append(
                f"{requirement.name}: the lock pins {lock[name][0]}, not {requirement.specifier}"
            )
    return found


def test_the_tool_s_lock_pins_what_pyproject_asks_for() -> None:
    assert disagreements(declared(), locked(ROOT / "requirements.lock")) == []


def test_a_disagreement_is_seen() -> None:
    """The check above can fail: a pin outside pyproject's range, and a missing pin."""
    lock = locked(ROOT / "requirements.lock")
    lock["ruff"] = ("0.0.1", ["0" * 64])
    del lock["typer"]
    assert disagreements(declared(), lock) == [
        "typer is not in the lock",
        "ruff: the lock pins 0.0.1, not ==0.17.6",
    ]


@pytest.mark.parametrize(
    "path", [ROOT / "requirements.lock", CHECKOV_LOCK, *SERVICE_PINS], ids=lambda p: p.name
)
def test_every_pin_carries_its_hashes(path: Path) -> None:
    pins = locked(path)
    assert pins, f"{path} pins nothing"
    assert [name for name, (_, hashes) in pins.items() if not hashes] == []


def test_the_installs_require_hashes() -> None:
    setup = (ROOT / "scripts/setup.sh").read_text()
    assert re.search(
        r"pip\" install -q --require-hashes --no-deps -r \"\$repo/requirements\.lock\"", setup
    )
    assert "install -q -e" not in setup  # nothing resolved from the index outside the lock


def test_the_checkov_lock_pins_the_pinned_checkov() -> None:
    version = read_env_file((ROOT / "scripts/versions.env").read_text())["CHECKOV_VERSION"]
    assert locked(CHECKOV_LOCK)["checkov"][0] == version


def test_checkov_is_installed_from_its_lock_with_hashes() -> None:
    setup = (ROOT / "scripts/setup.sh").read_text()
    assert re.search(
        r"pip\" install -q --require-hashes --no-deps -r \"\$repo/scripts/checkov\.lock\"", setup
    )
    assert "checkov==" not in setup  # nothing resolved from the index outside the lock
