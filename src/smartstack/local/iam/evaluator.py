"""The IAM decision: ``@cloud-copilot/iam-simulate`` in one long-running Node process.

:class:`NodeEvaluator` starts ``tools/iam-simulate/serve.mjs`` once, talks JSON lines to
it (one question, one answer with the reasons of a denial), restarts it when it dies,
and gives up on a question after a timeout (the caller then refuses the request: a
decision that did not come is never an allow).

Policies travel once: each document is sent with the first question that needs it,
under a digest of its text, and referred to by that digest afterwards; the Node side
keeps them validated.  Answers are cached by everything that decides them (the
principal, action, resource, context and the digests of every policy involved), so a
request repeated with unchanged policies costs a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from smartstack.core.errors import ToolMissingError
from smartstack.infra.isolation import require_iam_simulate

ContextValue = str | list[str]

ALLOWED = "Allowed"
EXPLICIT_DENY = "ExplicitlyDenied"
IMPLICIT_DENY = "ImplicitlyDenied"
ERROR = "Error"

TOOL_DIR_VARIABLE = "SMARTSTACK_IAM_SIMULATE_DIR"
_SERVE = "serve.mjs"


class EvaluatorError(Exception):
    """No decision: the evaluator is missing, died twice, or did not answer in time."""


def policy_ref(document: str) -> str:
    """The digest a policy document is known by (its text, as stored)."""
    return hashlib.blake2b(document.encode(), digest_size=12).hexdigest()


@dataclass(frozen=True)
class Question:
    """One authorization: may ``principal`` perform ``action`` on ``resource``?

    Policies are JSON documents (text); ``permission_boundaries`` is None when the
    principal has no boundary (an empty list would deny everything).
    """

    principal: str
    action: str
    resource: str
    account_id: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    identity_policies: Sequence[str] = ()
    permission_boundaries: Sequence[str] | None = None
    resource_policy: str | None = None
    session_policy: str | None = None


@dataclass(frozen=True)
class Reason:
    policy_type: str  # identity, resource, pb, session, scp, rcp, vpce
    denial_type: str  # Implicit or Explicit
    statement_id: str | None = None


@dataclass(frozen=True)
class Decision:
    decision: str
    reasons: tuple[Reason, ...] = ()
    error: str | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED


def find_tool_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """``tools/iam-simulate``: from the environment, else above this checkout or the cwd."""
    explicit = environ.get(TOOL_DIR_VARIABLE)
    if explicit:
        return Path(explicit)
    roots = [Path(environ["SMARTSTACK_ROOT"])] if environ.get("SMARTSTACK_ROOT") else []
    roots += [*Path(__file__).resolve().parents, Path.cwd(), *Path.cwd().parents]
    for root in roots:
        candidate = root / "tools" / "iam-simulate"
        if (candidate / _SERVE).is_file():
            return candidate
    raise ToolMissingError(
        f"tools/iam-simulate/{_SERVE} not found; set {TOOL_DIR_VARIABLE} or SMARTSTACK_ROOT."
    )


class NodeEvaluator:
    """The warm evaluator process and its decision cache (thread-safe)."""

    def __init__(
        self,
        tool_dir: Path | None = None,
        timeout: float = 10.0,
        cache_size: int = 50_000,
        stderr: IO[bytes] | None = None,
    ) -> None:
        self.tool_dir = tool_dir or find_tool_dir()
        self.node = require_iam_simulate(self.tool_dir)
        self.timeout = timeout
        self._stderr = stderr
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._defined: set[str] = set()  # refs the current process has been sent
        self._next_id = 0
        self._cache: OrderedDict[tuple[Any, ...], Decision] = OrderedDict()
        self._cache_size = cache_size
        self.starts = 0  # how many processes were started (tests watch restarts)
        self.evaluations = 0  # questions that went to the process (not the cache)

    # --- the process ----------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the process now rather than at the first question."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        process = self._process
        if process is not None and process.poll() is None:
            return process
        self._fail_pending("the IAM evaluator exited")
        process = subprocess.Popen(
            [self.node, str(self.tool_dir / _SERVE)],
            cwd=self.tool_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
        )
        self._process, self._defined = process, set()
        self.starts += 1
        reader = threading.Thread(
            target=self._read, args=(process,), name="iam-evaluator-reader", daemon=True
        )
        reader.start()
        return process

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                future = self._pending.pop(answer.get("id"), None)
            if future is not None:
                future.set_result(answer)
        # Its output ended: it is gone (even before the OS says so), so nothing more may be
        # asked of it; the next question starts a new one.
        with self._lock:
            if self._process is process:
                self._process = None
                self._fail_pending("the IAM evaluator exited")
        process.wait()

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(EvaluatorError(why))

    def close(self) -> None:
        with self._lock:
            process, self._process = self._process, None
            self._fail_pending("the IAM evaluator was closed")
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _kill(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if self._process is process:
                self._process = None
                self._fail_pending("the IAM evaluator did not answer")
        process.kill()
        process.wait()

    # --- questions ------------------------------------------------------------------------

    def decide(self, question: Question) -> Decision:
        """The decision for ``question``; raises :class:`EvaluatorError` when none came."""
        refs = _Refs(question)
        key = (
            question.principal,
            question.action,
            question.resource,
            question.account_id,
            _frozen(question.context),
            refs.key,
        )
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        try:
            decision = self._ask(question, refs)
        except EvaluatorError:
            decision = self._ask(question, refs)  # once more, on a fresh process
        if decision.decision != ERROR:
            with self._lock:
                self._cache[key] = decision
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return decision

    def _ask(self, question: Question, refs: _Refs) -> Decision:
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            process = self._ensure_started()
            self._next_id += 1
            request_id = self._next_id
            define = {r: d for r, d in refs.documents.items() if r not in self._defined}
            payload: dict[str, Any] = {
                "id": request_id,
                "principal": question.principal,
                "action": question.action,
                "resource": question.resource,
                "accountId": question.account_id,
                "context": dict(question.context),
                "identityPolicies": refs.identity,
                "permissionBoundaries": refs.boundaries,
                "resourcePolicy": refs.resource,
                "sessionPolicy": refs.session,
            }
            if define:
                payload["define"] = {r: json.loads(d) for r, d in define.items()}
            self._pending[request_id] = future
            try:
                assert process.stdin is not None
                process.stdin.write(json.dumps(payload).encode() + b"\n")
                process.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self._pending.pop(request_id, None)
                raise EvaluatorError(f"the IAM evaluator exited ({exc})") from None
            self._defined.update(define)
            self.evaluations += 1
        try:
            answer = future.result(timeout=self.timeout)
        except FutureTimeout:
            self._kill(process)
            raise EvaluatorError(
                f"the IAM evaluator did not answer within {self.timeout:g}s"
            ) from None
        return Decision(
            decision=str(answer.get("decision", ERROR)),
            reasons=tuple(
                Reason(r.get("policyType", ""), r.get("denialType", ""), r.get("statementId"))
                for r in answer.get("reasons") or ()
            ),
            error=json.dumps(answer["error"]) if answer.get("error") is not None else None,
        )


class _Refs:
    """A question's policies as digests, and the documents behind them."""

    def __init__(self, question: Question) -> None:
        self.documents: dict[str, str] = {}
        self.identity = [self._add(d) for d in question.identity_policies]
        boundaries = question.permission_boundaries
        self.boundaries = None if boundaries is None else [self._add(d) for d in boundaries]
        self.resource = self._add(question.resource_policy) if question.resource_policy else None
        self.session = self._add(question.session_policy) if question.session_policy else None
        self.key = (
            tuple(self.identity),
            None if self.boundaries is None else tuple(self.boundaries),
            self.resource,
            self.session,
        )

    def _add(self, document: str) -> str:
        ref = policy_ref(document)
        self.documents[ref] = document
        return ref


def _frozen(context: Mapping[str, ContextValue]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in context.items()))
