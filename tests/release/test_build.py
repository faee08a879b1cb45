"""The release build from a git clone: determinism, clean-tree rule, zip contents, the bucket."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from smartstack.aws.target import AwsTarget
from smartstack.core.errors import CommandFailedError, ConfigError, UsageError
from smartstack.core.services import ARCHITECTURE, RUNTIME
from smartstack.release.build import Manifest, build_release, compiled_mismatch, release_id_for
from smartstack.release.store import (
    fetch_artifact,
    load_release,
    manifest_sha256,
    publish_release,
)

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "smartstack-artifacts-test"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def clone(dest: Path) -> Path:
    """A clone of the repository's committed HEAD (never the shared working tree)."""
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    git(dest, "config", "user.email", "build-test@smartstack.invalid")
    git(dest, "config", "user.name", "build test")
    return dest


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clone(tmp_path_factory.mktemp("clone") / "repo")


@pytest.fixture(scope="module")
def built(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Manifest, Path]:
    out = tmp_path_factory.mktemp("out")
    return build_release(repo, out), out


def entries(zip_path: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(zip_path) as archive:
        return {i.filename: i for i in archive.infolist()}


def test_the_same_commit_builds_the_same_bytes_anywhere(
    built: tuple[Manifest, Path], tmp_path: Path
) -> None:
    manifest, out = built
    other = clone(tmp_path / "elsewhere" / "another-clone")

    again = build_release(other, tmp_path / "out")

    assert again == manifest
    assert (tmp_path / "out" / "manifest.json").read_bytes() == (out / "manifest.json").read_bytes()
    for artifact in manifest.stored:
        data = (tmp_path / "out" / artifact.file_name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == artifact.sha256
        assert data == (out / artifact.file_name).read_bytes()


def test_the_manifest_names_the_commit_and_every_artifact(
    built: tuple[Manifest, Path], repo: Path
) -> None:
    manifest, out = built
    commit = git(repo, "rev-parse", "HEAD")

    assert manifest.commit == commit
    assert manifest.release == release_id_for(commit) == f"r-{commit[:12]}"
    branch = git(repo, "rev-parse", "--abbrev-ref", "HEAD")  # "HEAD" when detached
    named = os.environ.get("SMARTSTACK_BRANCH") or os.environ.get("GITHUB_REF_NAME")
    assert manifest.created_from == (named or (None if branch == "HEAD" else branch))
    assert [a.name for a in manifest.artifacts] == ["ai-processor", "api", "migrator"]
    for artifact in manifest.artifacts:
        assert artifact.key == f"artifacts/{artifact.sha256}.zip"
        assert artifact.size == (out / artifact.file_name).stat().st_size
    assert manifest.artifact("api").handler == "smartstack_api.handler.handler"
    assert manifest.artifact("ai-processor").handler == "smartstack_ai.handler.handler"
    assert manifest.artifact("migrator").handler == "smartstack_migrator.handler.handler"
    assert (manifest.runtime, manifest.architecture) == (RUNTIME, ARCHITECTURE)
    assert Manifest.from_json((out / "manifest.json").read_text()) == manifest
    with pytest.raises(UsageError, match="has no artifact 'web'"):
        manifest.artifact("web")


@pytest.mark.parametrize("service", ["api", "ai-processor", "migrator"])
def test_zips_hold_source_and_deps_for_the_functions_runtime_only(
    built: tuple[Manifest, Path], service: str
) -> None:
    manifest, out = built
    artifact = manifest.artifact(service)
    files = entries(out / artifact.file_name)
    names = sorted(files)

    assert names == list(files), "entries are sorted"
    assert not [n for n in names if n.endswith((".pyc", ".pyo", ".pyd", ".dll", ".dylib"))]
    extensions = [n for n in names if n.endswith(".so") and ".cpython-" in n]
    assert all(n.endswith(".cpython-312-x86_64-linux-gnu.so") for n in extensions), extensions
    assert not [n for n in names if "__pycache__" in n or n.startswith("bin/")]
    assert not [n for n in names if n.split("/")[0].startswith(("boto3", "botocore", "s3transfer"))]
    assert not [n for n in names if n.endswith(("/direct_url.json", "/INSTALLER", "/REQUESTED"))]
    assert {i.date_time for i in files.values()} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in files.values()} == {0o100644}
    module = artifact.handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
    assert module in files
    assert "smartstack_common/config.py" in files
    assert any(n.startswith("pg8000/") for n in names)
    assert any(n.startswith("aws_lambda_powertools/") for n in names)
    with zipfile.ZipFile(out / artifact.file_name) as archive:
        release = json.loads(archive.read("release.json"))
        assert release == {"release": manifest.release, "commit": manifest.commit}
        for record in [n for n in names if n.endswith(".dist-info/RECORD")]:
            listed = [line.split(",")[0] for line in archive.read(record).decode().splitlines()]
            assert set(listed) <= set(names), f"{record} lists files that do not ship"


def test_the_migrator_carries_the_migrations_and_alembic_the_others_do_not(
    built: tuple[Manifest, Path],
) -> None:
    manifest, out = built
    names = set(entries(out / manifest.artifact("migrator").file_name))

    assert {"migrations/env.py", "migrations/script.py.mako"} <= names
    assert {"migrations/versions/0001_items.py", "migrations/versions/0002_ai_results.py"} <= names
    assert {"alembic/__init__.py", "sqlalchemy/__init__.py", "mako/__init__.py"} <= names
    for service in ("api", "ai-processor"):  # their cold starts do not carry Alembic
        others = set(entries(out / manifest.artifact(service).file_name))
        assert not [n for n in others if n.startswith(("alembic/", "sqlalchemy/", "migrations/"))]


def test_the_infrastructure_keeps_its_digest_across_commits_that_do_not_touch_it(
    built: tuple[Manifest, Path], tmp_path: Path
) -> None:
    manifest, _ = built
    repo = clone(tmp_path / "repo")
    (repo / "app" / "api" / "smartstack_api" / "items.py").write_text("# changed\n")
    git(repo, "commit", "-qam", "change the API only")

    later = build_release(repo, tmp_path / "out")

    assert later.infrastructure == manifest.infrastructure
    assert later.artifact("api").sha256 != manifest.artifact("api").sha256


def test_the_infrastructure_ships_with_the_release(
    built: tuple[Manifest, Path], repo: Path
) -> None:
    """Deploys apply the release's own stacks and pins, not the deploying checkout's."""
    manifest, out = built
    assert manifest.infrastructure is not None
    zipped = entries(out / manifest.infrastructure.file_name)
    with zipfile.ZipFile(out / manifest.infrastructure.file_name) as archive:
        assert archive.read("scripts/versions.env") == (repo / "scripts/versions.env").read_bytes()
        main = archive.read("infrastructure/main.tf")
    assert main == (repo / "infrastructure/main.tf").read_bytes()
    assert {"infrastructure/configs/prod.tfvars", "infrastructure/account/iam.tf"} <= set(zipped)
    assert "infrastructure/modules/database/main.tf" in zipped
    assert not [n for n in zipped if ".terraform" in n or n.endswith(".md")]


def test_a_dirty_tree_is_refused_naming_what_is_dirty(tmp_path: Path) -> None:
    repo = clone(tmp_path / "repo")
    (repo / "app" / "api" / "smartstack_api" / "items.py").write_text("# edited\n")
    (repo / "notes.txt").write_text("untracked\n")

    with pytest.raises(UsageError) as refused:
        build_release(repo, tmp_path / "out")

    message = refused.value.message
    assert "dirty" in message and "commit or stash" in message
    assert "app/api/smartstack_api/items.py" in message and "notes.txt" in message
    assert "\n" not in message
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_more_than_three_dirty_paths_are_counted(tmp_path: Path) -> None:
    repo = clone(tmp_path / "repo")
    for i in range(5):
        (repo / f"scratch-{i}.txt").write_text("x\n")

    with pytest.raises(UsageError, match="and 2 more"):
        build_release(repo, tmp_path / "out")


def test_allow_dirty_builds_a_release_marked_dirty_with_the_edit(tmp_path: Path) -> None:
    repo = clone(tmp_path / "repo")
    handler = repo / "app" / "api" / "smartstack_api" / "items.py"
    handler.write_text(handler.read_text() + "\n# local edit\n")

    manifest = build_release(repo, tmp_path / "out", allow_dirty=True)

    assert manifest.release == release_id_for(git(repo, "rev-parse", "HEAD")) + "-dirty"
    with zipfile.ZipFile(tmp_path / "out" / "api.zip") as archive:
        assert b"# local edit" in archive.read("smartstack_api/items.py")


TARGET_EXTENSION = "speedy/_speedups.cpython-312-x86_64-linux-gnu.so"


def _elf(machine: int) -> bytes:
    """A 64-bit little-endian ELF shared object's header (machine 62 x86_64, 183 aarch64)."""
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    return ident + (3).to_bytes(2, "little") + machine.to_bytes(2, "little") + bytes(44)


def _repo_needing_speedy(
    tmp_path: Path, wheel: str, extension: str, data: bytes, pin: str | None = "its own"
) -> Path:
    """A clone whose one requirement is ``speedy``, offered as ``wheel`` in tmp_path/wheels
    and pinned with the wheel's hash (``pin="its own"``), another hash, or none."""
    repo = clone(tmp_path / "repo")
    (tmp_path / "wheels").mkdir()
    _wheel_with_extension(tmp_path / "wheels" / wheel, extension, data)
    digest = hashlib.sha256((tmp_path / "wheels" / wheel).read_bytes()).hexdigest()
    hashes = {"its own": f" --hash=sha256:{digest}", None: ""}.get(pin, f" --hash=sha256:{pin}")
    (repo / "app" / "requirements.txt").write_text(f"speedy==1.0{hashes}\n")
    git(repo, "commit", "-qam", "a dependency with compiled code")
    return repo


def test_a_requirement_without_its_hash_is_refused(tmp_path: Path) -> None:
    wheel = "speedy-1.0-cp312-cp312-manylinux2014_x86_64.whl"
    repo = _repo_needing_speedy(tmp_path, wheel, TARGET_EXTENSION, _elf(62), pin=None)
    with pytest.raises(ConfigError, match="every requirement needs its wheel's --hash"):
        build_release(repo, tmp_path / "out", wheel_cache=tmp_path / "wheels")


def test_a_cached_wheel_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    wheel = "speedy-1.0-cp312-cp312-manylinux2014_x86_64.whl"
    repo = _repo_needing_speedy(tmp_path, wheel, TARGET_EXTENSION, _elf(62), pin="0" * 64)
    with pytest.raises(CommandFailedError, match="does not match its pinned hash"):
        build_release(repo, tmp_path / "out", wheel_cache=tmp_path / "wheels")


def test_a_compiled_dependency_for_the_functions_runtime_ships(tmp_path: Path) -> None:
    wheel = "speedy-1.0-cp312-cp312-manylinux2014_x86_64.whl"
    repo = _repo_needing_speedy(tmp_path, wheel, TARGET_EXTENSION, _elf(62))

    first = build_release(repo, tmp_path / "out", wheel_cache=tmp_path / "wheels")
    again = build_release(repo, tmp_path / "again", wheel_cache=tmp_path / "wheels")

    with zipfile.ZipFile(tmp_path / "out" / "api.zip") as archive:
        assert archive.read(TARGET_EXTENSION) == _elf(62)
    assert again == first
    assert (tmp_path / "again" / "api.zip").read_bytes() == (
        tmp_path / "out" / "api.zip"
    ).read_bytes()


def test_a_compiled_dependency_for_another_python_is_refused(tmp_path: Path) -> None:
    """Tagged for the target by its wheel's name, but built for CPython 3.11 inside."""
    extension = "speedy/_speedups.cpython-311-x86_64-linux-gnu.so"
    wheel = "speedy-1.0-cp312-cp312-manylinux2014_x86_64.whl"
    repo = _repo_needing_speedy(tmp_path, wheel, extension, _elf(62))

    with pytest.raises(UsageError) as refused:
        build_release(repo, tmp_path / "out", wheel_cache=tmp_path / "wheels")

    assert refused.value.message.startswith(
        f"compiled file {extension} is built for CPython 3.11, not Lambda's {RUNTIME} on "
        f"{ARCHITECTURE} (cp312, manylinux2014_x86_64); pin a version of its package"
    )
    assert "\n" not in refused.value.message
    assert not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.parametrize(
    ("name", "data", "built_for"),
    [
        (
            "speedy/_speedups.so",
            b"\x7fELF not really",
            "another system (not a 64-bit Linux binary)",
        ),
        ("speedy/_speedups.cpython-311-x86_64-linux-gnu.so", _elf(62), "CPython 3.11"),
        ("speedy/_speedups.cpython-313-x86_64-linux-gnu.so", _elf(62), "CPython 3.13"),
        ("speedy/_speedups.cpython-312-darwin.so", _elf(62), "darwin"),
        ("speedy/_speedups.cpython-312-aarch64-linux-gnu.so", _elf(183), "aarch64-linux-gnu"),
        ("speedy/_speedups.abi3.so", _elf(183), "aarch64"),
        ("speedy.libs/libfast-1a2b3c.so.1.0", _elf(3), "x86 (32-bit)"),
        ("speedy/_speedups.cp312-win_amd64.pyd", b"MZ", "Windows"),
        ("speedy/libfast.dylib", b"\xcf\xfa\xed\xfe", "macOS"),
    ],
)
def test_compiled_files_for_another_platform_are_named(
    name: str, data: bytes, built_for: str
) -> None:
    assert compiled_mismatch(name, data) == built_for


@pytest.mark.parametrize(
    "name", [TARGET_EXTENSION, "speedy/_speedups.abi3.so", "speedy.libs/libfast-1a2b3c.so.1.0"]
)
def test_compiled_files_for_the_functions_runtime_pass(name: str) -> None:
    assert compiled_mismatch(name, _elf(62)) is None


def _wheel_with_extension(path: Path, extension: str, data: bytes) -> None:
    tag = path.name.removesuffix(".whl").split("-", 2)[2]
    files = {
        "speedy/__init__.py": b"",
        extension: data,
        "speedy-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: speedy\nVersion: 1.0\n",
        "speedy-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n"
            + f"Tag: {tag}\n".encode()
        ),
    }
    record = io.StringIO()
    for name in files:
        record.write(f"{name},,\n")
    record.write("speedy-1.0.dist-info/RECORD,,\n")
    files["speedy-1.0.dist-info/RECORD"] = record.getvalue().encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def test_not_a_git_checkout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a git checkout"):
        build_release(tmp_path, tmp_path / "out")


# --- the artifacts bucket ------------------------------------------------------------------


@pytest.fixture
def bucket(aws: AwsTarget) -> str:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


def test_publish_uploads_each_artifact_once_by_digest(
    aws: AwsTarget, bucket: str, built: tuple[Manifest, Path]
) -> None:
    manifest, out = built

    first = publish_release(aws, bucket, manifest, out)
    second = publish_release(aws, bucket, manifest, out)

    assert first == [
        *(a.key for a in manifest.stored),
        f"releases/{manifest.release}/manifest.json",
    ]
    assert len(first) == 5  # three functions, infrastructure, the manifest
    assert second == []
    listed = aws.client("s3").list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(first)
    published = load_release(aws, bucket, manifest.release)
    assert published.manifest == manifest
    assert published.sha256 == manifest_sha256(manifest)  # of the bytes in the bucket


def test_published_artifacts_come_back_byte_for_byte(
    aws: AwsTarget, bucket: str, built: tuple[Manifest, Path], tmp_path: Path
) -> None:
    manifest, out = built
    publish_release(aws, bucket, manifest, out)

    path = fetch_artifact(aws, bucket, manifest.artifact("api"), tmp_path)

    assert path.read_bytes() == (out / "api.zip").read_bytes()


def test_an_unknown_release_is_named(aws: AwsTarget, bucket: str) -> None:
    with pytest.raises(UsageError, match="release r-000000000000 is not published"):
        load_release(aws, bucket, "r-000000000000")


def test_a_zip_that_does_not_match_the_manifest_is_not_published(
    aws: AwsTarget, bucket: str, built: tuple[Manifest, Path], tmp_path: Path
) -> None:
    manifest, out = built
    for artifact in manifest.stored:
        (tmp_path / artifact.file_name).write_bytes((out / artifact.file_name).read_bytes())
    (tmp_path / "api.zip").write_bytes(b"tampered")

    with pytest.raises(UsageError, match="does not match the manifest's sha256"):
        publish_release(aws, bucket, manifest, tmp_path)


def test_a_missing_bucket_says_so(aws: AwsTarget, built: tuple[Manifest, Path]) -> None:
    manifest, out = built
    with pytest.raises(UsageError, match="artifacts bucket nowhere-bucket is not reachable"):
        publish_release(aws, "nowhere-bucket", manifest, out)
