"""The HTTP APIs of the local AWS answer requests, as API Gateway's execute-api does.

moto stores an HTTP API with an ``ApiEndpoint`` of AWS's form
(``https://<id>.execute-api.<region>.amazonaws.com``) that nothing answers here.  The
launcher gives each API an endpoint on the local AWS itself,
``<local AWS>/_aws/execute-api/<id>``, and answers it: a request follows the API's
routes (``METHOD /path`` with ``{param}`` and ``{greedy+}``, ``ANY``, ``$default``; the
most specific wins, as API Gateway chooses) to the route's integration, a Lambda proxy
(``AWS_PROXY``, payload format 2.0) invoked through Lambda's own ``Invoke`` (so the
alias's weights, the function's logs and its concurrency hold), and maps the function's
answer as API Gateway does:

* a result with ``statusCode``: that status, ``headers``, ``cookies`` and ``body``
  (base64-decoded when ``isBase64Encoded``); any other JSON result: HTTP 200 with it as
  the JSON body;
* a function error or an invalid result, or a function whose resource policy does not let
  API Gateway invoke it for this request (``lambda:InvokeFunction`` for the service
  ``apigateway.amazonaws.com`` with the request's ``execute-api`` ARN as
  ``aws:SourceArn``, decided by the IAM enforcement's evaluator): 500
  ``{"message":"Internal Server Error"}``;
  no route: 404 ``{"message":"Not Found"}``; more requests than the stage's throttling
  (``throttlingRateLimit``/``throttlingBurstLimit`` of its default route settings, a token
  bucket): 429 ``{"message":"Too Many Requests"}``; Lambda throttled: 503.

A stage named ``$default`` serves the API's root; other stages serve ``/<stage>/…``.
Each request's ``Count``, ``4xx``, ``5xx`` and ``Latency`` go to CloudWatch
(:mod:`smartstack.local.metrics`).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from smartstack.local import metrics
from smartstack.local.wsgi import WsgiApp, read_body

PREFIX = "/_aws/execute-api/"
Invoke = Callable[[Any, str, bytes], tuple[bytes, dict[str, str]]]
# May API Gateway invoke this function (its ARN) for this request (the execute-api ARN)?
MayInvoke = Callable[[Any, str, str], bool]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def message(status: int, text: str) -> Answer:
    body = json.dumps({"message": text}).encode()
    return Answer(status, [("Content-Type", "application/json")], body)


class TokenBucket:
    """API Gateway's throttling: ``rate`` requests a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def route_pattern(path: str) -> re.Pattern[str]:
    """A route's path as a pattern: ``{name}`` one segment, ``{name+}`` the rest."""
    parts = []
    for segment in path.strip("/").split("/") if path.strip("/") else []:
        greedy = re.fullmatch(r"\{([^}]+)\+\}", segment)
        single = re.fullmatch(r"\{([^}]+)\}", segment)
        if greedy:
            parts.append(f"(?P<{_group(greedy.group(1))}>.+)")
        elif single:
            parts.append(f"(?P<{_group(single.group(1))}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$")


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def choose_route(routes: Iterable[Any], method: str, path: str) -> tuple[Any, dict[str, str]]:
    """The route API Gateway picks: an exact path before a parameterised one, fewer
    greedy parameters first, a method before ``ANY``, ``$default`` last."""
    best: tuple[tuple[int, ...], Any, dict[str, str]] | None = None
    default = None
    for route in routes:
        key = str(route.route_key)
        if key == "$default":
            default = route
            continue
        route_method, _, route_path = key.partition(" ")
        if route_method not in (method, "ANY"):
            continue
        match = route_pattern(route_path).match(path)
        if not match:
            continue
        names = re.findall(r"\{([^}+]+)\+?\}", route_path)
        params = {n: unquote(v) for n, v in zip(names, match.groups(), strict=False)}
        greedy = route_path.count("+}")
        rank = (greedy, len(names), -len(route_path), route_method == "ANY")
        if best is None or rank < best[0]:
            best = (rank, route, params)
    if best is not None:
        return best[1], best[2]
    return default, {}


class HttpApis:
    """Answers ``<local AWS>/_aws/execute-api/<id>/…`` from the APIs moto keeps."""

    def __init__(self, invoke: Invoke, may_invoke: MayInvoke | None = None) -> None:
        self.invoke = invoke
        self.may_invoke = may_invoke
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = str(environ.get("PATH_INFO") or "")
            if not path.startswith(PREFIX):
                return app(environ, start_response)
            answer = self.answer(environ)
            start_response(f"{answer.status} {_reason(answer.status)}", answer.headers)
            return [answer.body]

        return serve

    def answer(self, environ: dict[str, Any]) -> Answer:
        rest = str(environ.get("PATH_INFO") or "")[len(PREFIX) :]
        api_id, _, path = rest.partition("/")
        api = find_api(api_id)
        if api is None:
            return message(404, "Not Found")
        stage, path = _stage_of(api, "/" + path)
        if stage is None:
            return message(404, "Not Found")
        started = time.monotonic()
        answer = self._routed(api, stage, path, environ)
        latency = (time.monotonic() - started) * 1000
        metrics.api_request(api, stage.name, answer.status, latency)
        return answer

    def _routed(self, api: Any, stage: Any, path: str, environ: dict[str, Any]) -> Answer:
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        route, params = choose_route(api.routes.values(), method, path)
        if route is None:
            return message(404, "Not Found")
        if not self._admitted(api, stage):
            return message(429, "Too Many Requests")
        integration = _integration(api, route)
        if integration is None or str(integration.integration_type) != "AWS_PROXY":
            return message(500, "Internal Server Error")
        function = _function_of(integration)
        if self.may_invoke is not None and not self.may_invoke(
            api, function, source_arn(api, stage.name, route, method, path)
        ):
            return message(500, "Internal Server Error")  # API Gateway's answer: no permission
        event = proxy_event(api, stage, route, method, path, params, environ)
        try:
            payload, headers = self.invoke(api, function, json.dumps(event).encode())
        except Throttled:
            return message(503, "Service Unavailable")
        except Exception:  # the integration failed: API Gateway's 500, never a traceback
            return message(500, "Internal Server Error")
        if headers.get("X-Amz-Function-Error"):
            return message(500, "Internal Server Error")
        return proxy_answer(payload)

    def _admitted(self, api: Any, stage: Any) -> bool:
        settings = getattr(stage, "default_route_settings", None) or {}
        rate = settings.get("throttlingRateLimit")
        burst = settings.get("throttlingBurstLimit")
        if rate is None and burst is None:
            return True
        key = (api.api_id, stage.name)
        with self._lock:
            bucket = self._buckets.get(key)
            wanted = (
                float(rate if rate is not None else 10000),
                int(burst if burst is not None else 5000),
            )
            if bucket is None or (bucket.rate, bucket.burst) != wanted:
                bucket = self._buckets[key] = TokenBucket(*wanted)
        return bucket.take()


class Throttled(Exception):
    """Lambda refused the invocation for concurrency (its 429)."""


def source_arn(api: Any, stage: str, route: Any, method: str, path: str) -> str:
    """The ``execute-api`` ARN of a request, as API Gateway names itself to Lambda
    (``aws:SourceArn``): ``<api>/<stage>/<METHOD><path>``, ``<api>/<stage>/$default`` for the
    default route."""
    backend = api.backend
    prefix = f"arn:aws:execute-api:{backend.region_name}:{backend.account_id}:{api.api_id}"
    if str(route.route_key) == "$default":
        return f"{prefix}/{stage}/$default"
    return f"{prefix}/{stage}/{method}{path}"


def find_api(api_id: str) -> Any:
    from moto.apigatewayv2.models import apigatewayv2_backends

    for account in list(apigatewayv2_backends.keys()):
        for region in list(apigatewayv2_backends[account].keys()):
            api = apigatewayv2_backends[account][region].apis.get(api_id)
            if api is not None:
                return api
    return None


def _stage_of(api: Any, path: str) -> tuple[Any, str]:
    if "$default" in api.stages:
        return api.stages["$default"], path
    name, _, rest = path.lstrip("/").partition("/")
    return api.stages.get(name), "/" + rest


def _integration(api: Any, route: Any) -> Any:
    target = str(route.target or "")
    if not target.startswith("integrations/"):
        return None
    return api.integrations.get(target.split("/", 1)[1])


def _function_of(integration: Any) -> str:
    """The function (ARN, qualified or not) an integration URI names."""
    uri = str(integration.integration_uri)
    found = re.search(r"/functions/(arn:[^/]+)/invocations", uri)
    return found.group(1) if found else uri


def proxy_event(
    api: Any,
    stage: Any,
    route: Any,
    method: str,
    path: str,
    params: dict[str, str],
    environ: dict[str, Any],
) -> dict[str, Any]:
    """The payload format 2.0 event of a request."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
            headers[name] = f"{headers[name]},{value}" if name in headers else str(value)
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    raw_query = str(environ.get("QUERY_STRING") or "")
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    body = read_body(environ)
    binary = not _is_text(body, headers.get("content-type", ""))
    now = time.time()
    domain = str(environ.get("HTTP_HOST") or "localhost")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": str(route.route_key),
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": str(api.backend.account_id),
            "apiId": api.api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": str(environ.get("SERVER_PROTOCOL") or "HTTP/1.1"),
                "sourceIp": str(environ.get("REMOTE_ADDR") or "127.0.0.1"),
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": str(route.route_key),
            "stage": stage.name,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": bool(body) and binary,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if stage.stage_variables:
        event["stageVariables"] = dict(stage.stage_variables)
    if body:
        event["body"] = base64.b64encode(body).decode() if binary else body.decode()
    return event


def proxy_answer(payload: bytes) -> Answer:
    """API Gateway's answer for a function's result (payload format 2.0)."""
    try:
        result = json.loads(payload) if payload else None
    except ValueError:
        return message(500, "Internal Server Error")
    if not isinstance(result, dict) or "statusCode" not in result:
        body = json.dumps(result).encode() if result is not None else b""
        return Answer(200, [("Content-Type", "application/json")], body)
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return message(500, "Internal Server Error")
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(v)) for v in values)
    headers.extend(("Set-Cookie", str(c)) for c in result.get("cookies") or ())
    raw = result.get("body")
    if raw is None:
        body = b""
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(str(raw))
    else:
        body = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return Answer(status, headers, body)


def _is_text(body: bytes, content_type: str) -> bool:
    if not body:
        return True
    kind = content_type.split(";")[0].strip().lower()
    if (
        kind.startswith("text/")
        or kind.endswith(("json", "xml", "javascript"))
        or (kind == "application/x-www-form-urlencoded")
    ):
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not kind


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def local_endpoint(base: str, api_id: str) -> str:
    return f"{base.rstrip('/')}{PREFIX}{api_id}"
