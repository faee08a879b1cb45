"""Lambda's ``Invoke`` in the local AWS: the requested version runs in the Lambda RIE.

Stock moto without Docker answers ``Invoke`` with a canned reply.  The launcher
(``smartstack.local.moto_server``) installs this instead when it is given the RIE
(``SMARTSTACK_LAMBDA_RIE``): ``Invoke`` runs the version the request names (an alias's
version, or one of its ``AdditionalVersionWeights`` versions, chosen by weight as Lambda
does) with that version's code, handler, environment, timeout and memory, and answers as
Lambda does:

* the function's result as the payload, ``X-Amz-Executed-Version``;
* a function that raised or timed out: its error payload with ``X-Amz-Function-Error:
  Unhandled`` (HTTP 200, as Lambda);
* ``LogType=Tail``: the last 4 KB of the invocation's log, base64, in ``X-Amz-Log-Result``;
* ``InvocationType=Event``: HTTP 202 at once, the function run in the background (a
  throttled event tried again later), as Lambda queues an asynchronous invocation;
* more concurrent invocations than the account's limit
  (``SMARTSTACK_LAMBDA_CONCURRENCY``, default 8) or a function's reserved concurrency:
  ``TooManyRequestsException`` (HTTP 429).

Warm environments are kept per version (and code and configuration) and reused, as
Lambda's execution environments are; idle ones beyond a few are stopped.  Each runs with
a session of the function's execution role, made by the local STS as Lambda's service
would, so with IAM enforcement on the function's calls are authorized as that role.
Every invocation's log (START, the function's own lines, END, REPORT) goes to
``/aws/lambda/<function>`` in a stream named as Lambda names them
(``YYYY/MM/DD/[<version>]<id>``), and its metrics to CloudWatch
(:mod:`smartstack.local.metrics`).
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smartstack.local import event_sources, http_api, metrics
from smartstack.local.http_api import Throttled
from smartstack.local.lambda_runner import LocalLambda
from smartstack.local.network import PrivateNetwork
from smartstack.local.persistence.store import persisted
from smartstack.local.wsgi import wrap_moto

RIE_VARIABLE = "SMARTSTACK_LAMBDA_RIE"
CONCURRENCY_VARIABLE = "SMARTSTACK_LAMBDA_CONCURRENCY"
_DEFAULT_CONCURRENCY = 8
_IDLE_KEPT = 6
_TAIL_BYTES = 4096
_SESSION_SECONDS = 3600
_EVENT_ATTEMPTS = 4  # a throttled asynchronous event is tried again, 1, 2 and 4 s later
_LOG_LOCK = threading.Lock()


@dataclass(frozen=True)
class Invocation:
    payload: bytes
    function_error: str | None  # "Unhandled" when the function raised or timed out
    executed_version: str
    log: str
    stream: str  # the log stream of the environment that ran it


@dataclass
class _Environment:
    """One warm execution environment: a RIE running one version's code."""

    function: LocalLambda
    stream: str
    expires: float  # when its role session runs out: a fresh environment is made then
    log_offset: int = 0
    used: float = field(default_factory=time.monotonic)


def choose_version(version: str, weights: dict[str, float], draw: float) -> str:
    """The version an alias routes one invocation to: ``weights`` (version → share) take
    their shares, in order, of ``[0, 1)``; ``draw`` falls in one of them or in the rest."""
    edge = 0.0
    for candidate, weight in sorted(weights.items()):
        edge += float(weight)
        if draw < edge:
            return candidate
    return version


class FunctionPool:
    """The warm environments of every function, and the limit on concurrent ones."""

    def __init__(
        self, rie: Path, endpoint: str, concurrency: int, network: PrivateNetwork | None = None
    ) -> None:
        self.rie = rie
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.network = network
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, ...], list[_Environment]] = {}
        self._busy: dict[str, int] = {}  # unqualified function ARN → running invocations
        self._running = 0
        self._code_dir = Path(tempfile.mkdtemp(prefix="smartstack-lambda-code-"))

    def invoke(
        self,
        fn: Any,
        payload: bytes,
        credentials: Callable[[], Any],
        reserved: int | None = None,
    ) -> Invocation:
        """Run ``fn`` once; ``credentials`` makes a role session for a new environment;
        ``reserved``: the function's reserved concurrency (all its versions share it)."""
        key = _environment_key(fn)
        with self._slot(fn, reserved):
            environment = self._take(key) or self._start(fn, credentials())
            try:
                body, failure = environment.function.call(payload)
                log = self._new_log(environment)
            except BaseException:
                environment.function.close()
                raise
            if failure == "timeout":
                environment.function.close()  # Lambda resets an environment that timed out
            else:
                self._give_back(key, environment)
        error = "Unhandled" if failure else None
        return Invocation(body, error, str(fn.version), log, environment.stream)

    @contextmanager
    def _slot(self, fn: Any, reserved: int | None) -> Iterator[None]:
        function = ":".join(str(fn.function_arn).split(":")[:7])
        with self._lock:
            busy = self._busy.get(function, 0)
            if self._running >= self.concurrency or (reserved is not None and busy >= reserved):
                raise Throttled(f"Rate Exceeded. ({fn.function_name}: {busy} running)")
            self._running += 1
            self._busy[function] = busy + 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._busy[function] -= 1

    def _take(self, key: tuple[str, ...]) -> _Environment | None:
        with self._lock:
            idle = self._idle.get(key) or []
            while idle:
                environment = idle.pop()
                if environment.expires > time.time() + 60:
                    return environment
                environment.function.close()
        return None

    def _give_back(self, key: tuple[str, ...], environment: _Environment) -> None:
        environment.used = time.monotonic()
        stale: list[_Environment] = []
        with self._lock:
            self._idle.setdefault(key, []).append(environment)
            everything = sorted(
                ((e.used, k, e) for k, group in self._idle.items() for e in group),
                key=lambda entry: entry[0],
            )
            for _, k, e in everything[: max(0, len(everything) - _IDLE_KEPT)]:
                self._idle[k].remove(e)
                stale.append(e)
        for e in stale:
            e.function.close()

    def _start(self, fn: Any, credentials: Any) -> _Environment:
        code = self._code_dir / f"{fn.code_sha_256 or 'empty'}.zip".replace("/", "_")
        if not code.exists():
            partial = code.with_suffix(f".{uuid.uuid4().hex}")
            partial.write_bytes(fn.code_bytes)
            partial.replace(code)
        stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[{fn.version}]{uuid.uuid4().hex}"
        aws = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            "AWS_SESSION_TOKEN": credentials.session_token,
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        }
        function = LocalLambda(
            code,
            fn.handler,
            dict(fn.environment_vars or {}),
            self.rie,
            aws_variables=aws,
            function_name=fn.function_name,
            timeout_seconds=int(fn.timeout or 3),
            memory_mb=int(fn.memory_size or 128),
            network=self.network if _in_vpc(fn) else None,
        )
        expires = time.time() + _SESSION_SECONDS
        return _Environment(function, stream, expires, function.log_size())

    def _new_log(self, environment: _Environment) -> str:
        text, environment.log_offset = environment.function.log_since(environment.log_offset)
        return text

    def close(self) -> None:
        with self._lock:
            environments = [e for group in self._idle.values() for e in group]
            self._idle.clear()
        for environment in environments:
            environment.function.close()
        shutil.rmtree(self._code_dir, ignore_errors=True)


def _environment_key(fn: Any) -> tuple[str, ...]:
    """What an environment was made for: reused only for the same version, code and settings
    of the same function object (a function made again, after a reset, starts afresh)."""
    settings = json.dumps(
        [fn.handler, fn.environment_vars, fn.timeout, fn.memory_size, fn.role, _in_vpc(fn)],
        sort_keys=True,
    )
    digest = hashlib.sha256(settings.encode()).hexdigest()
    made = f"{id(fn)}:{getattr(fn, 'last_modified', '')}"
    return (fn.function_arn, str(fn.version), str(fn.code_sha_256), digest, made)


def _in_vpc(fn: Any) -> bool:
    """Whether the function is attached to a VPC (has subnets), as Lambda decides it."""
    config = getattr(fn, "_vpc_config", None) or {}
    return bool(config.get("SubnetIds"))


def _reserved_concurrency(backend: Any, fn: Any) -> int | None:
    """The function's reserved concurrency as set now (on ``$LATEST``: moto's versions keep
    a copy of the setting from when they were published)."""
    entry = backend._lambdas._functions.get(fn.function_name) or {}
    value = getattr(entry.get("latest", fn), "reserved_concurrency", None)
    return int(value) if value not in (None, "") else None


# --- inside the moto server --------------------------------------------------------------


def install(
    rie: Path, endpoint: str, enforcer: Any = None, network: PrivateNetwork | None = None
) -> LambdaService:
    """Make moto's ``Invoke`` run functions in ``rie``; their AWS is ``endpoint``.
    ``enforcer``: the IAM enforcement (``smartstack.local.iam.enforcer.Enforcer``), which
    decides whether API Gateway may invoke a function; None when enforcement is off.
    ``network``: the VPC the functions with a ``VpcConfig`` run in; None: they run on the
    machine's network like the others."""
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import LambdaBackend

    class TooManyRequestsException(LambdaClientError):
        code = 429

        def __init__(self, message: str) -> None:
            super().__init__("TooManyRequestsException", message)

    concurrency = int(os.environ.get(CONCURRENCY_VARIABLE) or _DEFAULT_CONCURRENCY)
    pool = FunctionPool(rie, endpoint, concurrency, network)
    atexit.register(pool.close)
    events = ThreadPoolExecutor(concurrency, thread_name_prefix="lambda-event")

    def invoke(
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes | None:
        fn, asked = _routed(self, function_name, qualifier)
        kind = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if kind == "DryRun":
            return b""
        payload = body if isinstance(body, bytes) else (body or "").encode()
        if kind == "Event":
            # Lambda queues the event and answers 202 at once; a throttled event is retried.
            events.submit(_in_background, self, function_name, qualifier, payload)
            return b""
        started = time.monotonic()
        try:
            invocation = pool.invoke(
                fn, payload or b"{}", lambda: _role_session(fn), _reserved_concurrency(self, fn)
            )
        except Throttled as exc:
            metrics.lambda_invocation(fn, asked, str(fn.version), duration_ms=None,
                                      errored=False, throttled=True)  # fmt: skip
            raise TooManyRequestsException(str(exc)) from exc
        measured = (time.monotonic() - started) * 1000
        _write_log(fn, invocation)
        metrics.lambda_invocation(
            fn, asked, invocation.executed_version,
            duration_ms=metrics.reported_duration(invocation.log, measured),
            errored=invocation.function_error is not None,
        )  # fmt: skip
        response_headers["X-Amz-Executed-Version"] = invocation.executed_version
        if invocation.function_error:
            response_headers["X-Amz-Function-Error"] = invocation.function_error
        if headers.get("X-Amz-Log-Type") == "Tail":
            tail = invocation.log.encode()[-_TAIL_BYTES:]
            response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
        response_headers["Content-Length"] = str(len(invocation.payload))
        return invocation.payload

    def _in_background(backend: Any, function_name: str, qualifier: str | None,
                       payload: bytes) -> None:  # fmt: skip
        for attempt in range(_EVENT_ATTEMPTS):
            if attempt:
                time.sleep(2 ** (attempt - 1))
            try:
                invoke(backend, function_name, qualifier, payload, {}, {})
                return
            except TooManyRequestsException:
                continue
            except Exception:  # the function is gone, or its environment did not start
                logging.getLogger(__name__).exception("local Lambda: an event was lost")
                return
        logging.getLogger(__name__).warning(
            "local Lambda: an event for %s was dropped, throttled %d times",
            function_name, _EVENT_ATTEMPTS,
        )  # fmt: skip

    setattr(LambdaBackend, "invoke", invoke)  # noqa: B010 - patching a method
    _qualifier_as_sent()

    def synchronous(backend: Any, function: str, payload: bytes) -> tuple[bytes, dict[str, str]]:
        """An invocation by an AWS service (API Gateway, an event source mapping)."""
        headers: dict[str, str] = {}
        try:
            body = invoke(backend, function, None, payload, {}, headers)
        except TooManyRequestsException as exc:
            raise Throttled(str(exc)) from exc
        return body or b"", headers

    _http_apis(endpoint, synchronous, _api_gateway_may_invoke(enforcer) if enforcer else None)
    if enforcer is not None:
        _execution_roles_lambda_may_assume(enforcer, LambdaClientError)
    event_sources.deliver_on_send_no_more()
    event_sources.mappings_keep_their_alias()
    poller = event_sources.SqsPoller(synchronous)
    atexit.register(poller.stop)
    return LambdaService(pool, poller)


@dataclass(frozen=True)
class LambdaService:
    """What :func:`install` set up; ``start()`` starts what runs by itself (the queue
    poller), once the local AWS's state is in place."""

    pool: FunctionPool
    poller: event_sources.SqsPoller

    def start(self) -> None:
        self.poller.start()


def _execution_roles_lambda_may_assume(enforcer: Any, error: type[Exception]) -> None:
    """``CreateFunction`` and ``UpdateFunctionConfiguration`` refuse a role whose trust
    policy does not let Lambda assume it, as Lambda does (it assumes the role to run the
    function): ``InvalidParameterValueException``."""
    from moto.awslambda.models import LambdaBackend

    from smartstack.local.iam.world import World

    def check(backend: Any, role_arn: str | None) -> None:
        account, region = str(backend.account_id), str(backend.region_name)
        role = World(account, region).iam_role(str(role_arn or "").rsplit("/", 1)[-1])
        trust = str(role.assume_role_policy_document) if role is not None else None
        if not trust or not enforcer.service_may(
            "lambda.amazonaws.com", "sts:AssumeRole", str(role_arn), account, region, {},
            policy=trust,
        ):  # fmt: skip
            raise error(
                "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda.",
            )

    create, update = LambdaBackend.create_function, LambdaBackend.update_function_configuration

    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        check(self, spec.get("Role"))
        return create(self, spec)

    def update_function_configuration(
        self: Any, function_name: str, qualifier: str, body: dict[str, Any]
    ) -> Any:
        if body.get("Role"):
            check(self, body["Role"])
        return update(self, function_name, qualifier, body)

    setattr(LambdaBackend, "create_function", create_function)  # noqa: B010
    setattr(LambdaBackend, "update_function_configuration", update_function_configuration)  # noqa: B010


def _api_gateway_may_invoke(enforcer: Any) -> http_api.MayInvoke:
    """API Gateway's permission to invoke a function: the function's resource policy, for
    the service ``apigateway.amazonaws.com`` with the request's ARN as ``aws:SourceArn``."""

    def may_invoke(api: Any, function: str, source: str) -> bool:
        account, region = str(api.backend.account_id), str(api.backend.region_name)
        arn = function if function.startswith("arn:") else (
            f"arn:aws:lambda:{region}:{account}:function:{function}")  # fmt: skip
        allowed: bool = enforcer.service_may(
            "apigateway.amazonaws.com", "lambda:InvokeFunction", arn, account, region,
            {"aws:SourceArn": source},
        )  # fmt: skip
        return allowed

    return may_invoke


def _http_apis(
    endpoint: str,
    synchronous: Callable[[Any, str, bytes], Any],
    may_invoke: http_api.MayInvoke | None,
) -> None:
    """HTTP APIs get an endpoint on the local AWS, and it answers (smartstack.local.http_api)."""
    from moto.apigatewayv2.models import Api
    from moto.awslambda.models import lambda_backends

    original_init = Api.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.api_endpoint = http_api.local_endpoint(endpoint, self.api_id)

    def invoke(api: Any, function: str, payload: bytes) -> tuple[bytes, dict[str, str]]:
        backend = lambda_backends[api.backend.account_id][api.backend.region_name]
        return synchronous(backend, function, payload)  # type: ignore[no-any-return]

    setattr(Api, "__init__", init)  # noqa: B010 - patching a method
    wrap_moto(http_api.HttpApis(invoke, may_invoke).wrap)


def _qualifier_as_sent() -> None:
    """moto reads ``?qualifier=``; clients send ``?Qualifier=`` (so stock moto runs
    ``$LATEST`` whatever the alias): it gets the parameter as it is sent."""
    from moto.awslambda.responses import LambdaResponse

    original = LambdaResponse.invoke

    def invoke(self: Any) -> Any:
        sent = self.querystring.get("Qualifier")
        if sent and "qualifier" not in self.querystring:
            self.querystring["qualifier"] = sent
        return original(self)

    setattr(LambdaResponse, "invoke", invoke)  # noqa: B010 - patching a method


def _routed(backend: Any, function_name: str, qualifier: str | None) -> tuple[Any, str | None]:
    """The version an invocation runs (an alias's, or one of its weighted versions), and
    the qualifier it was asked for (in the name or ARN, else ``qualifier``)."""
    name, named_qualifier = _split(backend, function_name)
    qualifier = named_qualifier or qualifier
    if qualifier and not qualifier.isdigit() and qualifier != "$LATEST":
        aliases = backend._lambdas._get_function_aliases(name)
        alias = aliases.get(qualifier)
        if alias is not None:
            weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
            version = choose_version(str(alias.function_version), weights, random.random())
            return backend.get_function(name, version), qualifier
    return backend.get_function(name, qualifier), qualifier


def _split(backend: Any, function_name: str) -> tuple[str, str | None]:
    if function_name.startswith("arn:"):
        _, name, qualifier = backend._lambdas.split_function_arn(function_name)
        return name, qualifier or None
    if ":" in function_name:
        name, qualifier = function_name.split(":", 1)
        return name, qualifier
    return function_name, None


def _role_session(fn: Any) -> Any:
    """A session of the function's execution role, as Lambda's service assumes it."""
    return _assume_execution_role(fn.account_id, fn.region, fn.function_name[:64], fn.role)


@persisted("sts.assume_execution_role")
def _assume_execution_role(account: str, region: str, session: str, role: str) -> Any:
    from moto.sts.models import sts_backends

    return sts_backends[account]["aws"].assume_role(
        region_name=region,
        role_session_name=session,
        role_arn=role,
        policy=None,  # type: ignore[arg-type]
        duration=_SESSION_SECONDS,
        external_id=None,  # type: ignore[arg-type]
    )


def _write_log(fn: Any, invocation: Invocation) -> None:
    """The invocation's lines into ``/aws/lambda/<function>``, as Lambda writes them."""
    lines = [line for line in invocation.log.splitlines() if line.strip()]
    if not lines:
        return
    group = fn.logging_config.get("LogGroup") if getattr(fn, "logging_config", None) else None
    group = group or f"/aws/lambda/{fn.function_name}"
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in lines]
    _put_function_log(fn.account_id, fn.region, group, invocation.stream, events)


@persisted("logs.put_function_log")
def _put_function_log(
    account: str, region: str, group: str, stream: str, events: list[dict[str, Any]]
) -> None:
    from moto.logs.models import logs_backends

    logs = logs_backends[account][region]
    with _LOG_LOCK:  # two first invocations at once create the group once
        if group not in logs.groups:
            logs.create_log_group(group, tags={})
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
    logs.put_log_events(group, stream, events)
