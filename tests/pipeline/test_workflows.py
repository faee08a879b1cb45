"""The GitHub Actions workflows: actionlint, pinned actions, and the promotion wiring.

actionlint (pinned in scripts/versions.env, built by scripts/build-toolchain.sh)
checks syntax, expressions, job dependencies and action inputs. The structural
checks below read the workflows with PyYAML and hold the deploy pipeline to
ADR-007: push to main deploys dev only, staging and prod only by hand, one
deploy at a time per environment, each with its own OIDC role.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from smartstack.core.config import Settings
from smartstack.infra.toolchain import toolchain
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONS = ROOT / ".github" / "actions"
DEPLOY = WORKFLOWS / "deploy.yml"
PULL_REQUEST = WORKFLOWS / "pull-request.yml"
ENVIRONMENTS = ("dev", "staging", "prod")

PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+\.\d+\.\d+$")


# --- actionlint -------------------------------------------------------------------------


def _actionlint(settings: Settings, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = toolchain(settings).actionlint
    assert binary.is_file(), f"{binary} is missing; build it with scripts/build-toolchain.sh"
    # shellcheck and pyflakes are used when found on PATH; off, so the result is
    # the same on every machine.
    command = [str(binary), "-no-color", "-shellcheck=", "-pyflakes=", *args]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def test_actionlint_passes_on_the_workflows(settings: Settings) -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"deploy.yml", "pull-request.yml"}
    result = _actionlint(settings, *map(str, files), cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_fails_on_a_broken_workflow(settings: Settings, tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  deploy:\n"
        "    needs: biuld\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo ${{ github.event.no_such_thing.nope }} ${{ inputs.missing }}\n"
    )
    result = _actionlint(settings, str(broken), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'job "deploy" needs job "biuld" which does not exist' in result.stdout, result.stdout
    assert "[job-needs]" in result.stdout


# --- pinned actions -------------------------------------------------------------------


def _workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *ACTIONS.glob("*/action.yml")])


def _load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), path
    return loaded


def _uses(document: dict[str, Any]) -> list[str]:
    """Every ``uses:`` of a workflow (jobs and steps) or of a composite action."""
    found: list[str] = []
    jobs = document.get("jobs", {}).values()
    for job in jobs:
        if "uses" in job:
            found.append(job["uses"])
    steps = [s for job in jobs for s in job.get("steps", [])]
    steps += document.get("runs", {}).get("steps", [])
    found += [s["uses"] for s in steps if "uses" in s]
    return found


def unpinned(document: dict[str, Any]) -> list[str]:
    """Remote actions not pinned to a full commit SHA (local ./ actions are ours)."""
    return [u for u in _uses(document) if not u.startswith("./") and not PINNED.match(u)]


def pins_without_version(text: str) -> list[str]:
    """Remote ``uses:`` lines without a trailing ``# vX.Y.Z`` naming the pinned release."""
    bad = []
    for line in text.splitlines():
        match = USES_LINE.match(line)
        if match and not match["ref"].startswith("./") and not VERSION_COMMENT.match(match["rest"]):
            bad.append(line.strip())
    return bad


def test_every_remote_action_is_pinned_to_a_commit() -> None:
    documents = {p.relative_to(ROOT): _load(p) for p in _workflow_files()}
    assert any(_uses(d) for d in documents.values())
    problems = {str(p): unpinned(d) for p, d in documents.items() if unpinned(d)}
    assert problems == {}


def test_every_pin_names_its_release() -> None:
    problems = {str(p): pins_without_version(p.read_text()) for p in _workflow_files()}
    assert {p: lines for p, lines in problems.items() if lines} == {}


def test_each_action_is_pinned_to_one_commit_everywhere() -> None:
    seen: dict[str, set[str]] = {}
    for path in _workflow_files():
        for line in path.read_text().splitlines():
            match = USES_LINE.match(line)
            if match and not match["ref"].startswith("./"):
                action, _, sha = match["ref"].partition("@")
                seen.setdefault(action, set()).add(f"{sha}{match['rest']}")
    assert {a for a, pins in seen.items() if len(pins) > 1} == set(), seen


@pytest.mark.parametrize(
    ("text", "unpinned_refs", "unversioned"),
    [
        ("actions/checkout@v6", ["actions/checkout@v6"], 1),
        ("actions/checkout@de0fac2", ["actions/checkout@de0fac2"], 1),
        ("actions/checkout@main # v6.0.2", ["actions/checkout@main"], 0),
        ("actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd", [], 1),
        ("actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd # v6", [], 1),
        ("actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd # v6.0.2", [], 0),
        ("./.github/actions/setup", [], 0),
    ],
)
def test_the_pin_checks_catch_what_they_should(
    text: str, unpinned_refs: list[str], unversioned: int
) -> None:
    workflow = f"jobs:\n  j:\n    steps:\n      - uses: {text}\n"
    assert unpinned(yaml.safe_load(workflow)) == unpinned_refs
    assert len(pins_without_version(workflow)) == unversioned


# --- promotion wiring -----------------------------------------------------------------


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert isinstance(on, dict)
    return on


def events_of(workflow: dict[str, Any], job_id: str) -> set[str]:
    """The events a job can run on: the workflow's triggers, narrowed by the
    ``github.event_name == '...'`` tests of its ``if:`` and by what it needs."""
    job = workflow["jobs"][job_id]
    events = set(_triggers(workflow))
    named = set(re.findall(r"github\.event_name\s*==\s*'(\w+)'", str(job.get("if", ""))))
    if named:
        events &= named
    needs = job.get("needs", [])
    for need in [needs] if isinstance(needs, str) else needs:
        events &= events_of(workflow, need)
    return events


def _environment(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


def _run_lines(job: dict[str, Any]) -> list[str]:
    return [line for s in job.get("steps", []) for line in str(s.get("run", "")).splitlines()]


def _deploy_target(job: dict[str, Any]) -> str | None:
    """The environment a job's ``smartstack ... deploy <env>`` deploys to."""
    for line in _run_lines(job):
        match = re.search(r"\bsmartstack\b.*\bdeploy\s+(\w+)\s+--release\b", line)
        if match:
            return match[1]
    return None


def _aws_step(job: dict[str, Any]) -> dict[str, Any]:
    action = "aws-actions/configure-aws-credentials@"
    steps = [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(action)]
    assert len(steps) == 1, job
    with_: dict[str, Any] = steps[0]["with"]
    return with_


@pytest.fixture(scope="module")
def deploy() -> dict[str, Any]:
    return _load(DEPLOY)


def _deploy_jobs(workflow: dict[str, Any]) -> dict[str, str]:
    """job id -> environment, for every job that runs ``smartstack deploy``."""
    found = {}
    for job_id, job in workflow["jobs"].items():
        target = _deploy_target(job)
        if target:
            found[job_id] = target
    return found


def test_there_is_one_deploy_job_per_environment(deploy: dict[str, Any]) -> None:
    jobs = _deploy_jobs(deploy)
    assert sorted(jobs.values()) == sorted(ENVIRONMENTS)
    for job_id, env in jobs.items():
        assert job_id == f"deploy-{env}"
        assert _environment(deploy["jobs"][job_id]) == env


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_deploy_job_runs_alone_in_its_environment_with_its_own_role(
    deploy: dict[str, Any], env: str
) -> None:
    job = deploy["jobs"][f"deploy-{env}"]
    assert job.get("concurrency") == {"group": f"deploy-{env}", "cancel-in-progress": False}
    assert job.get("permissions") == {"id-token": "write", "contents": "read"}
    aws = _aws_step(job)
    assert aws["role-to-assume"] == (
        f"arn:aws:iam::${{{{ vars.AWS_ACCOUNT_ID }}}}:role/smartstack-{env}-role"
    )
    assert aws["aws-region"] == "${{ vars.AWS_REGION }}"
    assert "${{ github.actor }}" in aws["role-session-name"]
    assert any(
        re.search(rf"\.venv/bin/smartstack --target aws deploy {env} --release \"\$RELEASE\"", line)
        for line in _run_lines(job)
    ), _run_lines(job)


def _environments_on(workflow: dict[str, Any], event: str) -> set[str | None]:
    """The GitHub environments of the jobs that can run on ``event``."""
    jobs = workflow["jobs"]
    return {_environment(jobs[j]) for j in jobs if event in events_of(workflow, j)}


def test_push_to_main_deploys_dev_only(deploy: dict[str, Any]) -> None:
    assert _triggers(deploy)["push"] == {"branches": ["main"]}
    on_push = {j for j in deploy["jobs"] if "push" in events_of(deploy, j)}
    assert on_push == {"build", "deploy-dev"}
    assert _environments_on(deploy, "push") == {"dev"}
    assert {_deploy_target(deploy["jobs"][j]) for j in on_push} - {None} == {"dev"}


def test_the_release_deployed_to_dev_is_the_one_just_built(deploy: dict[str, Any]) -> None:
    build, dev = deploy["jobs"]["build"], deploy["jobs"]["deploy-dev"]
    assert build["outputs"] == {"release": "${{ steps.build.outputs.release }}"}
    assert build["permissions"] == {"id-token": "write", "contents": "read"}
    assert _aws_step(build)["role-to-assume"].endswith(":role/smartstack-dev-role")
    step = next(s for s in build["steps"] if s.get("id") == "build")
    assert "smartstack --target aws --json build --publish" in step["run"]
    assert "jq -er '.data.manifest.release'" in step["run"]
    assert dev["needs"] == "build"
    env = next(s["env"] for s in dev["steps"] if "env" in s)
    assert env == {"RELEASE": "${{ needs.build.outputs.release }}"}


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_deploy_only_by_hand(deploy: dict[str, Any], env: str) -> None:
    job = deploy["jobs"][f"deploy-{env}"]
    assert events_of(deploy, f"deploy-{env}") == {"workflow_dispatch"}
    assert f"inputs.environment == '{env}'" in job["if"]
    assert _environment(job) == env
    release = next(s["env"] for s in job["steps"] if "env" in s)
    assert release == {"RELEASE": "${{ inputs.release }}"}


def test_the_manual_trigger_takes_an_environment_and_a_release(deploy: dict[str, Any]) -> None:
    inputs = _triggers(deploy)["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["type"] == "choice"
    assert inputs["environment"]["options"] == ["staging", "prod"]
    assert inputs["release"]["type"] == "string" and inputs["release"]["required"] is True


def test_the_prod_job_waits_for_the_prod_environment(deploy: dict[str, Any]) -> None:
    """Its required reviewers are set on the GitHub environment prod, not in the file."""
    assert deploy["jobs"]["deploy-prod"]["environment"] == "prod"


@pytest.mark.parametrize(
    "change",
    [
        {"if": None},
        {"if": "github.event_name == 'push'"},
        {"if": "github.event_name == 'push' || inputs.environment == 'staging'"},
        {"if": "github.event_name != 'workflow_dispatch'"},
    ],
)
def test_a_staging_deploy_that_could_run_on_push_is_noticed(change: dict[str, Any]) -> None:
    workflow = _load(DEPLOY)
    job = workflow["jobs"]["deploy-staging"]
    for key, value in change.items():
        if value is None:
            job.pop(key)
        else:
            job[key] = value
    assert "push" in events_of(workflow, "deploy-staging")
    assert "staging" in _environments_on(workflow, "push")


# --- pull requests ----------------------------------------------------------------------


def test_pull_requests_run_read_only_checks_with_the_repository_scripts() -> None:
    workflow = _load(PULL_REQUEST)
    assert _triggers(workflow) == {"pull_request": {"branches": ["main"]}}
    assert workflow["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in workflow["jobs"].values())
    runs = {j: _run_lines(job) for j, job in workflow["jobs"].items()}
    assert runs["lint"] == [
        ".venv/bin/ruff check src tests bench",
        ".venv/bin/ruff format --check src tests bench",
    ]
    assert runs["type-check"] == [".venv/bin/mypy src"]
    assert runs["tests"] == ["bash scripts/test.sh"]
    assert runs["infrastructure"] == [
        ".venv/bin/python -m pytest tests/infra/test_static_checks.py"
    ]
    for job in workflow["jobs"].values():
        assert {"uses": "./.github/actions/setup"} in job["steps"]


def test_the_setup_action_caches_the_toolchain_by_its_pins() -> None:
    action = _load(ACTIONS / "setup" / "action.yml")
    steps = action["runs"]["steps"]
    caches = [s for s in steps if str(s.get("uses", "")).startswith("actions/cache@")]
    assert [c["with"]["path"].split()[0] for c in caches] == ["~/.cache/smartstack", "~/go/pkg/mod"]
    assert all("hashFiles('scripts/versions.env')" in c["with"]["key"] for c in caches)
    python = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert python["with"]["python-version"] == "3.11"
    assert steps[-1]["run"] == "bash scripts/setup.sh"


def jobs_without_a_time_limit(document: dict[str, Any], most: int = 90) -> list[str]:
    """Jobs with no ``timeout-minutes`` (GitHub's default is six hours, a hung deploy holding
    its environment's lease that long) or one above ``most``."""
    return [
        name
        for name, job in document.get("jobs", {}).items()
        if not isinstance(job.get("timeout-minutes"), int) or not 0 < job["timeout-minutes"] <= most
    ]


def test_every_job_has_a_time_limit() -> None:
    for path in _workflow_files():
        assert jobs_without_a_time_limit(_load(path)) == [], path.name
    hung = {"jobs": {"a": {"timeout-minutes": 30}, "b": {}, "c": {"timeout-minutes": 360}}}
    assert jobs_without_a_time_limit(hung) == ["b", "c"]
