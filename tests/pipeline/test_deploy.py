"""The deploy pipeline end to end on the local platform.

As on GitHub: IAM is enforced by the local AWS, only bootstrap and the account stack
run as the admin; every deploy, rollback and unlock runs as a GitHub Actions job of its
environment would (an OIDC token from the local issuer, traded for the environment's
role with AssumeRoleWithWebIdentity), releases are published by dev's job, and
approvals come from a person's own session.

One module-scoped platform: the account stack applied, releases built from
commits of a clone and published (a good one, a second good one, one no test
deploys, one with a failing migration, one whose API is broken, one that moves
prod's network).

Each test runs alone or in any order.  The environments are expensive to
create (an OpenTofu apply each), so they are made once, lazily, and kept:

``dev_first_deploy``  (module) dev's first deploy, of the good release: it creates
                      dev's infrastructure; the first test asserts on its result;
``dev_live``          the good release is what dev's ``live`` runs (deployed, or
                      rolled back to); deployed only when it is not;
``dev_deployed``      the same, and dev's newest successful attempt is a deploy of it;
``staging_live``      the good release runs in staging (promoted from dev);
``prod_live``         the good release runs in prod (promoted, approved by alice).

A test that moves ``live`` elsewhere moves it back before it ends (a rollback:
cheap, and it keeps every other release out of the rollback tests' way), so
the fixtures usually find what they promise and do nothing.  The ledger only
grows: tests assert on the attempts they make, not on the whole history.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from smartstack.aws.environment import EnvironmentContext, open_environment
from smartstack.aws.lambda_api import live_version
from smartstack.aws.target import AwsTarget, environment_target, target_for
from smartstack.cli.app import app
from smartstack.core.config import Settings
from smartstack.core.errors import ExitCode, LeaseHeldError
from smartstack.core.naming import DEFAULT_PROJECT, artifacts_bucket_name
from smartstack.infra.stack import apply_stack
from smartstack.infra.state_backend import bootstrap
from smartstack.local import platform
from smartstack.pipeline.deploy import DeployResult, DestroyRefused, deploy
from smartstack.pipeline.gates import GateError
from smartstack.pipeline.ledger import AttemptKind, Ledger, deployments_table, live_attempt
from smartstack.pipeline.migrator import MigrationError
from smartstack.pipeline.promotion import rollback
from smartstack.pipeline.smoke import AwsFunctions
from smartstack.release.build import Manifest, build_release
from smartstack.release.store import publish_release
from tests.conftest import ROOT

ENVS = ("dev", "staging", "prod")
FUNCTIONS = ("ai-processor", "api", "migrator")

BAD_MIGRATION = '''"""A revision that fails: the table it alters does not exist."""

from alembic import op

revision = "0099"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE no_such_table ADD COLUMN broken integer")


def downgrade() -> None:
    pass
'''


@dataclass
class Pipeline:
    settings: Settings
    target: AwsTarget
    env: dict[str, str]  # process environment for the CLI
    good: Manifest
    second: Manifest
    undeployed: Manifest  # a good release no test deploys anywhere
    bad_migration: Manifest
    broken: Manifest
    new_prod_network: Manifest  # prod.tfvars moves prod's VPC: a plan that replaces it
    tokens: Path  # where the jobs' OIDC tokens are written
    refusals_seen: int = 0  # the number of the last IAM refusal of the local AWS reported

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return CliRunner().invoke(app, list(args), env=env or self.env, catch_exceptions=False)

    def job(self, env: str) -> Settings:
        """The settings of a GitHub Actions job in environment ``env``."""
        return platform.github_job(self.settings, env, self.tokens)

    def job_env(self, env: str) -> dict[str, str]:
        """The CLI's environment in that job."""
        token = self.job(env).web_identity_token_file
        return dict(self.env, SMARTSTACK_WEB_IDENTITY_TOKEN_FILE=str(token))

    def open(self, env: str) -> EnvironmentContext:
        """Environment ``env`` as its job acts in it."""
        return open_environment(self.job(env), env)

    def ledger(self) -> Ledger:
        return Ledger(self.target, DEFAULT_PROJECT)

    def live_sha(self, env: str, service: str) -> str:
        return self.code_sha(env, service, live_version(self.target, f"smartstack-{env}-{service}"))

    def code_sha(self, env: str, service: str, version: str) -> str:
        config = self.target.client("lambda").get_function_configuration(
            FunctionName=f"smartstack-{env}-{service}", Qualifier=version
        )
        return base64.b64decode(config["CodeSha256"]).hex()


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def _commit(repo: Path, message: str, out: Path, target: AwsTarget, bucket: str) -> Manifest:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", message)
    manifest = build_release(repo, out / message.split()[0])
    publish_release(target, bucket, manifest, out / message.split()[0])
    return manifest


@pytest.fixture(scope="module")
def pipeline(
    running_platform: Settings,
    session_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Pipeline:
    server = platform.moto_server(running_platform)
    server.reset()
    refusals_before = server.iam_stats("brief")["refusals_total"]
    target = target_for(running_platform)
    bootstrap(target, ENVS)
    apply_stack(running_platform, "account", target)
    bucket = artifacts_bucket_name(target.account_id(), target.region)
    work = tmp_path_factory.mktemp("releases")
    tokens = work / "tokens"
    tokens.mkdir()
    publisher = environment_target(
        platform.github_job(running_platform, "dev", tokens), "dev"
    )  # main → dev
    repo = work / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    _git(repo, "checkout", "-q", "-B", "main")
    _git(repo, "config", "user.email", "pipeline-test@smartstack.invalid")
    _git(repo, "config", "user.name", "pipeline test")
    good = _commit(repo, "good release", work, publisher, bucket)
    second = _commit(repo, "second release", work, publisher, bucket)
    (repo / "app/migrations/versions/0099_broken.py").write_text(BAD_MIGRATION)
    bad = _commit(repo, "bad-migration release", work, publisher, bucket)
    _git(repo, "reset", "-q", "--hard", second.commit)
    handler = repo / "app/api/smartstack_api/handler.py"
    handler.write_text(handler.read_text().replace('"database": "ok",', '"database": "broken",', 1))
    broken = _commit(repo, "broken release", work, publisher, bucket)
    _git(repo, "reset", "-q", "--hard", second.commit)
    tfvars = repo / "infrastructure/configs/prod.tfvars"
    tfvars.write_text(tfvars.read_text().replace('"10.30.0.0/16"', '"10.31.0.0/16"'))
    network = _commit(repo, "network release", work, publisher, bucket)
    _git(repo, "reset", "-q", "--hard", second.commit)
    undeployed = _commit(repo, "undeployed release", work, publisher, bucket)
    env = dict(session_env, SMARTSTACK_BRANCH="main")
    return Pipeline(
        running_platform, target, env, good, second, undeployed, bad, broken, network, tokens,
        refusals_before,
    )  # fmt: skip


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


@dataclass(frozen=True)
class FirstDeploy:
    result: DeployResult
    events: list[str]  # "<step>:start" and "<step>:<outcome>", in order


@pytest.fixture(scope="module")
def dev_first_deploy(pipeline: Pipeline) -> FirstDeploy:
    """dev's first deploy, of the good release: it creates dev's infrastructure.

    Once per module, before anything else deploys to dev (every test that
    deploys there requests this, through ``dev_live``); the result is kept for
    the test that asserts on it.
    """
    assert pipeline.ledger().history("dev") == [], "dev was deployed to before"
    events: list[str] = []
    result = deploy(
        pipeline.open("dev"),
        pipeline.good.release,
        progress=lambda e: events.append(f"{e.name}:{e.record.outcome if e.record else 'start'}"),
    )
    return FirstDeploy(result, events)


@pytest.fixture
def dev_live(pipeline: Pipeline, dev_first_deploy: FirstDeploy) -> None:
    """The good release is what dev's `live` runs; deployed only if it is not."""
    _require(dev_first_deploy)
    _ensure_good_live(pipeline, "dev")


@pytest.fixture
def dev_deployed(pipeline: Pipeline, dev_first_deploy: FirstDeploy) -> None:
    """As ``dev_live``, and dev's newest successful attempt is a deploy of the good release
    (not a rollback to it): its infra fingerprint is the one a new deploy of it computes."""
    _require(dev_first_deploy)
    _ensure_good_live(pipeline, "dev", deployed=True)


@pytest.fixture
def staging_live(pipeline: Pipeline, dev_first_deploy: FirstDeploy) -> None:
    """The good release (passed dev) is what staging's `live` runs; deployed only if it is not."""
    _require(dev_first_deploy)
    _ensure_good_live(pipeline, "staging")


@pytest.fixture
def prod_live(pipeline: Pipeline, staging_live: None) -> None:
    """The good release (passed staging, approved by alice) runs in prod; deployed only if not."""
    _ensure_good_live(pipeline, "prod")


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
    _withdraw_approval(pipeline, "prod", release)  # prod_live may have approved it already
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
    # once what the deploy would refuse. (The deploy ran as the staging role's session
    # `smartstack-staging`; the rule compares session names, which issue 13 replaces with
    # the approver's own identity.)
    deployer = _identity(pipeline, "smartstack-staging")
    refused = pipeline.cli("approve", "prod", release, env=deployer)
    assert refused.exit_code == 2
    assert "another person must approve" in refused.stderr
    refused = pipeline.cli("deploy", "prod", "--release", release, env=pipeline.job_env("prod"))
    assert refused.exit_code == 2
    assert f"prod needs an approval for {release}" in refused.stderr

    alice = _approver(pipeline, "alice")
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
    password = _parameters(pipeline, "prod")["db-password"]
    assert password not in result.stdout + result.stderr
    for env in ENVS:  # the very same bytes everywhere
        for service in FUNCTIONS:
            assert pipeline.live_sha(env, service) == pipeline.good.artifact(service).sha256


def test_a_failing_migration_stops_before_infra_and_app(pipeline: Pipeline, dev_live: None) -> None:
    revision = _revision(pipeline, "dev")
    before = {s: live_version(pipeline.target, f"smartstack-dev-{s}") for s in FUNCTIONS}

    result = deploy(pipeline.open("dev"), pipeline.bad_migration.release)

    assert isinstance(result.error, MigrationError)
    assert "0099" in result.error.message and "no_such_table" in result.error.message
    assert [(s.name, s.outcome) for s in result.attempt.steps] == [
        ("fetch", "succeeded"),
        ("migrate", "failed"),
    ]
    assert result.attempt.outcome == "failed"
    assert _revision(pipeline, "dev") == revision
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
        "dev", "arn:aws:sts::123456789012:assumed-role/ci/crashed", "x1"
    )
    lease.__enter__()  # a deploy that died without releasing it
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
            pipeline.ledger().unlock("dev")


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
    pipeline: Pipeline, dev_live: None, prod_live: None
) -> None:
    release = pipeline.new_prod_network.release
    try:
        for env in ("dev", "staging"):  # promoted as usual; their own networks do not change
            result = deploy(pipeline.open(env), release)
            assert result.error is None, result.error and result.error.message
            assert result.plan is not None and not result.plan.has_changes
        alice = _approver(pipeline, "alice")
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
    finally:  # dev and staging back on the good release
        for env in ("staging", "dev"):
            _roll_back_to_good(pipeline, env)


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
    _git(repo, "checkout", "-q", "-B", "main")
    _git(repo, "-c", "user.email=job@smartstack.invalid", "-c", "user.name=job",
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
        alice = _approver(pipeline, "alice")
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
            _roll_back_to_good(pipeline, env)

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


def _require(first: FirstDeploy) -> None:
    """Stop at once when dev's first deploy failed: nothing else can work (nor be retried)."""
    if first.result.error is not None:
        pytest.fail(f"dev's first deploy failed: {first.result.error.message}", pytrace=False)


def _ensure_good_live(pipeline: Pipeline, env: str, *, deployed: bool = False) -> None:
    """Make the good release what ``env``'s `live` runs, deploying it only when it is not.

    It is when the ledger's live attempt (the newest success, a deploy or a rollback;
    with ``deployed``, a deploy) is of the good release and the aliases run its code.
    """
    good = pipeline.good
    current = live_attempt(pipeline.ledger().history(env, limit=None))
    if (
        current is not None
        and current.release == good.release
        and (current.kind == AttemptKind.DEPLOY or not deployed)
        and all(pipeline.live_sha(env, s) == good.artifact(s).sha256 for s in FUNCTIONS)
    ):
        return
    environment = pipeline.open(env)
    if environment.config.require_approval:  # by someone other than its deployer upstream
        approved = pipeline.cli("approve", env, good.release, env=_approver(pipeline, "alice"))
        assert approved.exit_code == 0, approved.stderr
    result = deploy(environment, good.release)
    assert result.error is None, f"good release to {env}: {result.error and result.error.message}"


def _roll_back_to_good(pipeline: Pipeline, env: str) -> None:
    """A test's cleanup: roll ``env`` back to the good release if it runs something else."""
    current = live_attempt(pipeline.ledger().history(env, limit=None))
    if current is not None and current.release != pipeline.good.release:
        attempt = rollback(pipeline.open(env))
        assert attempt.release == pipeline.good.release, f"{env} rolled back to {attempt.release}"


def _withdraw_approval(pipeline: Pipeline, env: str, release: str) -> None:
    """Remove ``release``'s approval for ``env`` (there is no command for that: a test's setup)."""
    pipeline.target.client("dynamodb").delete_item(
        TableName=deployments_table(DEFAULT_PROJECT),
        Key={"pk": {"S": f"env#{env}"}, "sk": {"S": f"approval#{release}"}},
    )


def _identity(pipeline: Pipeline, person: str) -> dict[str, str]:
    """The CLI's environment when ``person`` acts with a role session named after them
    (what an administrator can do: the session name is theirs to choose)."""
    role = f"arn:aws:iam::{pipeline.target.account_id()}:role/smartstack-prod-role"
    creds = pipeline.target.client("sts").assume_role(RoleArn=role, RoleSessionName=person)[
        "Credentials"
    ]
    return _as(pipeline, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def _approver(pipeline: Pipeline, person: str) -> dict[str, str]:
    """The CLI's environment of ``person``, an approver signed in as their own IAM user,
    a member of the account stack's approvers group (made here, as an administrator would)."""
    iam = pipeline.target.client("iam")
    try:
        iam.create_user(UserName=person)
        iam.add_user_to_group(GroupName=f"{DEFAULT_PROJECT}-approvers", UserName=person)
    except iam.exceptions.EntityAlreadyExistsException:
        for old in iam.list_access_keys(UserName=person)["AccessKeyMetadata"]:  # at most two
            iam.delete_access_key(UserName=person, AccessKeyId=old["AccessKeyId"])
    key = iam.create_access_key(UserName=person)["AccessKey"]
    return _as(pipeline, key["AccessKeyId"], key["SecretAccessKey"])


def _as(pipeline: Pipeline, key: str, secret: str, token: str | None = None) -> dict[str, str]:
    aws = {k: v for k, v in pipeline.target.variables.items() if not k.startswith("AWS_SECRET")}
    aws.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    if token:
        aws["AWS_SESSION_TOKEN"] = token
    return dict(pipeline.env, SMARTSTACK_TARGET="aws", **aws)  # as themselves, no pipeline role


def _parameters(pipeline: Pipeline, env: str) -> dict[str, str]:
    ssm = pipeline.target.client("ssm")
    found = ssm.get_parameters_by_path(Path=f"/smartstack/{env}/", WithDecryption=True)
    return {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in found["Parameters"]}


def _revision(pipeline: Pipeline, env: str) -> str | None:
    """The environment's schema revision, read by the admin through the server's socket (the
    database is private: the deploying process has no route to it)."""
    database = _parameters(pipeline, env)["db-name"]
    admin = platform.postgres_server(pipeline.settings).admin_dsn(database)
    with psycopg.connect(admin) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None
