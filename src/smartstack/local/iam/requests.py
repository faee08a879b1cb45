"""An HTTP request to the local AWS, read as AWS reads it.

From the WSGI environ: the credentials (SigV4 header or presigned query, SigV2), the
service (the signing name of the credential scope, refined by the path), the protocol,
the operation (``X-Amz-Target``, the query ``Action``, the CBOR path, or the REST route
of the service's botocore model) and the parameters by their botocore member names.

The body is read only when a rule asks for it and is put back for moto.
"""

from __future__ import annotations

import io
import json
import re
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from smartstack.local.iam.cbor import CborError, decode_cbor

# The signing name of the credential scope -> botocore's service name.
_SIGNING_NAMES = {
    "monitoring": "cloudwatch",
    "tagging": "resourcegroupstaggingapi",
    "email": "ses",
    "states": "stepfunctions",
    "events": "events",
}
# Services whose operation is in the path of a REST route of their model.
_CBOR_PATH = re.compile(r"^/service/[^/]+/operation/([A-Za-z0-9]+)$")
_QUERY_SERVICES = frozenset({"sts", "iam", "sns", "ec2", "rds", "cloudwatch", "sqs", "elasticache",
                             "autoscaling", "cloudformation", "elb", "elbv2", "ses", "sdb",
                             "redshift", "neptune", "docdb"})  # fmt: skip


@dataclass(frozen=True)
class Credentials:
    access_key: str
    session_token: str | None
    region: str | None
    signing_name: str | None


def read_credentials(environ: dict[str, Any], query: dict[str, list[str]]) -> Credentials | None:
    """The access key (and token, region, signing name) a request is signed with."""
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN") or _first(query, "X-Amz-Security-Token")
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth.startswith("AWS4-"):
        match = re.search(r"Credential=([^,\s]+)", auth)
        if match:
            return _from_scope(match.group(1), token)
    elif auth.startswith("AWS "):
        return Credentials(auth[4:].split(":", 1)[0], token, None, None)
    scope = _first(query, "X-Amz-Credential")
    if scope:
        return _from_scope(scope, token)
    key = _first(query, "AWSAccessKeyId")
    if key:
        return Credentials(key, token, None, None)
    return None


def _from_scope(scope: str, token: str | None) -> Credentials:
    parts = unquote(scope).split("/")
    if len(parts) >= 5:
        return Credentials(parts[0], token, parts[2], parts[3].lower())
    return Credentials(parts[0], token, None, None)


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


class AwsRequest:
    """One request: what it is (lazily), and its body kept for moto."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if raw:
            split = urlsplit(raw)
            self.raw_path, query_string = split.path or "/", split.query
        else:
            self.raw_path = environ.get("PATH_INFO", "/") or "/"
            query_string = environ.get("QUERY_STRING", "")
        self.raw_query = query_string
        self.query = parse_qs(query_string, keep_blank_values=True)
        self.path = unquote(self.raw_path)
        self.credentials = read_credentials(environ, self.query)
        self.region = (self.credentials and self.credentials.region) or "us-east-1"
        self.secure = environ.get("wsgi.url_scheme") == "https"
        self._body: bytes | None = None

    # --- headers and body -----------------------------------------------------------------

    def header(self, name: str) -> str | None:
        key = "HTTP_" + name.upper().replace("-", "_")
        if name.lower() in ("content-type", "content-length"):
            key = name.upper().replace("-", "_")
        value = self.environ.get(key)
        return None if value is None else str(value)

    @property
    def body(self) -> bytes:
        """The body, read once and put back so moto reads the same bytes."""
        if self._body is None:
            stream = self.environ.get("wsgi.input")
            length = self.environ.get("CONTENT_LENGTH")
            if stream is None:
                data = b""
            elif length:
                data = stream.read(int(length))
            elif self.environ.get("wsgi.input_terminated"):
                data = stream.read()
            else:
                data = b""
            self._body = data
            self.environ["wsgi.input"] = io.BytesIO(data)
            self.environ["CONTENT_LENGTH"] = str(len(data))
        return self._body

    # --- what it is -----------------------------------------------------------------------

    @cached_property
    def host(self) -> str:
        return str(self.environ.get("HTTP_HOST", "")).split(":", 1)[0].lower()

    @cached_property
    def service(self) -> str | None:
        signing = self.credentials.signing_name if self.credentials else None
        target = self.header("X-Amz-Target") or ""
        if signing is None:
            if target.startswith("DynamoDB"):
                return "dynamodb"
            if self._form_action():
                return "sts"  # unsigned query calls: AssumeRoleWithWebIdentity / WithSAML
            return None
        if signing == "s3":
            return "s3control" if self.path.startswith("/v20180820") else "s3"
        if signing == "apigateway":
            return "apigatewayv2" if self.path.startswith("/v2/") else "apigateway"
        if signing == "bedrock":
            if re.match(r"^/model/[^/]+/(invoke|converse)", self.path):
                return "bedrock-runtime"
            return "bedrock"
        return _SIGNING_NAMES.get(signing, signing)

    @cached_property
    def protocol(self) -> str:
        model = service_model(self.service) if self.service else None
        modelled = str(model.metadata.get("protocol", "")) if model is not None else ""
        # A REST service is routed by method and path, by moto as by AWS: a caller's
        # X-Amz-Target or Action must not make it look like another operation.
        if modelled.startswith("rest"):
            return modelled
        # The CBOR protocol's route names the operation, whatever X-Amz-Target says: the
        # launcher's translator runs the route's (a target too is an ambiguity, refused).
        if _CBOR_PATH.match(self.path) and self.header("smithy-protocol") == "rpc-v2-cbor":
            return "cbor"
        if self.header("X-Amz-Target"):
            return "json"
        if _CBOR_PATH.match(self.path) and self.method == "POST":
            return "cbor"
        if self.service in _QUERY_SERVICES and self._form_action():
            return "ec2" if self.service == "ec2" else "query"
        return "query" if self._form_action() else "unknown"

    @cached_property
    def _form_actions(self) -> tuple[str | None, str | None]:
        """The Action of the query string and of a form body."""
        in_body = None
        content_type = self.header("content-type") or ""
        if self.method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
            in_body = _first(parse_qs(self.body.decode("utf-8", "replace")), "Action")
        return _first(self.query, "Action"), in_body

    def _form_action(self) -> str | None:
        in_query, in_body = self._form_actions
        return in_body or in_query

    @cached_property
    def ambiguity(self) -> str | None:
        """Why the request names two operations, if it does: it could be authorized as one
        and run as the other (moto reads the body's Action first, a REST service's Action
        parameter or X-Amz-Target before its route), so it is refused."""
        in_query, in_body = self._form_actions
        if in_query and in_body and in_query != in_body:
            return f"Action {in_query!r} in the query and {in_body!r} in the body"
        if self.protocol == "cbor":
            target = self.header("X-Amz-Target")
            for named in (in_query, in_body, target and target.rsplit(".", 1)[-1]):
                if named and named != self.operation:
                    return f"{named!r} named on the route of {self.operation}"
        routed = self.operation if self.protocol.startswith("rest") else None
        if routed:  # a REST service's operation is its route's
            target = self.header("X-Amz-Target")
            for named in (in_query, target and target.rsplit(".", 1)[-1]):
                if named and named != routed:
                    return f"{named!r} named on the route of {routed}"
        return None

    @cached_property
    def operation(self) -> str | None:
        target = self.header("X-Amz-Target")
        if target and not self.protocol.startswith("rest") and self.protocol != "cbor":
            return target.rsplit(".", 1)[-1]
        if self.protocol == "cbor":
            match = _CBOR_PATH.match(self.path)
            return match.group(1) if match else None
        if self.protocol in ("query", "ec2"):
            return self._form_action()
        if self.protocol.startswith("rest") and self.service:
            route = _routes(self.service).match(self)
            if route is not None:
                self._labels = route[1]
                return route[0]
        return None

    @cached_property
    def bucket_in_host(self) -> str | None:
        """S3 virtual-hosted style: ``<bucket>.localhost`` or ``<bucket>.s3…amazonaws.com``."""
        host = self.host
        for suffix in (".localhost", ".localhost.localstack.cloud"):
            if host.endswith(suffix) and not re.fullmatch(r"\d{12}", host[: -len(suffix)]):
                return host[: -len(suffix)]
        match = re.match(r"^(.+)\.s3[.-]", host)
        return match.group(1) if match else None

    def path_segments(self) -> list[str]:
        """The raw (still percent-encoded) path segments, the virtual-host bucket first."""
        segments = [s for s in self.raw_path.split("/")]
        segments = segments[1:] if segments and segments[0] == "" else segments
        if segments == [""]:
            segments = []
        if self.service == "s3" and self.bucket_in_host:
            segments = [self.bucket_in_host, *segments]
        return segments

    # --- parameters -----------------------------------------------------------------------

    @cached_property
    def params(self) -> dict[str, Any]:
        """The input by botocore member names (query protocol: the flattened form keys)."""
        if self.protocol == "json":
            try:
                loaded = json.loads(self.body or b"{}")
            except ValueError:
                return {}
            return loaded if isinstance(loaded, dict) else {}
        if self.protocol == "cbor":
            try:
                decoded = decode_cbor(self.body) if self.body else {}
            except CborError:
                return {}
            return decoded if isinstance(decoded, dict) else {}
        if self.protocol in ("query", "ec2"):
            form: dict[str, str] = {k: v[0] for k, v in self.query.items() if v}
            content_type = self.header("content-type") or ""
            if content_type.startswith("application/x-www-form-urlencoded"):
                parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
                form.update({k: v[0] for k, v in parsed.items() if v})
            return form
        if self.protocol.startswith("rest") and self.operation:
            return _rest_params(self)
        return {}


# --- botocore models, loaded once per service -------------------------------------------------

_models_lock = threading.Lock()
_models: dict[str, Any] = {}
_route_tables: dict[str, _Routes] = {}


def service_model(service: str) -> Any:
    with _models_lock:
        if service not in _models:
            import botocore.session
            from botocore.exceptions import UnknownServiceError

            try:
                _models[service] = botocore.session.get_session().get_service_model(service)
            except UnknownServiceError:
                _models[service] = None
        return _models[service]


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    segments: tuple[str, ...]  # literal, "{label}" or "{label+}"
    query: tuple[tuple[str, str | None], ...]  # required query keys (and values)

    @property
    def score(self) -> tuple[int, int, int]:
        literals = sum(1 for s in self.segments if not s.startswith("{"))
        greedy = sum(1 for s in self.segments if s.endswith("+}"))
        return (len(self.query), literals, -greedy)


class _Routes:
    def __init__(self, model: Any) -> None:
        self.routes: list[_Route] = []
        for name in model.operation_names:
            http = model.operation_model(name).http
            uri = str(http.get("requestUri", "/"))
            path, _, query = uri.partition("?")
            required: list[tuple[str, str | None]] = []
            for item in filter(None, query.split("&")):
                key, eq, value = item.partition("=")
                if key == "x-id":
                    continue  # botocore's hint; other SDKs do not send it
                required.append((key, value if eq else None))
            segments = tuple(s for s in path.split("/") if s != "")
            self.routes.append(
                _Route(name, str(http.get("method", "GET")), segments, tuple(required))
            )
        self.routes.sort(key=lambda r: r.score, reverse=True)

    def match(self, request: AwsRequest) -> tuple[str, dict[str, str]] | None:
        segments = [s for s in request.path_segments()]
        while segments and segments[-1] == "":
            segments.pop()
        x_id = _first(request.query, "x-id")
        candidates: list[tuple[str, dict[str, str]]] = []
        for route in self.routes:
            if route.method != request.method:
                continue
            if not all(
                k in request.query and (v is None or request.query[k][0] == v)
                for k, v in route.query
            ):
                continue
            labels = _match_segments(route.segments, segments)
            if labels is None:
                continue
            if x_id and x_id == route.operation:
                return route.operation, labels
            candidates.append((route.operation, labels))
        if not candidates:
            return None
        if request.service == "s3":
            return _s3_refine(request, candidates)
        return candidates[0]


def _match_segments(template: tuple[str, ...], actual: list[str]) -> dict[str, str] | None:
    labels: dict[str, str] = {}
    for i, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            rest = actual[i:]
            if not rest:
                return None
            labels[part[1:-2]] = unquote("/".join(rest))
            return labels
        if i >= len(actual):
            return None
        if part.startswith("{") and part.endswith("}"):
            if actual[i] == "":
                return None
            labels[part[1:-1]] = unquote(actual[i])
        elif part != actual[i]:
            return None
    return labels if len(actual) == len(template) else None


def _s3_refine(
    request: AwsRequest, candidates: list[tuple[str, dict[str, str]]]
) -> tuple[str, dict[str, str]]:
    """S3 routes that share a method and path: tell them apart by a header."""
    names = [c[0] for c in candidates]
    copying = request.header("x-amz-copy-source") is not None
    for wanted in ("UploadPartCopy", "CopyObject") if copying else ():
        if wanted in names:
            return candidates[names.index(wanted)]
    for unwanted in ("UploadPartCopy", "CopyObject"):
        if unwanted in names and len(candidates) > 1:
            i = names.index(unwanted)
            candidates, names = candidates[:i] + candidates[i + 1 :], names[:i] + names[i + 1 :]
    return candidates[0]


def _routes(service: str) -> _Routes:
    with _models_lock:
        table = _route_tables.get(service)
    if table is None:
        model = service_model(service)
        table = _Routes(model) if model is not None else _Routes.__new__(_Routes)
        if model is None:
            table.routes = []
        with _models_lock:
            _route_tables[service] = table
    return table


def _rest_params(request: AwsRequest) -> dict[str, Any]:
    model = service_model(request.service or "")
    operation = model.operation_model(request.operation)
    labels: dict[str, str] = getattr(request, "_labels", {})
    params: dict[str, Any] = {}
    shape = operation.input_shape
    if shape is None:
        return params
    body: dict[str, Any] = {}
    if request.protocol == "rest-json" and request.method in ("POST", "PUT", "PATCH"):
        try:
            loaded = json.loads(request.body or b"{}")
            body = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            body = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in labels:
                params[name] = labels[wire]
        elif location == "querystring":
            values = request.query.get(wire)
            if values:
                params[name] = values if member.type_name == "list" else values[0]
        elif location == "header":
            value = request.header(wire)
            if value is not None:
                params[name] = value
        elif location == "headers":
            prefix = "HTTP_" + wire.upper().replace("-", "_")
            found = {
                k[len(prefix) :].lower().replace("_", "-"): v
                for k, v in request.environ.items()
                if k.startswith(prefix)
            }
            if found:
                params[name] = found
        elif wire in body:
            params[name] = body[wire]
        elif name in body:
            params[name] = body[name]
    return params
