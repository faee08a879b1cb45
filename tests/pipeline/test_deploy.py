"""The deploy pipeline end to end on the local platform (the world of
:mod:`tests.pipeline.world`, the fixtures of ``conftest``).

A test that moves ``live`` elsewhere moves it back before it ends (a rollback:
cheap, and it keeps every other release out of the rollback tests' way), so
the fixtures usually find what they promise and do nothing.  The ledger only
grows: tests assert on the attempts they make, not on the whole history.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from smartstack.aws.environment import open_environment
from smartstack.aws.lambda_api import live_version
from smartstack.cli.app import app
from smartstack.core.errors import ExitCode, LeaseHeldError
from smartstack.local import platform
from smartstack.pipeline.deploy import DestroyRefused, deploy
from smartstack.pipeline.gates import GateError
from smartstack.pipeline.migrator import MigrationError
from smartstack.pipeline.promotion import rollback
from smartstack.pipeline.smoke import AwsFunctions
from tests.conftest import ROOT
from tests.pipeline.world import (
    ENVS,
    FUNCTIONS,
    FirstDeploy,
    Pipeline,
    approver,
    git,
    loosened_checkout,
    parameters,
    role_session,
    roll_back_to_good,
    schema_revision,
    withdraw_approvals,
)


@pytest.fixture(autouse=True)
def refused_nothing(pipeline: Pipeline) -> Iterator[None]:
    """Every test here runs as the pipeline runs on AWS: no request may be refused, also
    none that the code or OpenTofu would forgive (a refusal is a call that fails on AWS).

    Each refusal since the module began (its fixtures included) is reported once, by the
    first test to end after it.
    """
    yield
    refused = platform.moto_server(pipeline.settings).iam_refusals(since=pipeline.refusals_seen)
    pipeline.refusals_seen = max((r["seq"] for r in refused), default=pipeline.refusals_seen)
    assert refused == [], "refused: " + "\n".join(
        f"{r['principal']}: {r['message']}" for r in refused
    )


def test_first_deploy_to_dev_creates_the_environment_then_migrates(
    pipeline: Pipeline, dev_first_deploy: FirstDeploy
) -> None:
    result, events = dev_first_deploy.result, dev_first_deploy.events

    assert result.error is None, result.error and result.error.message
    assert result.attempt.outcome == "succeeded"
    assert result.first_deploy
    assert [s.name for s in result.attempt.steps] == ["fetch", "infra", "migrate", "app", "smoke"]
    assert "first deploy" in result.attempt.step("migrate").detail  # type: ignore[union-attr]
    assert events[:2] == ["fetch:start", "fetch:succeeded"]
    assert result.plan is not None and result.plan.add > 0
    assert {c.name for c in result.checks} == {
        "api health", "release", "database", "secret", "api invoke", "ai job",
    }  # fmt: skip
    assert all(c.passed for c in result.checks)
    for service in FUNCTIONS:  # `live` moved to versions that run the release's very bytes
        version = result.attempt.versions[service]
        assert pipeline.code_sha("dev", service, version) == pipeline.good.artifact(service).sha256


def test_a_second_deploy_of_the_same_release_skips_what_is_unchanged(
    pipeline: Pipeline, dev_deployed: None
) -> None:
    result = deploy(pipeline.open("dev"), pipeline.good.release)

    assert result.error is None
    outcomes = {s.name: s.outcome for s in result.attempt.steps}
    assert outcomes == {
        "fetch": "succeeded",
        "migrate": "skipped",
        "infra": "skipped",
        "app": "skipped",
        "smoke": "succeeded",
    }
    assert result.attempt.step("fetch").detail.startswith("0 of")  # type: ignore[union-attr]


def test_staging_refuses_a_release_that_never_passed_dev(pipeline: Pipeline) -> None:
    release = pipeline.undeployed.release
    before = len(pipeline.ledger().history("staging", limit=None))
    with pytest.raises(GateError, match=f"{release} has not passed dev"):
        deploy(pipeline.open("staging"), release)
    assert len(pipeline.ledger().history("staging", limit=None)) == before

    result = pipeline.cli(
        "deploy", "staging", "--release", release, env=pipeline.job_env("staging")
    )
    assert result.exit_code == 2
    assert "has not passed dev" in result.stderr


def test_promotion_to_staging_and_to_prod_with_an_approval(
    pipeline: Pipeline, dev_live: None
) -> None:
    release = pipeline.good.release
    withdraw_approvals(pipeline, "prod")  # prod_live may have approved it already
    result = pipeline.cli(
        "--json", "deploy", "staging", "--release", release, env=pipeline.job_env("staging")
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)["data"]
    assert data["attempt"]["outcome"] == "succeeded"
    assert data["gate"] == "passed dev"

    refused = pipeline.cli("deploy", "prod", "--release", release, env=pipeline.job_env("prod"))
    assert refused.exit_code == 2
    assert f"prod needs an approval for {release}" in refused.stderr

    # The staging deployer may not approve their own release for prod: `approve` refuses at
    # once what the deploy would refuse. The staging job's session is named after whoever ran
    # it; signed in as their own IAM user of that name, they are refused, and as the role
    # session itself too (approvals come from people: tests/pipeline/test_attacks.py).
    staged_by = pipeline.ledger().succeeded("staging", release)[0].who.rsplit("/", 1)[-1]
    refused = pipeline.cli("approve", "prod", release, env=approver(pipeline, staged_by))
    assert refused.exit_code == 2
    assert "another person must approve" in refused.stderr
    refused = pipeline.cli("approve", "prod", release, env=role_session(pipeline, staged_by))
    assert refused.exit_code == 2
    assert "approvals come from a person" in refused.stderr
    refused = pipeline.cli("deploy", "prod", "--release", release, env=pipeline.job_env("prod"))
    assert refused.exit_code == 2
    assert f"prod needs an approval for {release}" in refused.stderr

    alice = approver(pipeline, "alice")
    approved = pipeline.cli("--json", "approve", "prod", release, env=alice)
    assert approved.exit_code == 0, approved.stderr
    assert json.loads(approved.stdout)["data"]["approver"].endswith("/alice")

    result = pipeline.cli(
        "deploy", "prod", "--release", release, env=pipeline.job_env("prod")
    )  # the first, or a repeat
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "succeeded" in result.stdout
    for step in ("fetch", "infra", "migrate", "app", "smoke"):  # each shown with its time
        assert step in result.stderr
    password = parameters(pipeline, "prod")["db-password"]
    assert password not in result.stdout + result.stderr
    for env in ENVS:  # the very same bytes everywhere
        for service in FUNCTIONS:
            assert pipeline.live_sha(env, service) == pipeline.good.artifact(service).sha256


def test_a_failing_migration_stops_before_infra_and_app(pipeline: Pipeline, dev_live: None) -> None:
    revision = schema_revision(pipeline, "dev")
    before = {s: live_version(pipeline.target, f"smartstack-dev-{s}") for s in FUNCTIONS}

    result = deploy(pipeline.open("dev"), pipeline.bad_migration.release)

    assert isinstance(result.error, MigrationError)
    assert "0099" in result.error.message and "no_such_table" in result.error.message
    assert [(s.name, s.outcome) for s in result.attempt.steps] == [
        ("fetch", "succeeded"),
        ("migrate", "failed"),
    ]
    assert result.attempt.outcome == "failed"
    assert schema_revision(pipeline, "dev") == revision
    assert {s: live_version(pipeline.target, f"smartstack-dev-{s}") for s in FUNCTIONS} == before


def test_a_broken_release_fails_smoke_and_is_rolled_back(
    pipeline: Pipeline, dev_live: None
) -> None:
    before = {s: live_version(pipeline.target, f"smartstack-dev-{s}") for s in FUNCTIONS}

    result = pipeline.cli(
        "deploy", "dev", "--release", pipeline.broken.release, env=pipeline.job_env("dev")
    )

    assert result.exit_code == 1
    assert "smoke test failed" in result.stderr and "database broken" in result.stderr
    last = pipeline.ledger().history("dev", limit=1)[0]
    assert last.release == pipeline.broken.release
    assert last.outcome == "rolled back"
    assert [s.outcome for s in last.steps][-2:] == ["succeeded", "failed"]
    assert {s: live_version(pipeline.target, f"smartstack-dev-{s}") for s in FUNCTIONS} == before
    for service in FUNCTIONS:
        assert pipeline.live_sha("dev", service) == pipeline.good.artifact(service).sha256


def test_two_concurrent_deploys_to_one_environment_exactly_one_proceeds(
    pipeline: Pipeline, staging_live: None
) -> None:
    barrier = threading.Barrier(2)
    finished = threading.Event()
    outcomes: list[str] = []

    def one() -> None:
        barrier.wait()
        try:
            # The winner waits at its first step until the loser is done, so both
            # really overlap; two winners would wait for each other and time out.
            result = deploy(
                pipeline.open("staging"),
                pipeline.good.release,
                progress=lambda _: finished.wait(60),
            )
            outcomes.append(result.attempt.outcome)
        except LeaseHeldError as exc:
            outcomes.append("lease held: " + exc.message)
        finally:
            finished.set()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)

    assert sorted(o.split(":")[0] for o in outcomes) == ["lease held", "succeeded"]
    held = next(o for o in outcomes if o.startswith("lease held"))
    assert "staging is being deployed by" in held and "smartstack unlock staging" in held


def test_a_stale_lease_blocks_deploys_until_unlocked(pipeline: Pipeline) -> None:
    lease = pipeline.ledger().lease(
        "dev", "arn:aws:sts::123456789012:assumed-role/ci/crashed", "x1", heartbeat=False
    )
    lease.__enter__()  # a deploy that died without releasing it (within its TTL still)
    try:
        blocked = pipeline.cli(
            "deploy", "dev", "--release", pipeline.good.release, env=pipeline.job_env("dev")
        )
        assert blocked.exit_code == 4
        assert "ci/crashed" in blocked.stderr

        unlocked = pipeline.cli("unlock", "dev", "--yes", env=pipeline.job_env("dev"))
        assert unlocked.exit_code == 0
        assert "ci/crashed" in unlocked.stderr and "released dev's lease" in unlocked.stdout
        assert pipeline.ledger().current_lease("dev") is None
        assert pipeline.cli("unlock", "dev", "--yes", env=pipeline.job_env("dev")).exit_code == 2
    finally:  # never leave the lease to block the other tests
        held = pipeline.ledger().current_lease("dev")
        if held is not None and held.attempt_id == "x1":
            pipeline.ledger().unlock("dev", "x1")


def test_rollback_returns_to_the_previous_successful_release(
    pipeline: Pipeline, dev_live: None
) -> None:
    # dev runs the good release; whatever else ran there before was rolled back, so the
    # rollback below goes to it, and a second one finds nothing earlier to go to.
    result = deploy(pipeline.open("dev"), pipeline.second.release)
    assert result.error is None
    second_versions = dict(result.attempt.versions)

    attempt = rollback(pipeline.open("dev"))

    assert attempt.kind == "rollback" and attempt.release == pipeline.good.release
    for service in FUNCTIONS:
        assert pipeline.live_sha("dev", service) == pipeline.good.artifact(service).sha256
        assert attempt.versions[service] != second_versions[service]
    again = pipeline.cli("rollback", "dev", env=pipeline.job_env("dev"))
    assert again.exit_code == 2
    assert "no earlier successful release" in again.stderr


def test_prod_refuses_a_plan_that_destroys_without_the_flag(
    pipeline: Pipeline, dev_live: None, prod_live: None, tmp_path: Path
) -> None:
    release = pipeline.new_prod_network.release
    try:
        for env in ("dev", "staging"):  # promoted as usual; their own networks do not change
            result = deploy(pipeline.open(env), release)
            assert result.error is None, result.error and result.error.message
            assert result.plan is not None and not result.plan.has_changes
        alice = approver(pipeline, "alice")
        assert pipeline.cli("approve", "prod", release, env=alice).exit_code == 0
        live = {s: live_version(pipeline.target, f"smartstack-prod-{s}") for s in FUNCTIONS}

        result = deploy(pipeline.open("prod"), release)

        assert isinstance(result.error, DestroyRefused)
        message = result.error.message
        assert "--allow-destroy" in message and "nothing was applied" in message
        assert "destroys or replaces" in message and "module.networking." in message
        assert [(s.name, s.outcome) for s in result.attempt.steps][-1] == ("infra", "failed")
        last = pipeline.ledger().history("prod", limit=1)[0]
        assert (last.release, last.outcome) == (release, "failed")
        vpcs = pipeline.target.client("ec2").describe_vpcs(
            Filters=[{"Name": "tag:Environment", "Values": ["prod"]}]
        )["Vpcs"]
        assert [v["CidrBlock"] for v in vpcs] == ["10.30.0.0/16"]
        assert {s: live_version(pipeline.target, f"smartstack-prod-{s}") for s in FUNCTIONS} == live

        # From a checkout whose prod.tfvars drops protect_from_destroy: the release's keeps it.
        checkout = loosened_checkout(tmp_path, "protect_from_destroy")
        loose = replace(pipeline.job("prod"), root=checkout)
        again = deploy(open_environment(loose, "prod"), release)
        assert isinstance(again.error, DestroyRefused), again.error
        assert [v["CidrBlock"] for v in pipeline.target.client("ec2").describe_vpcs(
            Filters=[{"Name": "tag:Environment", "Values": ["prod"]}]
        )["Vpcs"]] == ["10.30.0.0/16"]  # fmt: skip
    finally:  # dev and staging back on the good release
        for env in ("staging", "dev"):
            roll_back_to_good(pipeline, env)


def test_an_operator_s_secrets_session_through_the_environment_roles(
    pipeline: Pipeline, prod_live: None, tmp_path: Path
) -> None:
    """An operator's secrets session through the environments' roles (assumed with their
    own credentials, as the roles' trust allows administrators): every command against
    the parameters and keys the stacks made; the module refuses any refusal."""
    env = dict(pipeline.env, SMARTSTACK_ASSUME_ROLES="1")

    def cli(*args: str, input: str | None = None) -> Any:
        result = CliRunner().invoke(app, list(args), env=env, input=input)
        assert result.exit_code in (0, ExitCode.DRIFT), f"{args}: {result.stderr}"
        return result

    value = "operator-session-secret-1"
    for name in ENVS:
        cli("secrets", "set", name, "session-key", input=value + "\n")
    cli("secrets", "set", "dev", "dev-only-key", input=value + "\n")
    assert cli("--json", "secrets", "get", "dev", "session-key", "--reveal").stdout.count(value)
    assert "db-password" in cli("secrets", "list", "prod").stdout  # the stack's, by key only
    cli("secrets", "history", "staging", "session-key")
    diff = cli("--json", "secrets", "diff", "dev", "staging")
    assert json.loads(diff.stdout)["data"]["only_in_a"] == ["dev-only-key"]
    exported = tmp_path / "dev.json"
    cli("secrets", "export", "dev", "--format", "json", "--output", str(exported))
    assert json.loads(exported.read_text())["session-key"] == value
    dotenv = tmp_path / "staging.env"
    dotenv.write_text(f"IMPORTED_KEY={value}\n")
    cli("secrets", "import", "staging", str(dotenv), "--yes")
    cli(
        "secrets",
        "exec",
        "prod",
        "--",
        sys.executable,
        "-c",
        "import os; os.environ['SESSION_KEY']",
    )
    for name, key in (
        ("dev", "dev-only-key"),
        ("staging", "imported-key"),
        *((n, "session-key") for n in ENVS),
    ):
        cli("secrets", "delete", name, key, "--yes")
    allowed = platform.moto_server(pipeline.settings).iam_allowed()
    writers = {r["principalArn"] for r in allowed if r["action"] == "ssm:PutParameter"}
    account = pipeline.target.account_id()
    assert writers >= {f"arn:aws:iam::{account}:role/smartstack-{n}-role" for n in ENVS}


def test_the_build_job_publishes_as_dev_s_role(pipeline: Pipeline, tmp_path: Path) -> None:
    """`smartstack build --publish` in dev's job acts as smartstack-dev-role (the build job
    runs in the environment main deploys to), not as whoever else the settings name."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    git(repo, "checkout", "-q", "-B", "main")
    git(repo, "-c", "user.email=job@smartstack.invalid", "-c", "user.name=job",
         "commit", "-q", "--allow-empty", "-m", "built by dev's job")  # fmt: skip
    server = platform.moto_server(pipeline.settings)
    seen = len(server.iam_allowed())
    env = dict(pipeline.job_env("dev"), SMARTSTACK_ROOT=str(repo))
    built = pipeline.cli("--json", "build", "--publish", env=env)
    assert built.exit_code == 0, built.stderr
    writes = [r for r in server.iam_allowed()[seen:] if r["action"] == "s3:PutObject"]
    account = pipeline.target.account_id()
    assert writes and {r["principalArn"] for r in writes} == {
        f"arn:aws:iam::{account}:role/smartstack-dev-role"
    }


def test_the_smoke_step_on_aws_finds_the_api_as_the_environment_s_job(
    pipeline: Pipeline, dev_live: None
) -> None:
    """The AWS branch of the smoke step (HTTPS to the API, issue 12 runs it here) finds the
    API's endpoint with what the job's role may call: listing every API (``GET /apis``) is
    not among it."""
    environment = pipeline.open("dev")
    names = {service: environment.resource_name(service) for service in FUNCTIONS}
    functions = AwsFunctions(environment.target, names, environment.parameter_prefix)
    apis = pipeline.target.client("apigatewayv2").get_apis()["Items"]
    assert functions.endpoint == next(a["ApiEndpoint"] for a in apis if a["Name"] == names["api"])


def test_history_and_status_show_all_of_it(
    pipeline: Pipeline, dev_live: None, staging_live: None, prod_live: None
) -> None:
    """The second release promoted to staging and approved for prod, then a failed attempt in
    dev: what status and history show of that.  dev and staging go back to good at the end."""
    good, second = pipeline.good.release, pipeline.second.release
    bad = pipeline.bad_migration.release
    try:
        for env in ("dev", "staging"):
            result = deploy(pipeline.open(env), second)
            assert result.error is None, result.error and result.error.message
        alice = approver(pipeline, "alice")
        assert pipeline.cli("approve", "prod", second, env=alice).exit_code == 0
        failed = deploy(pipeline.open("dev"), bad)
        assert failed.attempt.outcome == "failed"

        status = pipeline.cli("--json", "status")
        assert status.exit_code == 0
        report = {s["env"]: s for s in json.loads(status.stdout)["data"]}
        assert report["dev"]["current"]["release"] == second
        last = report["dev"]["last"]
        assert (last["release"], last["outcome"]) == (bad, "failed")
        assert report["dev"]["waiting"] is None  # dev promotes from nothing
        assert report["staging"]["current"]["release"] == second
        assert report["staging"]["waiting"] is None
        assert report["prod"]["current"]["release"] == good
        assert report["prod"]["waiting"] == second
        assert report["prod"]["approval"]["approver"].endswith("/alice")
        assert all(s["lease"] is None for s in report.values())

        table = pipeline.cli("status")  # the same, for people (a table; JSON above is the contract)
        assert table.exit_code == 0 and "staging" in table.stdout
    finally:
        for env in ("staging", "dev"):
            roll_back_to_good(pipeline, env)

    history = pipeline.cli("--json", "history", "dev", "--limit", "50")
    assert history.exit_code == 0
    attempts = json.loads(history.stdout)["data"]
    outcomes = [(a["kind"], a["release"], a["outcome"]) for a in attempts]
    assert outcomes[:3] == [  # newest first: this test's own attempts
        ("rollback", good, "succeeded"),
        ("deploy", bad, "failed"),
        ("deploy", second, "succeeded"),
    ]
    assert all(a["who"] and a["finished"] and a["steps"] for a in attempts)


def test_rotating_the_database_password_reconnects_the_services(
    pipeline: Pipeline, dev_live: None
) -> None:
    """`secrets rotate` as dev's job: a new password in Parameter Store and RDS, never shown;
    the migrator connects with it and ends the services' sessions, and the smoke checks pass
    on their new connections."""
    old = parameters(pipeline, "dev")["db-password"]
    username = parameters(pipeline, "dev")["db-username"]
    admin = platform.postgres_server(pipeline.settings).admin_dsn("postgres")
    verifier = "SELECT rolpassword FROM pg_authid WHERE rolname = %s"
    with psycopg.connect(admin) as conn:
        before = conn.execute(verifier, (username,)).fetchone()

    result = pipeline.cli("secrets", "rotate", "dev", "db-password", env=pipeline.job_env("dev"))

    assert result.exit_code == 0, result.stdout + result.stderr
    new = parameters(pipeline, "dev")["db-password"]
    assert new != old
    assert old not in result.stdout + result.stderr and new not in result.stdout + result.stderr
    with psycopg.connect(admin) as conn:
        assert conn.execute(verifier, (username,)).fetchone() != before  # RDS got it
    rotation = pipeline.ledger().history("dev", limit=1)[0]
    assert (rotation.kind, rotation.outcome) == ("rotation", "succeeded")
    assert [s.name for s in rotation.steps] == ["rotate", "reconnect", "smoke"]
    assert "the migrator connected with it and ended" in rotation.steps[1].detail

    again = pipeline.cli("secrets", "rotate", "db-password", "dev", env=pipeline.job_env("dev"))
    assert again.exit_code == 0, again.stdout + again.stderr
    refused = pipeline.cli("secrets", "rotate", "dev", "api-key", env=pipeline.job_env("dev"))
    assert refused.exit_code == 2 and "only db-password" in refused.stderr
