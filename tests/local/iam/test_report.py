"""``smartstack iam report``: the matching of grants and recorded calls, and the command."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from smartstack.aws.target import AwsTarget
from smartstack.cli.app import app
from smartstack.cli.iam import _never
from smartstack.local.iam.report import (
    Statement,
    Use,
    action_matches,
    expand,
    measure,
    measure_statement,
    reference_catalogue,
    resource_matches,
    statement_covers,
    statements_of,
    uses_of,
)

ACCOUNT = "123456789012"
SQS = ("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueues", "sqs:SendMessage")


def catalogue(prefix: str) -> Sequence[str]:
    return SQS if prefix.lower() == "sqs" else ()


def allow(sid: str, actions: Sequence[str], resources: Sequence[str], **extra: Any) -> Statement:
    return Statement("deploy", sid, "Allow", tuple(actions), tuple(resources), **extra)


def use(action: str, resource: str = "*", session: str = "s") -> Use:
    return Use(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/smartstack-dev-role/{session}", action, resource
    )


# --- actions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("ec2:Describe*", "ec2:DescribeVpcs", True),
        ("ec2:Describe*", "ec2:CreateVpc", False),
        ("EC2:describe*", "ec2:DescribeVpcs", True),  # case-insensitive
        ("s3:GetObject", "S3:GETOBJECT", True),
        ("s3:Get?bject", "s3:GetObject", True),  # ? is one character
        ("s3:Get?bject", "s3:GetObjject", False),
        ("s3:GetObject", "s3:GetObjectVersion", False),  # the whole name
        ("*", "kms:Decrypt", True),
        ("s3:*", "s3tables:GetTable", False),
        ("s3:Get.bject", "s3:GetObject", False),  # . is a plain character
    ],
)
def test_action_patterns(pattern: str, action: str, matches: bool) -> None:
    assert action_matches(pattern, action) is matches


# --- resources -----------------------------------------------------------------------

BUCKET = "arn:aws:s3:::smartstack-dev-data"
PARAMETER = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/smartstack/dev/db-password"


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        ("*", BUCKET, True),
        ("*", "*", True),
        (BUCKET, BUCKET, True),
        ("arn:aws:s3:::smartstack-dev-*", BUCKET + "/a/b/c.json", True),  # * runs across /
        ("arn:aws:s3:::Smartstack-dev-*", BUCKET, False),  # case-sensitive
        ("arn:aws:s3:::smartstack-dev-dat?", BUCKET, True),
        ("arn:aws:s3:::smartstack-dev-dat?", BUCKET + "s", False),
        (f"arn:aws:ssm:*:{ACCOUNT}:parameter/smartstack/dev/*", PARAMETER, True),
        (f"arn:aws:ssm:*:{ACCOUNT}:parameter/smartstack/prod/*", PARAMETER, False),
        ("arn:aws:ssm:*", PARAMETER, True),  # a short ARN: the missing segments are *
        # * stays within its segment: here it is the service, not service:region:account
        ("arn:aws:*:parameter/smartstack/dev/*", PARAMETER, False),
        (f"arn:aws:logs:*:{ACCOUNT}:log-group:/aws/lambda/x*",
         f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/x:log-stream:1", True),
        # a call authorized on * (no resource-level permissions): only * grants it
        (BUCKET, "*", False),
        ("arn:aws:s3:::*", "*", False),
        # a listing call authorized on a wildcard ARN: any overlap counts
        (f"arn:aws:rds:us-east-1:{ACCOUNT}:db:smartstack-dev-*",
         f"arn:aws:rds:us-east-1:{ACCOUNT}:db:*", True),
        (f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:x",
         f"arn:aws:rds:us-east-1:{ACCOUNT}:db:*", False),
        ("policy-without-arn*", "policy-without-arn-x", True),
    ],
)  # fmt: skip
def test_resource_patterns(pattern: str, resource: str, matches: bool) -> None:
    assert resource_matches(pattern, resource) is matches


# --- statements ----------------------------------------------------------------------


def test_a_statement_covers_a_call_its_action_and_resource_match() -> None:
    statement = allow("Own", ["s3:GetObject"], [BUCKET + "/*"])

    assert statement_covers(statement, use("s3:getobject", BUCKET + "/k"))
    assert not statement_covers(statement, use("s3:GetObject", BUCKET))
    assert not statement_covers(statement, use("s3:PutObject", BUCKET + "/k"))


def test_not_action_and_not_resource_invert_their_match() -> None:
    not_iam = allow("NotIam", ["iam:*"], ["*"], not_action=True)
    not_prod = allow("NotProd", ["s3:*"], ["arn:aws:s3:::smartstack-prod-*"], not_resource=True)

    assert statement_covers(not_iam, use("s3:GetObject", BUCKET))
    assert not statement_covers(not_iam, use("iam:CreateRole", "arn:aws:iam::1:role/x"))
    assert statement_covers(not_prod, use("s3:ListBucket", BUCKET))
    assert not statement_covers(not_prod, use("s3:ListBucket", "arn:aws:s3:::smartstack-prod-x"))


def test_wildcard_actions_are_expanded_against_the_catalogue() -> None:
    assert expand("sqs:GetQueue*", catalogue) == ("sqs:GetQueueAttributes", "sqs:GetQueueUrl")
    assert expand("SQS:getqueueurl", catalogue) == ("SQS:getqueueurl",)  # an action: as written
    assert expand("*", catalogue) == ("*",)  # everything: one grant
    assert expand("sq*:Get*", catalogue) == ("sq*:Get*",)  # a wildcard service: one grant
    assert expand("sns:Get*", catalogue) == ("sns:Get*",)  # nothing known: the pattern
    assert expand("sqs:Nothing*", catalogue) == ("sqs:Nothing*",)


def test_the_bundled_reference_expands_ec2_describe() -> None:
    expanded = expand("ec2:Describe*", reference_catalogue)

    assert "ec2:DescribeVpcs" in expanded and "ec2:DescribeSubnets" in expanded
    assert all(a.startswith("ec2:Describe") for a in expanded)


def test_grants_are_exercised_by_a_matching_call_and_listed_when_never() -> None:
    statement = allow("Queues", ["sqs:GetQueue*", "sqs:SendMessage"], ["arn:aws:sqs:*:*:dev-*"])
    uses = [
        use("sqs:GetQueueUrl", "arn:aws:sqs:us-east-1:1:dev-jobs"),
        use("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:prod-jobs"),  # another resource
        use("sqs:ListQueues"),  # another action
    ]

    measured = measure_statement(statement, uses, catalogue)

    assert [(g.action, g.pattern, g.exercised) for g in measured.grants] == [
        ("sqs:GetQueueAttributes", "sqs:GetQueue*", False),
        ("sqs:GetQueueUrl", "sqs:GetQueue*", True),
        ("sqs:SendMessage", "sqs:SendMessage", False),
    ]
    assert measured.grants[1].resources == ("arn:aws:sqs:us-east-1:1:dev-jobs",)
    assert measured.exercised == ("sqs:GetQueueUrl",)
    assert measured.never_exercised == ("sqs:GetQueueAttributes", "sqs:SendMessage")
    assert measured.note == ""


def test_an_action_granted_twice_in_a_statement_is_one_grant() -> None:
    statement = allow("Twice", ["sqs:GetQueue*", "sqs:getqueueurl"], ["*"])

    measured = measure_statement(statement, [], catalogue)

    assert [g.action for g in measured.grants] == ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]


def test_conditions_are_ignored_but_flagged() -> None:
    statement = allow("Tagged", ["sqs:ListQueues"], ["*"], conditional=True)

    measured = measure_statement(statement, [use("sqs:ListQueues")], catalogue)

    assert measured.exercised == ("sqs:ListQueues",) and measured.conditional


def test_not_action_reports_what_was_used_without_enumerating_the_rest() -> None:
    statement = allow("AllButIam", ["iam:*"], ["*"], not_action=True)
    uses = [use("sqs:ListQueues"), use("iam:ListRoles"), use("kms:ListAliases")]

    measured = measure_statement(statement, uses, catalogue)

    assert measured.grants == () and measured.never_exercised == ()
    assert measured.exercised == ("kms:ListAliases", "sqs:ListQueues")
    assert measured.note.startswith("NotAction")


def test_a_deny_statement_grants_nothing() -> None:
    deny = Statement("deploy", "NoSelfEscalation", "Deny", ("iam:PutRolePolicy",), ("*",))

    measured = measure_statement(deny, [use("iam:PutRolePolicy")], catalogue)

    assert (measured.grants, measured.exercised, measured.never_exercised) == ((), (), ())
    assert measured.note == "Deny: grants nothing"


def test_the_role_report_counts_grants() -> None:
    statements = [
        allow("Used", ["sqs:ListQueues"], ["*"]),
        allow("Unused", ["sqs:GetQueue*"], ["*"]),
    ]
    uses = [use("sqs:ListQueues", session="a"), use("sqs:ListQueues", session="b")]

    report = measure("dev", "smartstack-dev-role", None, statements, uses, catalogue)

    assert (report.granted, report.exercised, report.never_exercised) == (3, 1, 2)
    assert report.calls == 2 and len(report.sessions) == 2


def test_the_table_shortens_a_long_unused_expansion_to_its_pattern() -> None:
    many = tuple(f"ec2:Describe{n}" for n in range(8))
    statement = allow("Describe", ["ec2:Describe*", "sqs:GetQueue*"], ["*"])

    measured = measure_statement(
        statement, [use("ec2:Describe0")], lambda prefix: many if prefix == "ec2" else SQS
    )

    assert _never(measured) == [
        "ec2:Describe* (7 of 8 actions)",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    ]


# --- policies and the record ---------------------------------------------------------


def test_policy_documents_become_statements() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "One", "Effect": "Allow", "Action": "s3:GetObject", "Resource": BUCKET},
            {"Effect": "Allow", "NotAction": ["iam:*"], "NotResource": "arn:aws:s3:::x",
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        ],
    }  # fmt: skip

    one, two = statements_of("deploy", document)
    encoded = statements_of("deploy", quote(json.dumps(document)))  # as IAM's API answers

    assert one == Statement("deploy", "One", "Allow", ("s3:GetObject",), (BUCKET,))
    assert (two.sid, two.actions, two.resources) == ("#2", ("iam:*",), ("arn:aws:s3:::x",))
    assert two.not_action and two.not_resource and two.conditional
    assert encoded == (one, two)
    single = {"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}
    assert statements_of("p", json.dumps(single), "arn:p")[0].policy_arn == "arn:p"


def test_only_the_roles_sessions_count_each_call_once() -> None:
    dev = f"arn:aws:sts::{ACCOUNT}:assumed-role/smartstack-dev-role/pipeline"
    records = [
        {"principal": dev, "action": "sqs:ListQueues", "resource": "*"},
        {"principal": dev, "action": "sqs:ListQueues", "resource": "*"},  # two processes
        {"principal": f"arn:aws:sts::{ACCOUNT}:assumed-role/smartstack-dev-role2/x",
         "action": "s3:GetObject", "resource": BUCKET},
        {"principal": f"arn:aws:iam::{ACCOUNT}:root", "action": "iam:CreateRole",
         "resource": "*"},
        {"principal": f"arn:aws:iam::{ACCOUNT}:user/smartstack-dev-role", "action": "x:Y",
         "resource": "*"},
    ]  # fmt: skip

    assert uses_of(records, "smartstack-dev-role") == (Use(dev, "sqs:ListQueues", "*"),)


# --- the command, against the local AWS ----------------------------------------------

ROLE = "smartstack-probe-role"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "sts:AssumeRole",
}]}  # fmt: skip
# An environment of its own ("probe", a tfvars file in a checkout of its own): no other
# test's session of an environment role can have used what this test asserts was not.
PROBE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Used", "Effect": "Allow", "Action": "sns:ListSubscriptions", "Resource": "*"},
    {"Sid": "Unused", "Effect": "Allow",
     "Action": ["sqs:ListDeadLetter*", "sns:GetDataProtectionPolicy"], "Resource": "*"},
]}  # fmt: skip
NEVER = ["sns:GetDataProtectionPolicy", "sqs:ListDeadLetterSourceQueues"]


def table_rows(text: str) -> dict[str, list[str]]:
    """A Rich table's rows by their first cell; a cell over several lines joined by ' '."""
    rows: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.splitlines():
        if "│" not in line:
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if cells[0] and cells[0] not in ("statement",):
            last = rows.setdefault(cells[0], cells)
        elif last is not None and not cells[0]:
            for i, cell in enumerate(cells[1:], start=1):
                last[i] = f"{last[i]} {cell}".strip() if cell else last[i]
    return rows


def test_the_report_shows_what_a_session_exercised_and_what_it_never_did(
    aws: AwsTarget, session_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "infrastructure" / "configs").mkdir(parents=True)
    (tmp_path / "infrastructure" / "configs" / "probe.tfvars").write_text('environment = "probe"\n')
    iam = aws.client("iam")
    arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=ROLE, PolicyName="probe", PolicyDocument=json.dumps(PROBE_POLICY))
    env = session_env | {"COLUMNS": "200"}

    def report(*args: str) -> Any:
        result = CliRunner().invoke(
            app, [*args, "--root", str(tmp_path), "iam", "report", "probe"], env=env
        )
        assert result.exit_code == 0, result.output
        return result

    def statements() -> dict[str, Any]:
        data = json.loads(report("--json").stdout)["data"]
        (role,) = data["roles"]
        assert role["role"] == ROLE and role["role_arn"] == arn
        return {s["sid"]: s for s in role["statements"]}

    before = statements()  # the role exists, but no session of it has called anything
    assert before["Used"]["exercised"] == [] and before["Used"]["never_exercised"] == [
        "sns:ListSubscriptions"
    ]

    session = aws.assume_role(arn, "report-test")
    session.client("sns").list_subscriptions()

    after = statements()
    assert after["Used"]["exercised"] == ["sns:ListSubscriptions"]
    assert after["Used"]["never_exercised"] == []
    assert after["Used"]["grants"][0]["resources"] == ["*"]
    assert after["Unused"]["exercised"] == []
    assert sorted(after["Unused"]["never_exercised"]) == NEVER
    rows = table_rows(report().stdout)
    assert rows["Used"][1:] == ["1", "sns:ListSubscriptions", "-"]
    assert rows["Unused"][1:3] == ["2", "-"]
    assert sorted(rows["Unused"][3].split()) == NEVER


def test_the_report_needs_a_running_local_aws(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "SMARTSTACK_STATE_DIR": str(tmp_path / "state"),  # nothing started there
        "SMARTSTACK_ROOT": str(Path(__file__).resolve().parents[3]),
    }

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(app, list(args), env=env)

    on_aws = invoke("--target", "aws", "iam", "report")
    not_running = invoke("iam", "report", "dev")
    as_json = json.loads(invoke("--json", "iam", "report").stdout)

    assert on_aws.exit_code == 2 and on_aws.stderr.count("\n") == 1
    assert "needs the local AWS" in on_aws.stderr
    assert not_running.exit_code == 3 and not_running.stderr.count("\n") == 1
    assert "smartstack local up" in not_running.stderr
    assert as_json["status"] == "error" and as_json["errors"][0]["code"] == "not_running"
