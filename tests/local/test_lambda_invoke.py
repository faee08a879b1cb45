"""Lambda's Invoke in the local AWS runs the function in the RIE, as Lambda does."""

from __future__ import annotations

import base64
import io
import json
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from smartstack.local.lambda_service import choose_version
from smartstack.local.moto import MotoServer
from smartstack.local.processes import free_port
from tests.conftest import LAMBDA_TRUST
from tests.local.iam.conftest import ADMIN_KEYS, REGION, allow, policy

HANDLER = """
import json, os, time
import boto3

def handler(event, context):
    print(json.dumps({"level": "info", "event": event.get("kind")}))
    kind = event.get("kind")
    if kind == "fail":
        raise ValueError("asked to fail")
    if kind == "sleep":
        time.sleep(event["seconds"])
    if kind == "whoami":
        return {"arn": boto3.client("sts").get_caller_identity()["Arn"]}
    if kind == "parameter":
        parameter = boto3.client("ssm").get_parameter(Name=event["name"])["Parameter"]
        return {"value": parameter["Value"]}
    return {"version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
            "memory": os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
            "greeting": os.environ.get("GREETING")}
"""


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(rie: Path) -> Iterator[MotoServer]:
    with tempfile.TemporaryDirectory(prefix="smartstack-invoke-") as directory:
        # With its state on disk, as `local up` starts it: a function calling it back while
        # its invocation runs must not wait for the store's lock.
        running = MotoServer(free_port(), Path(directory), iam_enforcement="1", lambda_rie=rie,
                             state_dir=Path(directory) / "aws-state")  # fmt: skip
        try:
            running.start()
            yield running
        finally:
            running.stop()


@pytest.fixture
def admin(server: MotoServer) -> Callable[[str], Any]:
    server.reset()
    boto = boto3.session.Session(region_name=REGION, **ADMIN_KEYS)
    return lambda service: boto.client(service, endpoint_url=server.url)


def _function(
    admin: Callable[[str], Any], name: str, *statements: dict[str, Any],
    source: str = HANDLER, **extra: Any,
) -> str:  # fmt: skip
    """A function of ``source``'s ``handler`` whose role has ``statements``."""
    iam = admin("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=LAMBDA_TRUST)
    if statements:
        iam.put_role_policy(
            RoleName=f"{name}-role", PolicyName="p", PolicyDocument=policy(*statements)
        )
    admin("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Handler="app.handler",
        Role=role["Role"]["Arn"], Code={"ZipFile": _zip(source)}, Timeout=extra.pop("Timeout", 5),
        **extra,
    )  # fmt: skip
    return str(role["Role"]["Arn"])


def _invoke(admin: Callable[[str], Any], name: str, event: dict[str, Any], **extra: Any) -> Any:
    response = admin("lambda").invoke(FunctionName=name, Payload=json.dumps(event), **extra)
    return response, json.loads(response["Payload"].read() or b"null")


def test_invoke_runs_the_function_with_its_configuration(admin: Callable[[str], Any]) -> None:
    _function(admin, "greeter", MemorySize=256, Environment={"Variables": {"GREETING": "hi"}})
    response, result = _invoke(admin, "greeter", {"kind": "hello"})
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert result == {"version": "$LATEST", "memory": "256", "greeting": "hi"}


def test_a_function_error_comes_back_as_lambda_reports_it(admin: Callable[[str], Any]) -> None:
    _function(admin, "failing")
    response, result = _invoke(admin, "failing", {"kind": "fail"}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert result["errorType"] == "ValueError"
    assert result["errorMessage"] == "asked to fail"
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "START RequestId" in tail and "REPORT RequestId" in tail


def test_a_timeout_is_a_timeout(admin: Callable[[str], Any]) -> None:
    _function(admin, "slow", Timeout=1)
    response, result = _invoke(admin, "slow", {"kind": "sleep", "seconds": 5})
    assert response["FunctionError"] == "Unhandled"
    assert "timed out" in json.dumps(result).lower()


def test_the_function_acts_as_its_execution_role(admin: Callable[[str], Any]) -> None:
    parameter = "/smartstack/dev/greeting"
    admin("ssm").put_parameter(Name=parameter, Value="hello", Type="String")
    arn = f"arn:aws:ssm:{REGION}:123456789012:parameter{parameter}"
    _function(admin, "reader", allow("ssm:GetParameter", arn))
    _, who = _invoke(admin, "reader", {"kind": "whoami"})
    assert who["arn"] == "arn:aws:sts::123456789012:assumed-role/reader-role/reader"
    _, read = _invoke(admin, "reader", {"kind": "parameter", "name": parameter})
    assert read == {"value": "hello"}
    admin("ssm").put_parameter(Name="/smartstack/prod/greeting", Value="x", Type="String")
    response, refused = _invoke(admin, "reader", {"kind": "parameter",
                                                  "name": "/smartstack/prod/greeting"})  # fmt: skip
    assert response["FunctionError"] == "Unhandled"
    assert "AccessDenied" in refused["errorMessage"]


def test_each_invocation_is_logged_as_lambda_logs_it(admin: Callable[[str], Any]) -> None:
    _function(admin, "logged")
    _invoke(admin, "logged", {"kind": "hello"})
    events = admin("logs").filter_log_events(logGroupName="/aws/lambda/logged")["events"]
    messages = [e["message"] for e in events]
    assert any(m.startswith("START RequestId") for m in messages)
    assert any('"event": "hello"' in m for m in messages)
    assert any(m.startswith("REPORT RequestId") for m in messages)
    streams = {e["logStreamName"] for e in events}
    assert all("/[$LATEST]" in s for s in streams), streams


def test_an_alias_routes_by_its_weights(admin: Callable[[str], Any]) -> None:
    _function(admin, "weighted")
    lam = admin("lambda")
    one = lam.publish_version(FunctionName="weighted")["Version"]
    lam.update_function_configuration(FunctionName="weighted",
                                       Environment={"Variables": {"GREETING": "two"}})  # fmt: skip
    two = lam.publish_version(FunctionName="weighted")["Version"]
    lam.create_alias(FunctionName="weighted", Name="live", FunctionVersion=one,
                     RoutingConfig={"AdditionalVersionWeights": {two: 0.1}})  # fmt: skip
    runs = 1000
    executed = [
        lam.invoke(FunctionName="weighted", Qualifier="live", Payload=b"{}")["ExecutedVersion"]
        for _ in range(runs)
    ]
    to_two = executed.count(two)
    # Binomial(1000, 0.1): mean 100, sd 9.5; ±5 sd fails by chance about once in 3.5 million.
    assert 52 <= to_two <= 148, (to_two, set(executed), one, two)
    assert set(executed) == {one, two}


def test_choose_version_splits_the_unit_interval_by_weight() -> None:
    assert choose_version("1", {"2": 0.1}, 0.05) == "2"
    assert choose_version("1", {"2": 0.1}, 0.1) == "1"
    assert choose_version("1", {}, 0.0) == "1"


# --- the HTTP API ------------------------------------------------------------------------

ECHO = """
import base64, json

def handler(event, context):
    if event["rawPath"] == "/boom":
        raise RuntimeError("boom")
    if event["rawPath"] == "/plain":
        return {"plain": True}
    return {"statusCode": 201, "headers": {"x-route": event["routeKey"]},
            "cookies": ["a=1"],
            "body": json.dumps({"path": event["rawPath"], "params": event.get("pathParameters"),
                                "query": event.get("queryStringParameters"),
                                "stage": event["requestContext"]["stage"],
                                "body": event.get("body"), "b64": event["isBase64Encoded"]})}
"""


def _http_api(
    admin: Callable[[str], Any], name: str, *routes: str, permit: str | None = "*", **stage: Any
) -> str:
    """An HTTP API in front of ``name``'s alias ``live``; ``permit``: the requests (below
    the API's execute-api ARN) the alias's policy lets API Gateway invoke it for."""
    _function(admin, name, source=ECHO)
    lam = admin("lambda")
    version = lam.publish_version(FunctionName=name)["Version"]
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)["AliasArn"]
    gateway = admin("apigatewayv2")
    api = gateway.create_api(Name=f"{name}-api", ProtocolType="HTTP")
    integration = gateway.create_integration(
        ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=alias,
        PayloadFormatVersion="2.0", IntegrationMethod="POST",
    )["IntegrationId"]  # fmt: skip
    for key in routes:
        gateway.create_route(ApiId=api["ApiId"], RouteKey=key,
                             Target=f"integrations/{integration}")  # fmt: skip
    gateway.create_stage(ApiId=api["ApiId"], StageName=stage.pop("stage", "$default"),
                         AutoDeploy=True, **stage)  # fmt: skip
    if permit is not None:
        source = f"arn:aws:execute-api:{REGION}:123456789012:{api['ApiId']}/{permit}"
        lam.add_permission(
            FunctionName=name, Qualifier="live", StatementId="AllowHttpApiInvoke",
            Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
            SourceArn=source,
        )  # fmt: skip
    endpoint = gateway.get_api(ApiId=api["ApiId"])["ApiEndpoint"]
    return str(endpoint)


def _request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_http_api_answers_on_its_endpoint(admin: Callable[[str], Any]) -> None:
    endpoint = _http_api(admin, "echo", "GET /items/{id}", "ANY /{proxy+}", "GET /plain")
    assert endpoint.startswith("http://127.0.0.1:")

    status, headers, body = _request(f"{endpoint}/items/42?a=1&a=2")
    assert status == 201
    assert headers["x-route"] == "GET /items/{id}"
    assert headers["Set-Cookie"] == "a=1"
    echoed = json.loads(body)
    assert echoed["path"] == "/items/42"
    assert echoed["params"] == {"id": "42"}
    assert echoed["query"] == {"a": "1,2"}
    assert echoed["stage"] == "$default"

    status, _, body = _request(f"{endpoint}/items", "POST", b'{"name": "x"}',
                               {"Content-Type": "application/json"})  # fmt: skip
    assert status == 201
    assert json.loads(body)["params"] == {"proxy": "items"}
    assert json.loads(body)["body"] == '{"name": "x"}'

    status, _, body = _request(f"{endpoint}/upload", "PUT", b"\xff\x00\xfe",
                               {"Content-Type": "application/octet-stream"})  # fmt: skip
    assert json.loads(body)["b64"] is True
    assert json.loads(body)["body"] == base64.b64encode(b"\xff\x00\xfe").decode()

    assert _request(f"{endpoint}/plain")[:1] == (200,)
    assert json.loads(_request(f"{endpoint}/plain")[2]) == {"plain": True}

    status, _, body = _request(f"{endpoint}/boom")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_api_gateway_invokes_only_what_the_function_s_policy_lets_it(
    admin: Callable[[str], Any],
) -> None:
    unpermitted = _http_api(admin, "unpermitted", "GET /health", permit=None)
    status, _, body = _request(f"{unpermitted}/health")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    only_get_health = _http_api(admin, "narrowly", "ANY /{proxy+}", permit="*/GET/health")
    assert _request(f"{only_get_health}/health")[0] == 201
    assert _request(f"{only_get_health}/health", "POST")[0] == 500
    assert _request(f"{only_get_health}/other")[0] == 500


def test_a_route_that_is_not_there_is_not_found(admin: Callable[[str], Any]) -> None:
    endpoint = _http_api(admin, "narrow", "GET /health")
    assert _request(f"{endpoint}/health")[0] == 201
    status, _, body = _request(f"{endpoint}/other")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    assert _request(f"{endpoint}/health", "POST")[0] == 404


def test_a_named_stage_serves_under_its_name(admin: Callable[[str], Any]) -> None:
    endpoint = _http_api(admin, "staged", "GET /health", stage="v1")
    status, _, body = _request(f"{endpoint}/v1/health")
    assert status == 201 and json.loads(body)["stage"] == "v1"
    assert _request(f"{endpoint}/health")[0] == 404


def test_the_stage_s_throttling_refuses_beyond_its_burst(admin: Callable[[str], Any]) -> None:
    settings = {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 0.01}
    endpoint = _http_api(admin, "throttled", "GET /health", DefaultRouteSettings=settings)
    statuses = [_request(f"{endpoint}/health")[0] for _ in range(4)]
    assert statuses == [201, 201, 429, 429]


# --- the queue's event source mapping ----------------------------------------------------

WORKER = """
import json, os
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    failures = []
    for record in event["Records"]:
        if record["body"] == "poison":
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        sqs.send_message(QueueUrl=os.environ["RESULTS"],
                         MessageBody=json.dumps({
                             "body": record["body"], "batch": len(event["Records"]),
                             "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"]}))
    return {"batchItemFailures": failures}
"""


def _wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s")


def test_the_queue_delivers_batches_and_poison_ends_in_the_dlq(
    admin: Callable[[str], Any],
) -> None:
    sqs = admin("sqs")
    dlq = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    jobs = sqs.create_queue(QueueName="jobs", Attributes={
        "VisibilityTimeout": "1", "RedrivePolicy": redrive})["QueueUrl"]  # fmt: skip
    jobs_arn = sqs.get_queue_attributes(QueueUrl=jobs, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    results = sqs.create_queue(QueueName="results")["QueueUrl"]
    results_arn = jobs_arn.replace(":jobs", ":results")
    _function(admin, "worker", allow("sqs:SendMessage", results_arn), source=WORKER,
              Environment={"Variables": {"RESULTS": results}})  # fmt: skip
    lam = admin("lambda")
    # Three messages wait before the mapping exists: its window of 2 s lets them make one batch.
    for body in ("a", "b", "poison"):
        sqs.send_message(QueueUrl=jobs, MessageBody=body)
    lam.create_event_source_mapping(
        FunctionName="worker", EventSourceArn=jobs_arn, BatchSize=5,
        MaximumBatchingWindowInSeconds=2, FunctionResponseTypes=["ReportBatchItemFailures"],
    )  # fmt: skip

    def received(url: str) -> list[dict[str, Any]]:
        return list(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))

    done: list[dict[str, Any]] = []
    _wait_for(lambda: done.extend(received(results)) or len(done) >= 2)
    processed = [json.loads(m["Body"]) for m in done]
    assert sorted(p["body"] for p in processed) == ["a", "b"]
    assert {p["batch"] for p in processed} == {3}
    dead = _wait_for(lambda: received(dlq))
    assert [m["Body"] for m in dead] == ["poison"]
    assert not received(jobs)
    assert not received(results)  # the good ones ran once: their messages were deleted


def test_a_batch_answer_names_what_to_keep() -> None:
    from smartstack.local.event_sources import batch_outcome

    ids = ["1", "2", "3"]
    fails_two = json.dumps({"batchItemFailures": [{"itemIdentifier": "2"}]}).encode()
    assert batch_outcome(ids, fails_two, {}, True) == {"1", "3"}
    assert batch_outcome(ids, fails_two, {}, False) == {"1", "2", "3"}
    assert batch_outcome(ids, b"null", {}, True) == {"1", "2", "3"}
    assert batch_outcome(ids, b"{}", {"X-Amz-Function-Error": "Unhandled"}, True) == set()
    unknown = json.dumps({"batchItemFailures": [{"itemIdentifier": "9"}]}).encode()
    assert batch_outcome(ids, unknown, {}, True) == set()


def test_a_mapping_to_an_alias_follows_the_alias(admin: Callable[[str], Any]) -> None:
    sqs = admin("sqs")
    jobs = sqs.create_queue(QueueName="moving", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    jobs_arn = sqs.get_queue_attributes(QueueUrl=jobs, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    results = sqs.create_queue(QueueName="moved")["QueueUrl"]
    _function(admin, "mover", allow("sqs:SendMessage", jobs_arn.replace(":moving", ":moved")),
              source=WORKER, Environment={"Variables": {"RESULTS": results}})  # fmt: skip
    lam = admin("lambda")
    one = lam.publish_version(FunctionName="mover")["Version"]
    changed = {"Variables": {"RESULTS": results, "V": "2"}}
    lam.update_function_configuration(FunctionName="mover", Environment=changed)
    two = lam.publish_version(FunctionName="mover")["Version"]
    alias = lam.create_alias(FunctionName="mover", Name="live", FunctionVersion=one)["AliasArn"]
    mapping = lam.create_event_source_mapping(FunctionName=alias, EventSourceArn=jobs_arn,
                                              BatchSize=1)  # fmt: skip
    assert mapping["FunctionArn"] == alias
    lam.update_alias(FunctionName="mover", Name="live", FunctionVersion=two)
    sqs.send_message(QueueUrl=jobs, MessageBody="after the move")

    def received() -> list[dict[str, Any]]:
        return list(sqs.receive_message(QueueUrl=results).get("Messages", []))

    done = _wait_for(received)
    assert json.loads(done[0]["Body"])["version"] == two


# --- metrics and alarms ------------------------------------------------------------------


def test_invocations_publish_lambda_s_metrics(admin: Callable[[str], Any]) -> None:
    import datetime as dt

    _function(admin, "measured")
    _invoke(admin, "measured", {"kind": "hello"})
    _invoke(admin, "measured", {"kind": "fail"})
    cloudwatch = admin("cloudwatch")
    now = dt.datetime.now(dt.UTC)

    def total(metric: str, statistic: str = "Sum") -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Statistics=[statistic], Period=60,
            Dimensions=[{"Name": "FunctionName", "Value": "measured"}],
            StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=1),
        )["Datapoints"]  # fmt: skip
        return sum(float(p[statistic]) for p in points)

    assert total("Invocations") == 2.0
    assert total("Errors") == 1.0
    assert total("Duration", "Maximum") > 0


def test_the_error_rate_and_5xx_alarms_fire_and_return_to_ok(admin: Callable[[str], Any]) -> None:
    endpoint = _http_api(admin, "alarmed", "ANY /{proxy+}")
    api_id = endpoint.rsplit("/", 1)[1]
    cloudwatch = admin("cloudwatch")
    function = [{"Name": "FunctionName", "Value": "alarmed"}]

    def stat(metric_id: str, name: str) -> dict[str, Any]:
        return {"Id": metric_id, "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "AWS/Lambda", "MetricName": name, "Dimensions": function},
            "Period": 10, "Stat": "Sum"}}  # fmt: skip

    cloudwatch.put_metric_alarm(
        AlarmName="alarmed-error-rate", ComparisonOperator="GreaterThanThreshold",
        Threshold=5.0, EvaluationPeriods=1, TreatMissingData="notBreaching",
        Metrics=[{"Id": "rate", "Expression": "IF(invocations > 0, errors / invocations * 100, 0)",
                  "ReturnData": True},
                 stat("errors", "Errors"), stat("invocations", "Invocations")],
    )  # fmt: skip
    cloudwatch.put_metric_alarm(
        AlarmName="alarmed-5xx", Namespace="AWS/ApiGateway", MetricName="5xx",
        Dimensions=[{"Name": "ApiId", "Value": api_id}], Statistic="Sum", Period=10,
        EvaluationPeriods=1, Threshold=2.0, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip

    def states() -> dict[str, str]:
        alarms = cloudwatch.describe_alarms(AlarmNamePrefix="alarmed-")["MetricAlarms"]
        return {a["AlarmName"]: a["StateValue"] for a in alarms}

    _request(f"{endpoint}/fine")  # a warm environment, so the burst takes well under a period
    time.sleep(10 - time.time() % 10 + 0.2)  # the burst in one period, not split over two
    for _ in range(4):
        assert _request(f"{endpoint}/boom")[0] == 500
    assert _request(f"{endpoint}/fine")[0] == 201
    _wait_for(lambda: set(states().values()) == {"ALARM"}, timeout=15)
    reasons = [a["StateReason"] for a in cloudwatch.describe_alarms(
        AlarmNamePrefix="alarmed-")["MetricAlarms"]]  # fmt: skip
    assert all(r.startswith("Threshold Crossed") for r in reasons), reasons
    # The burst's period ends; the next has no errors (missing data is not breaching).
    _wait_for(lambda: set(states().values()) == {"OK"}, timeout=30)


def test_an_event_invocation_is_answered_at_once_and_runs_after(
    admin: Callable[[str], Any],
) -> None:
    _function(admin, "later")

    def reports() -> list[str]:
        try:
            events = admin("logs").filter_log_events(logGroupName="/aws/lambda/later")["events"]
        except admin("logs").exceptions.ResourceNotFoundException:
            return []
        return [e["message"] for e in events if e["message"].startswith("REPORT")]

    response = admin("lambda").invoke(
        FunctionName="later", InvocationType="Event",
        Payload=json.dumps({"kind": "sleep", "seconds": 3}),
    )  # fmt: skip
    assert response["StatusCode"] == 202
    assert reports() == []  # answered before the function ended
    _wait_for(reports, timeout=30)


def test_reserved_concurrency_holds_for_every_version(admin: Callable[[str], Any]) -> None:
    from botocore.exceptions import ClientError

    _function(admin, "disabled")
    lam = admin("lambda")
    version = lam.publish_version(FunctionName="disabled")["Version"]
    lam.create_alias(FunctionName="disabled", Name="live", FunctionVersion=version)
    lam.put_function_concurrency(FunctionName="disabled", ReservedConcurrentExecutions=0)
    for qualifier in ("live", version, "$LATEST"):
        with pytest.raises(ClientError) as info:
            lam.invoke(FunctionName="disabled", Qualifier=qualifier, Payload=b"{}")
        assert info.value.response["Error"]["Code"] == "TooManyRequestsException"


def test_a_function_made_again_after_a_reset_gets_a_fresh_environment(
    server: MotoServer, admin: Callable[[str], Any]
) -> None:
    _function(admin, "again")
    assert "assumed-role/again-role/again" in _invoke(admin, "again", {"kind": "whoami"})[1]["arn"]
    server.reset()  # the sessions go with everything else
    _function(admin, "again")
    response, who = _invoke(admin, "again", {"kind": "whoami"})
    assert "FunctionError" not in response, who
    assert who["arn"].endswith("assumed-role/again-role/again")


def test_a_role_lambda_cannot_assume_is_refused_as_the_function_s_role(
    admin: Callable[[str], Any],
) -> None:
    iam, lam = admin("iam"), admin("lambda")
    ec2_only = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                       "Action": "sts:AssumeRole"})  # fmt: skip
    wrong = iam.create_role(RoleName="ec2-only-role", AssumeRolePolicyDocument=ec2_only)
    code = {"ZipFile": _zip(HANDLER)}

    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="cannot be assumed"):
        lam.create_function(FunctionName="untrusted", Runtime="python3.12", Handler="app.handler",
                            Role=wrong["Role"]["Arn"], Code=code)  # fmt: skip
    right = _function(admin, "trusted")
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="cannot be assumed"):
        lam.update_function_configuration(FunctionName="trusted", Role=wrong["Role"]["Arn"])
    assert lam.get_function_configuration(FunctionName="trusted")["Role"] == right
