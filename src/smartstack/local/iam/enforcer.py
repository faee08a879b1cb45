"""The WSGI middleware in front of moto: authenticate, map, decide, refuse or pass on.

For each request (moto's own ``/moto-api`` and CORS preflights pass untouched):

1. the access key of its signature -> the principal (:mod:`.principals`), else the AWS
   authentication error of the protocol;
2. the service and operation -> the rule (:mod:`.rules`), else
   ``local IAM: no mapping for <service>:<Operation>`` (no silent allow);
3. each check the rule makes -> a decision of the evaluator (:mod:`.evaluator`) over the
   principal's identity policies, its permissions boundary and session policy, and the
   resource's policy; the first one not allowed is the AWS refusal (:mod:`.responses`);
4. allowed: every (principal, action, resource) goes to ``iam-allowed.jsonl`` in the
   server's state directory (once per server process), and moto handles the request.

In ``audit`` mode the decisions are made and recorded (refusals to ``iam-denied.jsonl``)
but every request goes on to moto.

``GET /moto-api/smartstack/iam`` answers the mode, the decision times and the refusals
(for tests and benchmarks; see ``_stats``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from smartstack.local.iam import (
    ALLOWED_LOG,
    AUDIT,
    DENIED_LOG,
    ENFORCE,
    STATS_PATH,
    iamdata,
    responses,
    signature,
    web_identity,
)
from smartstack.local.iam.evaluator import ERROR, Decision, EvaluatorError, NodeEvaluator, Question
from smartstack.local.iam.principals import AuthenticationError, Authenticator, Principal
from smartstack.local.iam.requests import AwsRequest
from smartstack.local.iam.rules import (
    Call,
    Check,
    Unresolved,
    resource_policy,
    resource_tags,
    rule_for,
)
from smartstack.local.iam.world import World
from smartstack.local.oidc import TokenRejected
from smartstack.local.wsgi import WsgiApp, wrap_moto

log = logging.getLogger("smartstack.local.iam")
_READ_PREFIXES = ("Get", "List", "Describe", "Head", "Simulate", "Generate")
# Reads (JSON protocol: moto routes them by X-Amz-Target, as the enforcer names them) that
# may name a key that does not exist yet: bootstrap asks for the state key's alias first.
_NOT_FOUND_READS = frozenset(
    ("kms", operation)
    for operation in ("DescribeKey", "GetKeyPolicy", "GetKeyRotationStatus", "ListResourceTags")
)


@dataclass(frozen=True)
class Verdict:
    principal: Principal | None
    checks: tuple[Check, ...]
    refusal: responses.ErrorResponse | None = None
    message: str = ""
    # A read that names nothing that exists (or lacks what names it): moto answers its
    # error (NotFound, a validation error) as AWS would, but an answer of success is
    # replaced by ``refusal``: never an allow by accident.
    unresolved: bool = False


class Enforcer:
    def __init__(
        self,
        mode: str,
        state_dir: Path | None,
        evaluator: NodeEvaluator | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.mode = mode
        self.evaluator = evaluator or NodeEvaluator()
        self.authenticator = authenticator or Authenticator()
        self.state_dir = state_dir
        self._log_lock = threading.Lock()
        self._recorded: set[tuple[str, str, str]] = set()
        self._denied: set[tuple[str, str]] = set()
        # (seconds, whether the evaluator was asked) per request decided
        self.timings: deque[tuple[float, bool]] = deque(maxlen=100_000)
        self.requests = 0
        # every refusal (audit mode: every would-be refusal), newest last, for tests and reports
        self.refusals: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.refusals_total = 0  # numbers them: a reader asks for those after the last it saw

    # --- WSGI ---------------------------------------------------------------------------

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(
            environ: dict[str, Any], start_response: Callable[..., Any]
        ) -> Iterable[bytes]:
            return self.handle(environ, start_response, app)

        return middleware

    def handle(
        self, environ: dict[str, Any], start_response: Callable[..., Any], app: WsgiApp
    ) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path == STATS_PATH:
            return self._stats(str(environ.get("QUERY_STRING", "")), start_response)
        if path.startswith("/moto-api") or path == "/favicon.ico" or path.startswith("/latest/"):
            if path.startswith("/moto-api/reset"):
                self.authenticator.forget_sessions()
            return app(environ, start_response)
        if environ.get("REQUEST_METHOD") == "OPTIONS":
            # A CORS preflight is answered here: moto would run the operation it names.
            start_response("200 OK", [("Content-Length", "0"),
                                      ("Access-Control-Allow-Origin", "*"),
                                      ("Access-Control-Allow-Methods", "*"),
                                      ("Access-Control-Allow-Headers", "*")])  # fmt: skip
            return [b""]
        request = AwsRequest(environ)
        started, asked = time.perf_counter(), self.evaluator.evaluations
        try:
            verdict = self.authorize(request)
        except Exception as exc:  # never an allow by accident
            log.exception("local IAM: authorizing %s failed", request.path)
            message = f"local IAM: could not authorize the request: {exc}"
            verdict = Verdict(None, (), responses.refusal(request, message), message)
        self.timings.append((time.perf_counter() - started, self.evaluator.evaluations > asked))
        self.requests += 1
        if verdict.unresolved:
            return self._only_failures(request, verdict, environ, start_response, app)
        if verdict.refusal is not None:
            refused = self._refused(request, verdict, start_response)
            if refused is not None:
                return refused
        elif verdict.principal is not None:
            self._record_allowed(verdict.principal, verdict.checks)
        return self._after(request, verdict, environ, start_response, app)

    def _only_failures(
        self,
        request: AwsRequest,
        verdict: Verdict,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        app: WsgiApp,
    ) -> Iterable[bytes]:
        """moto's answer when it is an error; its success is refused (audit: recorded)."""
        captured: list[tuple[str, Any]] = []

        def capture(status: str, headers: Any, exc_info: Any = None) -> Callable[..., Any]:
            captured.append((status, headers))
            return lambda _data: None

        body = b"".join(app(environ, capture))
        status, headers = captured[0] if captured else ("500 Internal Server Error", [])
        if status[:1] == "2" and verdict.refusal is not None:
            refused = self._refused(request, verdict, start_response)
            if refused is not None:
                return refused
        start_response(status, headers)
        return [body]

    def _refused(
        self, request: AwsRequest, verdict: Verdict, start_response: Callable[..., Any]
    ) -> Iterable[bytes] | None:
        """Record the refusal; its answer when enforcing, None in audit mode (go on)."""
        principal = verdict.principal.arn if verdict.principal else None
        self._record_denied(principal, request, verdict.message)
        if self.mode != ENFORCE or verdict.refusal is None:
            return None
        error = verdict.refusal
        start_response(error.status, [*error.headers, ("Content-Length", str(len(error.body)))])
        return [error.body]

    def _after(
        self,
        request: AwsRequest,
        verdict: Verdict,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        app: WsgiApp,
    ) -> Iterable[bytes]:
        service, operation = request.service, request.operation or ""
        if service == "iam" and not operation.startswith(_READ_PREFIXES):
            result = list(app(environ, start_response))
            self.authenticator.invalidate()
            return result
        if service == "sts" and operation == "AssumeRole":
            status: list[str] = []

            def capture(s: str, headers: Any, exc_info: Any = None) -> Any:
                status.append(s)
                return (
                    start_response(s, headers, exc_info) if exc_info else start_response(s, headers)
                )

            body = b"".join(app(environ, capture))
            if status and status[0].startswith("200"):
                self._remember_session(request, body)
            return [body]
        return app(environ, start_response)

    def _remember_session(self, request: AwsRequest, body: bytes) -> None:
        import re

        from smartstack.local.iam.principals import SessionFacts
        from smartstack.local.iam.rules import query_tags

        match = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", body)
        if not match:
            return
        params = request.params
        transitive = [v for k, v in params.items() if k.startswith("TransitiveTagKeys.member.")]
        caller = request.credentials
        chained = self.authenticator.sessions.get(caller.access_key) if caller else None
        facts = SessionFacts(  # a source identity passes from session to session, unchanged
            source_identity=(chained and chained.source_identity) or params.get("SourceIdentity"),
            tags=query_tags(params, "Tags"),
            transitive_tag_keys=tuple(transitive),
        )
        self.authenticator.sessions[match.group(1).decode()] = facts

    # --- the decision -------------------------------------------------------------------

    def authorize(self, request: AwsRequest) -> Verdict:
        if request.ambiguity:
            return self._refuse(request, None, (), f"local IAM: refused: {request.ambiguity}")
        credentials = request.credentials
        if (request.service, request.operation) == ("sts", "AssumeRoleWithWebIdentity"):
            try:  # the token is the caller, signed or not
                principal = web_identity.federated_principal(request, self.state_dir)
            except TokenRejected as exc:
                error = responses.token_rejected(exc.code, exc.message)
                return Verdict(None, (), error, f"web identity token: {exc.message}")
        elif credentials is None:
            if request.service == "sts" and request.operation:
                return self._refuse(request, None, (), _no_mapping(request))
            return Verdict(None, (), responses.unauthenticated(request, "missing"), "not signed")
        else:
            try:
                principal = self.authenticator.principal(
                    credentials.access_key, credentials.session_token
                )
                signature.verify(request, self.authenticator.secret(credentials.access_key) or "")
            except AuthenticationError as exc:
                return Verdict(
                    None,
                    (),
                    responses.unauthenticated(request, exc.kind),
                    f"credentials: {exc.kind}",
                )
            except signature.SignatureError as exc:
                return Verdict(
                    None,
                    (),
                    responses.unauthenticated(request, exc.kind),
                    f"signature: {exc.detail}",
                )
        if not request.service or not request.operation:
            return self._refuse(request, principal, (), _no_mapping(request))
        rule = rule_for(request.service, request.operation)
        if rule is None:
            return self._refuse(request, principal, (), _no_mapping(request))
        world = World(principal.account_id, request.region)
        try:
            checks = tuple(rule.build(Call(request, principal, world)))
        except Unresolved as exc:
            refused = self._refuse(request, principal, (), f"local IAM: cannot authorize {exc}")
            # A read of a key that does not exist: moto answers its NotFound, as AWS does.
            # Only these: anything else could change moto's state before its answer is seen.
            # The admin, who may do anything to what has no resource policy (and what cannot
            # be resolved has none), gets moto's answer to any request: a NotFound for what
            # is gone (a repeated delete in a destroy), as on AWS.
            read = (request.service, request.operation) in _NOT_FOUND_READS
            unresolved = read or principal.allow_all
            return Verdict(principal, (), refused.refusal, refused.message, unresolved=unresolved)
        except Exception as exc:  # a rule that fails refuses: never an allow by accident
            log.exception(
                "local IAM: the rule for %s:%s failed", request.service, request.operation
            )
            return self._refuse(
                request, principal, (),
                f"local IAM: could not map {request.service}:{request.operation}: {exc}",
            )  # fmt: skip
        if rule.free:
            return Verdict(principal, checks)
        decided: list[Check] = []
        for check in checks:
            check = _normalised(check)
            try:
                decision, policy = self._decide(request, principal, world, check)
            except EvaluatorError as exc:
                return self._refuse(request, principal, (), f"local IAM: no decision: {exc}")
            if not decision.allowed:
                return self._refuse(
                    request, principal, (), _message(principal, check, decision, policy)
                )
            decided.append(check)
        return Verdict(principal, tuple(decided))

    def service_may(
        self, service: str, action: str, resource: str, account: str, region: str,
        context: dict[str, Any], policy: str | None = None,
    ) -> bool:  # fmt: skip
        """Whether the AWS service principal ``service`` (``apigateway.amazonaws.com``) may
        ``action`` on ``resource``, as when API Gateway invokes a function: a service has no
        identity policies, so only the resource's own policy (``policy``, else the one the
        rules read for ``resource``) can allow it.  (In audit mode a refusal is recorded and
        allowed.)"""
        if policy is None:
            policy = resource_policy(World(account, region), resource)
        question = Question(
            principal=service, action=action, resource=resource, account_id=account,
            context={"aws:PrincipalIsAWSService": "true", "aws:SourceAccount": account,
                     **context},
            identity_policies=(), permission_boundaries=None, resource_policy=policy,
            session_policy=None,
        )  # fmt: skip
        try:
            allowed = policy is not None and self.evaluator.decide(question).allowed
        except EvaluatorError:
            allowed = False
        if not allowed:
            message = (
                f"{service} is not authorized to perform: {action} on resource: {resource} "
                "because no resource-based policy allows it"
            )
            with self._log_lock:
                self.refusals_total += 1
                self.refusals.append({"seq": self.refusals_total, "principal": service,
                                      "operation": action, "message": message})  # fmt: skip
        return allowed or self.mode == AUDIT

    def _refuse(
        self,
        request: AwsRequest,
        principal: Principal | None,
        checks: tuple[Check, ...],
        message: str,
    ) -> Verdict:
        return Verdict(principal, checks, responses.refusal(request, message), message)

    def _decide(
        self, request: AwsRequest, principal: Principal, world: World, check: Check
    ) -> tuple[Decision, str | None]:
        if check.resource_policy is not None or not check.lookup_policy:
            policy = check.resource_policy
        else:
            policy = resource_policy(world, check.resource)
        if principal.allow_all and policy is None:
            return Decision("Allowed"), None
        text = principal.policy_text + "\n" + (policy or "").lower()
        context: dict[str, Any] = {
            "aws:SecureTransport": "true" if request.secure else "false",
            "aws:RequestedRegion": request.region,
            "aws:SourceIp": str(request.environ.get("REMOTE_ADDR", "127.0.0.1")),
            "aws:ViaAWSService": "false",
            "aws:PrincipalIsAWSService": "false",
            **principal.context,
            **check.context,
        }
        if "aws:currenttime" in text or "aws:epochtime" in text:
            now = datetime.now(UTC)
            context["aws:CurrentTime"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
            context["aws:EpochTime"] = str(int(now.timestamp()))
        if "resourcetag" in text and check.resource != "*":
            tags = check.tags if check.tags is not None else resource_tags(world, check.resource)
            prefix = check.action.split(":", 1)[0]
            for key, value in tags.items():
                context[f"aws:ResourceTag/{key}"] = value
                if f"{prefix}:resourcetag/" in text:
                    context[f"{prefix}:ResourceTag/{key}"] = value
        question = Question(
            principal=principal.arn,
            action=check.action,
            resource=check.resource,
            account_id=principal.account_id,
            context=context,
            identity_policies=principal.identity_policies,
            permission_boundaries=principal.permission_boundaries,
            resource_policy=policy,
            session_policy=principal.session_policy,
        )
        return self.evaluator.decide(question), policy

    # --- records ------------------------------------------------------------------------

    def _record_allowed(self, principal: Principal, checks: Iterable[Check]) -> None:
        if self.state_dir is None:
            return
        lines = []
        with self._log_lock:
            for check in checks:
                key = (principal.arn, check.action, check.resource)
                if key in self._recorded:
                    continue
                self._recorded.add(key)
                lines.append(json.dumps({
                    "principal": principal.arn, "principalArn": principal.principal_arn,
                    "action": check.action, "resource": check.resource,
                }))  # fmt: skip
            if lines:
                with (self.state_dir / ALLOWED_LOG).open("a") as out:
                    out.write("\n".join(lines) + "\n")

    def _record_denied(self, principal: str | None, request: AwsRequest, message: str) -> None:
        operation = f"{request.service}:{request.operation}"
        with self._log_lock:
            self.refusals_total += 1
            self.refusals.append({"seq": self.refusals_total, "principal": principal,
                                  "operation": operation, "message": message})  # fmt: skip
        if self.state_dir is None:
            return
        with self._log_lock:
            if (operation, message) in self._denied:
                return
            self._denied.add((operation, message))
            with (self.state_dir / DENIED_LOG).open("a") as out:
                out.write(json.dumps({"principal": principal, "operation": operation,
                                      "message": message, "mode": self.mode}) + "\n")  # fmt: skip

    def _stats(self, query: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
        """``?brief``: the mode and counts; ``?refusals_since=N``: the refusals numbered
        above N; else everything, decision times included."""
        params = parse_qs(query, keep_blank_values=True)
        answer: dict[str, Any] = {
            "mode": self.mode,
            "requests": self.requests,
            "evaluations": self.evaluator.evaluations,
            "refusals_total": self.refusals_total,
        }
        if "refusals_since" in params:
            since = int(params["refusals_since"][0] or 0)
            answer["refusals"] = [r for r in list(self.refusals) if r["seq"] > since]
        elif "brief" not in params:
            timings = list(self.timings)  # in the order decided
            answer.update(
                evaluator_starts=self.evaluator.starts,
                decision_seconds=[t for t, _ in timings],
                asked_evaluator=[a for _, a in timings],
                refusals=list(self.refusals),
            )
        body = json.dumps(answer).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]


def _normalised(check: Check) -> Check:
    """Actions without resource-level permissions are authorized on ``*``, as AWS does."""
    if check.resource != "*" and iamdata.wildcard_only(check.action):
        return Check(check.action, "*", check.context, check.resource_policy, False, {})
    return check


def _no_mapping(request: AwsRequest) -> str:
    operation = request.operation or f"{request.method} {request.path}"
    return f"local IAM: no mapping for {request.service or 'unknown'}:{operation}"


def _message(principal: Principal, check: Check, decision: Decision, policy: str | None) -> str:
    if principal.kind == "web-identity":  # STS names neither the provider nor the role
        return web_identity.NOT_AUTHORIZED
    base = (
        f"User: {principal.arn} is not authorized to perform: {check.action} "
        f"on resource: {check.resource}"
    )
    if decision.decision == ERROR:
        return f"{base} because the local IAM evaluator could not decide: {decision.error}"
    reasons = decision.reasons
    names = {"identity": "an identity-based policy", "resource": "a resource-based policy",
             "pb": "a permissions boundary", "session": "a session policy"}  # fmt: skip
    for reason in reasons:
        if reason.denial_type == "Explicit":
            return f"{base} with an explicit deny in {names.get(reason.policy_type, 'a policy')}"
    implicit = {r.policy_type for r in reasons}
    order = (
        ("identity", "identity-based policy"),
        ("pb", "permissions boundary"),
        ("session", "session policy"),
        ("resource", "resource-based policy"),
    )
    for kind, words in order:
        if kind in implicit:
            return f"{base} because no {words} allows the {check.action} action"
    return f"{base} because no identity-based policy allows the {check.action} action"


def install(mode: str, state_dir: Path | None, timeout: float = 10.0) -> Enforcer | None:
    """Put the enforcer in front of moto's dispatcher (in the moto server process), with
    the evaluator started (a missing Node or evaluator stops the server with the reason)."""
    if mode not in (ENFORCE, AUDIT):
        return None
    evaluator = NodeEvaluator(timeout=timeout)
    evaluator.start()
    enforcer = Enforcer(mode, state_dir, evaluator)
    wrap_moto(enforcer.wrap)
    _no_second_bucket_policy_check()
    return enforcer


def _no_second_bucket_policy_check() -> None:
    """moto applies bucket policy denies to object requests itself, ignoring principals and
    conditions (so a conditional deny denies everyone).  The enforcer has already decided
    with the whole policy, as AWS does: moto's own check is turned off."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        return PermissionResult.NEUTRAL

    setattr(FakeBucket, "get_permission", get_permission)  # noqa: B010 - patching a method
