"""``smartstack build``: a release from a clean git commit.

A release is one deterministic Lambda zip per service plus a manifest.  The
same commit always gives the same bytes (same sha256): entries are sorted,
timestamps fixed at 1980-01-01, permissions fixed, no bytecode, and the
vendored dependencies' metadata is stripped of anything that names a path or
an interpreter.  Artifacts are stored in the bucket under their digest, so
promotion to another environment deploys the very bytes that were tested.

The release id is ``r-<first 12 hex digits of the commit>``; a build from a
dirty tree (``allow_dirty``, for local work only) gets ``-dirty`` appended so it
can never pass for the commit's release.

The dependencies are wheels for the functions' runtime and architecture (the
service table's ``RUNTIME`` and ``ARCHITECTURE``): compiled extension modules
ship when they are built for that CPython and platform, and a build refuses one
made for another.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from smartstack.core.errors import CommandFailedError, ConfigError, UsageError
from smartstack.core.services import (
    ARCHITECTURE,
    PYTHON_VERSION,
    REQUIREMENTS,
    RUNTIME,
    SERVICES,
    Service,
)

RELEASE_ID_LENGTH = 12
MANIFEST_VERSION = 1
# The OpenTofu code and the tool pins it was tested with: deploys apply the
# release's own infrastructure, not whatever the deploying checkout holds.
INFRASTRUCTURE = "infrastructure"
INFRASTRUCTURE_FILES = ("infrastructure", "scripts/versions.env")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16  # regular file, rw-r--r--
_STRIPPED_METADATA = ("direct_url.json", "INSTALLER", "REQUESTED")
# Lambda's architectures: the wheel platform pip installs for, the ELF machine of
# a loadable binary and CPython's platform in extension-module names.
_PLATFORMS = {
    "x86_64": ("manylinux2014_x86_64", 62, "x86_64-linux-gnu"),
    "arm64": ("manylinux2014_aarch64", 183, "aarch64-linux-gnu"),
}
_ELF_MACHINES = {3: "x86 (32-bit)", 40: "ARM (32-bit)", 62: "x86_64", 183: "aarch64"}
_WHEEL_PLATFORM, _ELF_MACHINE, _EXTENSION_PLATFORM = _PLATFORMS[ARCHITECTURE]
_ABI = "cp" + PYTHON_VERSION.replace(".", "")  # cp312
# Wheels for Lambda's runtime only (pure ones, or compiled for exactly that CPython and platform).
_PIP_PLATFORM = (
    "--platform", _WHEEL_PLATFORM, "--python-version", PYTHON_VERSION,
    "--implementation", "cp", "--abi", _ABI,
)  # fmt: skip
_TARGET = f"Lambda's {RUNTIME} on {ARCHITECTURE} ({_ABI}, {_WHEEL_PLATFORM})"
_COMPILED = re.compile(r"\.(so(\.[0-9]+)*|pyd|dll|dylib)$")
_EXTENSION_TAG = re.compile(r"\.cpython-([0-9]+)[a-z]*-([^.]+)\.so$")


@dataclass(frozen=True)
class Artifact:
    name: str
    sha256: str
    size: int
    key: str  # artifacts/<sha256>.zip in the artifacts bucket
    handler: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.zip"


@dataclass(frozen=True)
class Manifest:
    release: str
    commit: str
    created_from: str | None
    artifacts: tuple[Artifact, ...]
    runtime: str = RUNTIME
    architecture: str = ARCHITECTURE
    # infrastructure/ and the tool pins as released: every environment applies the same code.
    infrastructure: Artifact | None = None

    @property
    def stored(self) -> tuple[Artifact, ...]:
        """Every file of the release in the bucket: the Lambda zips (the migrator's carries the
        migrations) and the infrastructure."""
        return self.artifacts + ((self.infrastructure,) if self.infrastructure else ())

    def artifact(self, name: str) -> Artifact:
        for artifact in self.artifacts:
            if artifact.name == name:
                return artifact
        known = ", ".join(a.name for a in self.artifacts)
        raise UsageError(f"release {self.release} has no artifact {name!r}; it has: {known}.")

    def to_json(self) -> str:
        data = {
            "version": MANIFEST_VERSION,
            "release": self.release,
            "commit": self.commit,
            "created_from": self.created_from,
            "runtime": self.runtime,
            "architecture": self.architecture,
            "artifacts": {
                a.name: {k: v for k, v in asdict(a).items() if k != "name"} for a in self.artifacts
            },
            "infrastructure": _extra_json(self.infrastructure),
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            data = json.loads(text)
            artifacts = tuple(
                _checked(
                    Artifact(
                        name, str(a["sha256"]), int(a["size"]), str(a["key"]), str(a["handler"])
                    )
                )
                for name, a in sorted(data["artifacts"].items())
            )
            return cls(
                release=str(data["release"]),
                commit=str(data["commit"]),
                created_from=data.get("created_from"),
                artifacts=artifacts,
                runtime=str(data.get("runtime", RUNTIME)),
                # Releases from before the field were all built for x86_64.
                architecture=str(data.get("architecture", "x86_64")),
                infrastructure=_extra_from_json(INFRASTRUCTURE, data.get("infrastructure")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"not a release manifest ({exc}); rebuild the release.") from exc


def _extra_json(artifact: Artifact | None) -> dict[str, object] | None:
    if artifact is None:
        return None
    return {k: v for k, v in asdict(artifact).items() if k not in ("name", "handler")}


def _extra_from_json(name: str, data: dict[str, object] | None) -> Artifact | None:
    if not data:
        return None
    return _checked(
        Artifact(name, str(data["sha256"]), int(str(data["size"])), str(data["key"]), "")
    )


_ARTIFACT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _checked(artifact: Artifact) -> Artifact:
    """An artifact whose name and digest can only name a file of its own: a manifest comes
    from a bucket, and its names become paths (``../x`` would write outside the cache)."""
    if not _ARTIFACT_NAME.match(artifact.name):
        raise ValueError(f"artifact name {artifact.name!r} is not a service name")
    if not _SHA256.match(artifact.sha256):
        raise ValueError(f"{artifact.name}: sha256 {artifact.sha256!r} is not a digest")
    if artifact.key != f"artifacts/{artifact.sha256}.zip":
        raise ValueError(f"{artifact.name}: key {artifact.key!r} is not its digest's")
    return artifact


def release_id_for(commit: str) -> str:
    """``r-`` and the first 12 hex digits of the commit."""
    return f"r-{commit[:RELEASE_ID_LENGTH]}"


def default_wheel_cache() -> Path:
    base = os.environ.get("SMARTSTACK_CACHE") or str(Path.home() / ".cache/smartstack")
    return Path(base) / "wheels"


# --- build -------------------------------------------------------------------------------


def build_release(
    root: Path, out_dir: Path, *, allow_dirty: bool = False, wheel_cache: Path | None = None
) -> Manifest:
    """Build every service's zip and ``manifest.json`` into ``out_dir`` from the commit at ``root``.

    Refuses a dirty working tree unless ``allow_dirty`` (the release id then ends in ``-dirty``).
    """
    root = root.resolve()
    commit = _git(root, "rev-parse", "HEAD")
    dirty = dirty_paths(root)
    if dirty and not allow_dirty:
        more = f" and {len(dirty) - 3} more" if len(dirty) > 3 else ""
        raise UsageError(
            f"the working tree at {root} is dirty ({', '.join(dirty[:3])}{more}); "
            "commit or stash the changes, then build again."
        )
    release = release_id_for(commit) + ("-dirty" if dirty else "")
    out_dir.mkdir(parents=True, exist_ok=True)
    release_file = json.dumps({"commit": commit, "release": release}, sort_keys=True) + "\n"
    with tempfile.TemporaryDirectory(prefix="smartstack-build-") as tmp:
        vendor = _vendor(root / REQUIREMENTS, Path(tmp) / "vendor", wheel_cache)
        built = []
        for service in sorted(SERVICES, key=lambda s: s.name):
            wheels = _with_extra(root, service, vendor, Path(tmp), wheel_cache)
            built.append(_build_service(root, service, wheels, release_file.encode(), out_dir))
        artifacts = tuple(built)
        infrastructure = _store(INFRASTRUCTURE, _infrastructure_zip(root), "", out_dir)
    manifest = Manifest(release, commit, _branch(root), artifacts, infrastructure=infrastructure)
    (out_dir / "manifest.json").write_text(manifest.to_json())
    return manifest


def _with_extra(
    root: Path, service: Service, vendor: Mapping[str, bytes], tmp: Path, wheel_cache: Path | None
) -> Mapping[str, bytes]:
    """The common wheels, plus the ones only this service pins (its ``extra_requirements``)."""
    if service.extra_requirements is None:
        return vendor
    extra = _vendor(root / service.extra_requirements, tmp / f"vendor-{service.name}", wheel_cache)
    return {**vendor, **extra}


def _build_service(
    root: Path, service: Service, vendor: Mapping[str, bytes], release_file: bytes, out_dir: Path
) -> Artifact:
    entries: dict[str, bytes] = dict(vendor)
    for package in service.packages:
        entries.update(_package_files(root, package))
    entries["release.json"] = release_file
    handler_module = service.handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
    if handler_module not in entries:
        raise ConfigError(
            f"service {service.name}: handler module {handler_module} is not in "
            f"{', '.join(service.packages)}; commit it or fix the handler."
        )
    return _store(service.name, deterministic_zip(entries), service.handler, out_dir)


def _infrastructure_zip(root: Path) -> bytes:
    """The stacks' code and tfvars, and the tool pins, named from the repository root."""
    entries: dict[str, bytes] = {}
    for item in INFRASTRUCTURE_FILES:
        parent = Path(item).parent
        for name, data in _package_files(root, item).items():
            if not name.endswith(".md"):
                entries[(parent / name).as_posix()] = data
    return deterministic_zip(entries)


def _store(name: str, data: bytes, handler: str, out_dir: Path) -> Artifact:
    (out_dir / f"{name}.zip").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    return Artifact(name, digest, len(data), f"artifacts/{digest}.zip", handler)


def deterministic_zip(entries: Mapping[str, bytes]) -> bytes:
    """A zip whose bytes depend only on ``entries``: sorted, fixed dates and modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = _FILE_MODE
            info.create_system = 3  # Unix, whatever machine builds it
            archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def _package_files(root: Path, package: str) -> dict[str, bytes]:
    """The package's tracked (and, when dirty, untracked) files, named from its parent."""
    listed = _git(
        root,
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
        package,
        raw=True,
    )
    parent = (root / package).parent
    files: dict[str, bytes] = {}
    for rel in filter(None, listed.split("\0")):
        path = root / rel
        if _skipped(rel) or not path.is_file():
            continue
        files[path.relative_to(parent).as_posix()] = path.read_bytes()
    if not files:
        raise ConfigError(f"{package} has no files in git; commit the service's code first.")
    return files


def _skipped(name: str) -> bool:
    parts = name.split("/")
    return "__pycache__" in parts or name.endswith((".pyc", ".pyo"))


# --- vendored dependencies --------------------------------------------------------------


def _vendor(requirements: Path, target: Path, wheel_cache: Path | None) -> dict[str, bytes]:
    """The pinned requirements installed from wheels, as normalised zip entries."""
    if not requirements.is_file():
        raise ConfigError(f"{requirements} is missing; it pins the services' runtime packages.")
    cache = wheel_cache or default_wheel_cache()
    cache.mkdir(parents=True, exist_ok=True)
    install = [
        "install", "--quiet", "--no-deps", "--no-compile", "--only-binary=:all:",
        "--require-hashes", "--target", str(target), *_PIP_PLATFORM, "--no-index",
        "--find-links", str(cache), "-r", str(requirements),
    ]  # fmt: skip
    first = _pip(install)
    if first.returncode != 0:
        _hash_problem(requirements, first.stderr, cache)  # a tampered cache is not refetched
        download = [
            "download", "--quiet", "--no-deps", "--only-binary=:all:", "--require-hashes",
            *_PIP_PLATFORM, "--dest", str(cache), "-r", str(requirements),
        ]  # fmt: skip
        fetched = _pip(download)
        if fetched.returncode != 0:
            _hash_problem(requirements, fetched.stderr, cache)
            raise CommandFailedError(
                f"pip could not fetch wheels of {requirements.name} for {_TARGET}: "
                f"{_last_line(fetched.stderr)}; pin versions that ship such wheels."
            )
        installed = _pip(install)
        if installed.returncode != 0:
            _hash_problem(requirements, installed.stderr, cache)
            raise CommandFailedError(
                f"pip install of {requirements.name} failed: {_last_line(installed.stderr)}."
            )
    return _normalised_tree(target)


def _hash_problem(requirements: Path, stderr: str, cache: Path) -> None:
    """Name a requirement without a hash, or a wheel that is not the one pinned."""
    if "Hashes are required" in stderr or "missing from some requirements" in stderr:
        raise ConfigError(
            f"{requirements}: every requirement needs its wheel's --hash=sha256:… (pip hash "
            "<wheel>); the build installs nothing unpinned."
        )
    if "DO NOT MATCH THE HASHES" in stderr:
        raise CommandFailedError(
            f"a wheel of {requirements} does not match its pinned hash: the cache or the "
            f"index served other bytes ({_last_line(stderr)}); check it, then delete the "
            f"cached wheel in {cache}."
        )


def _pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=env, check=False
    )


def _normalised_tree(target: Path) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    for path in sorted(p for p in target.rglob("*") if p.is_file()):
        name = path.relative_to(target).as_posix()
        if name.startswith("bin/") or _skipped(name):
            continue  # console scripts carry the build interpreter's path in their shebang
        if ".dist-info/" in name and name.rsplit("/", 1)[1] in _STRIPPED_METADATA:
            continue
        data = path.read_bytes()
        if _COMPILED.search(name):
            built_for = compiled_mismatch(name, data)
            if built_for:
                raise UsageError(
                    f"compiled file {name} is built for {built_for}, not {_TARGET}; "
                    f"pin a version of its package with such a wheel in {REQUIREMENTS}."
                )
        entries[name] = data
    for name in [n for n in entries if n.endswith(".dist-info/RECORD")]:
        entries[name] = _filtered_record(entries[name], entries)
    return entries


def compiled_mismatch(name: str, data: bytes) -> str | None:
    """What a compiled file is built for when Lambda's runtime cannot load it, else ``None``.

    Its name must carry no other CPython version or platform than the target's
    (``.cpython-312-x86_64-linux-gnu.so``; ``.abi3.so`` and untagged libraries
    are fine) and its bytes must be a 64-bit ELF binary for the architecture.
    """
    if name.endswith((".pyd", ".dll")):
        return "Windows"
    if name.endswith(".dylib"):
        return "macOS"
    tagged = _EXTENSION_TAG.search(name)
    if tagged:
        version, platform = tagged.groups()
        if version != _ABI.removeprefix("cp"):
            return f"CPython {version[0]}.{version[1:]}"
        if platform != _EXTENSION_PLATFORM:
            return platform
    if len(data) < 20 or data[:4] != b"\x7fELF" or data[4] != 2:
        return "another system (not a 64-bit Linux binary)"
    machine = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
    if machine != _ELF_MACHINE:
        return _ELF_MACHINES.get(machine, f"ELF machine {machine}")
    return None


def _filtered_record(record: bytes, kept: Iterable[str]) -> bytes:
    """RECORD listing only the files that ship (no scripts, bytecode or stripped metadata)."""
    names = set(kept)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(record.decode())):
        if row and (row[0] in names or row[0].endswith("/RECORD")):
            writer.writerow(row)
    return out.getvalue().encode()


# --- git ----------------------------------------------------------------------------------


def _git(root: Path, *args: str, raw: bool = False) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise CommandFailedError("git is not installed; install git to build releases.") from exc
    if result.returncode != 0:
        raise UsageError(
            f"{root} is not a git checkout with a commit ({_last_line(result.stderr)}); "
            "build from a clone of the repository."
        )
    return result.stdout if raw else result.stdout.strip()


def dirty_paths(root: Path) -> list[str]:
    """Paths ``git status --porcelain`` reports (modified, staged or untracked)."""
    status = _git(root, "status", "--porcelain", "--untracked-files=all", raw=True)
    return [line[3:] for line in status.splitlines() if line.strip()]


def _branch(root: Path) -> str | None:
    for name in ("SMARTSTACK_BRANCH", "GITHUB_REF_NAME"):
        if os.environ.get(name):
            return os.environ[name]
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    return None if branch == "HEAD" else branch


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"
