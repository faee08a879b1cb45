"""python-hcl2 keeps serializer state in an object every call shares, so parsing in two
threads at once (``smartstack up`` plans the environments side by side) could return
strings with their quotes, and keep doing so for the rest of the process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from smartstack.core.tfvars import read_tfvars
from smartstack.infra.stack import declared_variables
from tests.conftest import ROOT


def test_tfvars_read_in_threads_beside_other_hcl_parsing_come_back_plain() -> None:
    configs = ROOT / "infrastructure" / "configs"

    def read(i: int) -> object:
        if i % 2:
            return declared_variables(ROOT / "infrastructure")  # hcl2.load, quotes kept
        return read_tfvars(configs / "dev.tfvars")["environment"]

    with ThreadPoolExecutor(8) as pool:
        environments = [e for e in pool.map(read, range(160)) if isinstance(e, str)]

    assert set(environments) == {"dev"}
    assert read_tfvars(configs / "dev.tfvars")["environment"] == "dev"  # and after


def test_declared_variables_read_in_threads_agree() -> None:
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: declared_variables(ROOT / "infrastructure"), range(16)))
    assert all(f == found[0] for f in found) and "environment" in found[0]
