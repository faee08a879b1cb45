"""docs/local-iam.md lists the mapped operations as the mapping table has them."""

from __future__ import annotations

from smartstack.local.iam.docs import generated_part, render
from smartstack.local.iam.principals import ADMIN_ACCESS_KEYS
from smartstack.local.platform import _LOCAL_CREDENTIALS
from tests.conftest import ROOT


def test_the_doc_lists_the_mapped_operations() -> None:
    text = (ROOT / "docs" / "local-iam.md").read_text()
    assert generated_part(text) == render(), (
        "docs/local-iam.md is out of step: run .venv/bin/python -m smartstack.local.iam.docs"
    )
    for line in ("| GetParameter | `ssm:GetParameter`, `kms:Decrypt` |",
                 "| HeadObject | `s3:GetObject`, `s3:GetObjectVersion` |",
                 "| Invoke | `lambda:InvokeFunction` |"):  # fmt: skip
        assert line in text


def test_the_admin_keys_are_the_local_platform_s() -> None:
    assert _LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"] in ADMIN_ACCESS_KEYS
