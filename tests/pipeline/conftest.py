"""Fixtures of the pipeline tests.

``ledger`` is an empty deployments table.  The others are one world per module
(:mod:`tests.pipeline.world`): the account stack applied, releases built from
commits of a clone and published (a good one, a second good one, one no test
deploys, one with a failing migration, one whose API is broken, one that moves
prod's network).

A module's tests each run alone or in any order.  The environments are expensive
to create (an OpenTofu apply each), so they are made once per module, lazily, and kept:

``pipeline``          (module) the world;
``dev_first_deploy``  (module) dev's first deploy, of the good release: it creates
                      dev's infrastructure; the first test asserts on its result;
``dev_live``          the good release is what dev's ``live`` runs (deployed, or
                      rolled back to); deployed only when it is not;
``dev_deployed``      the same, and dev's newest successful attempt is a deploy of it;
``staging_live``      the good release runs in staging (promoted from dev);
``prod_live``         the good release runs in prod (promoted, approved by alice).
"""

from __future__ import annotations

import subprocess

import pytest

from smartstack.aws.target import AwsTarget, environment_target, target_for
from smartstack.core.config import Settings
from smartstack.core.naming import DEFAULT_PROJECT, artifacts_bucket_name
from smartstack.infra.stack import apply_stack
from smartstack.infra.state_backend import bootstrap
from smartstack.local import platform
from smartstack.pipeline.deploy import deploy
from smartstack.pipeline.ledger import Ledger, deployments_table
from tests.conftest import ROOT
from tests.pipeline.world import (
    BAD_MIGRATION,
    ENVS,
    FirstDeploy,
    Pipeline,
    commit,
    ensure_good_live,
    git,
    require_first,
)


@pytest.fixture
def ledger(aws: AwsTarget) -> Ledger:
    """The table as the account stack makes it: string keys pk and sk; and the artifacts
    bucket, where the ledger's anchors go."""
    aws.client("s3").create_bucket(Bucket=artifacts_bucket_name(aws.account_id(), aws.region))
    aws.client("dynamodb").create_table(
        TableName=deployments_table(),
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return Ledger(aws, DEFAULT_PROJECT)


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
    git(repo, "checkout", "-q", "-B", "main")
    git(repo, "config", "user.email", "pipeline-test@smartstack.invalid")
    git(repo, "config", "user.name", "pipeline test")
    good = commit(repo, "good release", work, publisher, bucket)
    second = commit(repo, "second release", work, publisher, bucket)
    (repo / "app/migrations/versions/0099_broken.py").write_text(BAD_MIGRATION)
    bad = commit(repo, "bad-migration release", work, publisher, bucket)
    git(repo, "reset", "-q", "--hard", second.commit)
    handler = repo / "app/api/smartstack_api/handler.py"
    handler.write_text(handler.read_text().replace('"database": "ok",', '"database": "broken",', 1))
    broken = commit(repo, "broken release", work, publisher, bucket)
    git(repo, "reset", "-q", "--hard", second.commit)
    tfvars = repo / "infrastructure/configs/prod.tfvars"
    tfvars.write_text(tfvars.read_text().replace('"10.30.0.0/16"', '"10.31.0.0/16"'))
    network = commit(repo, "network release", work, publisher, bucket)
    git(repo, "reset", "-q", "--hard", second.commit)
    undeployed = commit(repo, "undeployed release", work, publisher, bucket)
    env = dict(session_env, SMARTSTACK_BRANCH="main")
    return Pipeline(
        running_platform, target, env, good, second, undeployed, bad, broken, network, tokens,
        refusals_before,
    )  # fmt: skip


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
    require_first(dev_first_deploy)
    ensure_good_live(pipeline, "dev")


@pytest.fixture
def dev_deployed(pipeline: Pipeline, dev_first_deploy: FirstDeploy) -> None:
    """As ``dev_live``, and dev's newest successful attempt is a deploy of the good release
    (not a rollback to it): its infra fingerprint is the one a new deploy of it computes."""
    require_first(dev_first_deploy)
    ensure_good_live(pipeline, "dev", deployed=True)


@pytest.fixture
def staging_live(pipeline: Pipeline, dev_first_deploy: FirstDeploy) -> None:
    """The good release (passed dev) is what staging's `live` runs; deployed only if it is not."""
    require_first(dev_first_deploy)
    ensure_good_live(pipeline, "staging")


@pytest.fixture
def prod_live(pipeline: Pipeline, staging_live: None) -> None:
    """The good release (passed staging, approved by alice) runs in prod; deployed only if not."""
    ensure_good_live(pipeline, "prod")
