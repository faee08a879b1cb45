"""A release's unpacked infrastructure is checked against its (digest-verified) zip before
every use: a file changed or added in the cache since is not what was released."""

from __future__ import annotations

from pathlib import Path

from smartstack.pipeline.deploy import _unpacked
from smartstack.release.build import deterministic_zip
from smartstack.release.store import unpack_infrastructure

FILES = {"infrastructure/main.tf": b"# released\n", "scripts/versions.env": b"TOFU=1\n"}


def _zip(tmp_path: Path) -> Path:
    path = tmp_path / "sha" / "infrastructure.zip"
    path.parent.mkdir()
    path.write_bytes(deterministic_zip(FILES))
    return path


def test_a_tampered_or_added_file_is_replaced_by_the_released_tree(tmp_path: Path) -> None:
    zip_path = _zip(tmp_path)
    root = _unpacked(zip_path, unpack_infrastructure, "")
    (root / "infrastructure" / "main.tf").write_text('resource "evil" "x" {}\n')
    (root / "infrastructure" / "extra.tf").write_text('resource "evil" "y" {}\n')

    again = _unpacked(zip_path, unpack_infrastructure, "")

    assert (again / "infrastructure" / "main.tf").read_bytes() == b"# released\n"
    assert not (again / "infrastructure" / "extra.tf").exists()


def test_opentofu_s_lock_file_is_kept(tmp_path: Path) -> None:
    zip_path = _zip(tmp_path)
    root = _unpacked(zip_path, unpack_infrastructure, "")
    lock = root / "infrastructure" / ".terraform.lock.hcl"
    lock.write_text("# written by tofu init\n")

    assert _unpacked(zip_path, unpack_infrastructure, "") == root
    assert lock.exists()
