"""The local AWS: the moto server with fixes where it departs from AWS.

Run as ``python -m smartstack.local.moto_server -H 127.0.0.1 -p PORT``.  Each
fix makes moto behave as AWS does for a call the AWS provider or the
applications rely on; with stock moto 5.2.5 the stacks cannot coexist, and no
one can connect to the database they create (see docs/local-platform.md):

* RDS: every instance gets the same ``DbiResourceId``.  The provider finds an
  instance by that id, so the second environment's database "disappears".
  AWS gives each instance its own; here it is derived from the identifier.
* S3: ``CreateBucket`` drops the tags sent in ``CreateBucketConfiguration``, so
  every plan shows a tag change.  AWS stores them.
* RDS: an instance is a record only, with an endpoint nobody can reach.  On AWS
  it is a database server.  When ``SMARTSTACK_RDS_POSTGRES_DSN`` names an
  admin connection to the local PostgreSQL (``local up`` sets it), every
  ``postgres`` instance is backed by that server: ``CreateDBInstance`` makes
  a LOGIN role ``MasterUsername`` with ``MasterUserPassword`` and the database
  ``DBName`` owned by it (an existing role gets the new password, an existing
  database is kept), and the endpoint becomes that server's host and port;
  ``ModifyDBInstance`` with a new ``MasterUserPassword`` changes the role's
  password; ``DeleteDBInstance`` drops the database and the role.  A failure
  of PostgreSQL is answered as an RDS error.  Without the variable RDS is
  stock moto.
* IAM: policies of any size are accepted.  AWS refuses (``LimitExceeded``) a role
  whose inline policies exceed 10,240 characters in all (a user's 2,048, a group's
  5,120), a managed policy over 6,144, and an eleventh managed policy on a role;
  whitespace does not count.  A stack whose role policy is too large so fails on
  AWS only: here it fails too.
* STS: a role session of any length is handed out.  AWS refuses one longer than
  the role's ``MaxSessionDuration`` (or shorter than 900 s) with ``ValidationError``.
* CloudWatch: the Smithy RPC v2 CBOR protocol, which the AWS provider speaks, is answered
  404.  It is translated to and from moto's JSON protocol
  (:mod:`smartstack.local.cloudwatch_cbor`).
* DynamoDB: under load an SDK here sometimes retries a request that was carried out (a
  conditional write then fails on its own first attempt).  A retried attempt with the
  same invocation id, signer and body as one that succeeded gets that answer
  (:mod:`smartstack.local.retries`).
* CloudWatch: alarms are stored but never evaluated.  Here they change state from the
  published metrics as CloudWatch evaluates them (:mod:`smartstack.local.alarms`).
* Persistence: moto keeps everything in memory, so a restart loses every resource.  AWS
  does not forget.  With ``SMARTSTACK_AWS_STATE_DIR`` (``local up`` sets it) every write is
  logged to disk before it is answered and replayed on the next start, and a checkpoint
  is written when the server stops (:mod:`smartstack.local.persistence`).
* Lambda: ``Invoke`` answers a canned reply (it needs Docker to run anything).  On AWS it
  runs the function: here the version asked for runs in the Lambda RIE
  (:mod:`smartstack.local.lambda_service`) when ``SMARTSTACK_LAMBDA_RIE`` names it.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import signal
import sys
import warnings
from collections.abc import Callable
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict  # type: ignore[import-untyped]
from moto.rds import models as rds_models
from moto.rds.exceptions import RDSClientError
from moto.s3 import responses as s3_responses

from smartstack.local.moto import RDS_POSTGRES_DSN
from smartstack.local.rds_postgres import LocalRdsPostgres, RdsPostgresError


def _unique_dbi_resource_id() -> None:
    original = rds_models.DBInstance.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        seed = f"{self.account_id}/{self.region}/{self.db_instance_identifier}".encode()
        self.dbi_resource_id = "db-" + hashlib.sha1(seed).hexdigest()[:26].upper()

    setattr(rds_models.DBInstance, "__init__", init)  # noqa: B010 - patching a method


def _tags_at_bucket_creation() -> None:
    original = s3_responses.S3Response._bucket_response_put

    def put(self: Any, request: Any, bucket_name: str, querystring: Any) -> Any:
        result = original(self, request, bucket_name, querystring)
        if querystring or not self.body:
            return result
        try:
            config = xmltodict.parse(self.body).get("CreateBucketConfiguration") or {}
        except ExpatError:
            return result
        tags = (config.get("Tags") or {}).get("Tag") or []
        tags = [tags] if isinstance(tags, dict) else tags
        if tags:
            self.backend.put_bucket_tagging(bucket_name, {t["Key"]: t["Value"] for t in tags})
        return result

    setattr(s3_responses.S3Response, "_bucket_response_put", put)  # noqa: B010


def _replaying() -> bool:
    """Whether the store is replaying its log: PostgreSQL keeps its own data on disk, so a
    replayed write must not create, change or drop it again."""
    from smartstack.local.persistence.store import installed

    store = installed()
    return store is not None and store.replaying


def _postgres_backed_rds(server: LocalRdsPostgres) -> None:
    backend_class = rds_models.RDSBackend
    create, modify = backend_class.create_db_instance, backend_class.modify_db_instance
    delete = backend_class.delete_db_instance
    stock_address = rds_models.DBInstance.address

    def backed(database: Any) -> bool:
        return bool(getattr(database, "_smartstack_postgres", False))

    def failure(identifier: str, exc: RdsPostgresError) -> RDSClientError:
        # Answered with HTTP 400, so the SDKs do not retry: the message says what to fix.
        return RDSClientError(exc.code, f"DB instance {identifier}: {exc}")

    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        database = create(self, db_kwargs)
        if database.engine != "postgres" or database.db_cluster_identifier is not None:
            return database
        # moto keeps the password but will not give it back (the property raises).
        password = db_kwargs.get("master_user_password")
        if _replaying():  # the database is in PostgreSQL already, with what came after
            setattr(database, "_smartstack_postgres", True)  # noqa: B010
            database.port = server.port
            return database
        try:
            if not database.master_username or not password:
                raise RdsPostgresError(
                    "MasterUsername and MasterUserPassword are required.", "InvalidParameterValue"
                )
            server.provision(database.master_username, password, database.db_name)
        except RdsPostgresError as exc:
            delete(self, database.db_instance_identifier, skip_final_snapshot=True)
            raise failure(database.db_instance_identifier, exc) from None
        setattr(database, "_smartstack_postgres", True)  # noqa: B010 - read by backed()
        database.port = server.port
        return database

    # The same parameter names as moto's: its responses pass some by keyword.
    def modify_db_instance(
        self: Any, db_instance_identifier: str, db_kwargs: dict[str, Any]
    ) -> Any:
        before = self.describe_db_instances(db_instance_identifier)[0]
        old_password = getattr(before, "_master_user_password", None)
        database = modify(self, db_instance_identifier, db_kwargs)
        password = db_kwargs.get("master_user_password")
        if backed(database) and password and not _replaying():
            try:
                server.set_password(str(database.master_username), password)
            except RdsPostgresError as exc:
                database.master_user_password = old_password
                raise failure(database.db_instance_identifier, exc) from None
        return database

    def delete_db_instance(self: Any, db_instance_identifier: str, **kwargs: Any) -> Any:
        identifier = db_instance_identifier
        database = delete(self, identifier, **kwargs)
        if not backed(database) or _replaying():
            return database
        # Another instance (any account or region) logging in as the same role keeps it.
        shared = any(
            backed(other) and other.master_username == database.master_username
            for _, _, backend in rds_models.rds_backends.iter_backends()
            for other in backend.databases.values()  # type: ignore[attr-defined]
        )
        try:
            server.drop(str(database.master_username), database.db_name, keep_role=shared)
        except RdsPostgresError as exc:
            # The database could not be dropped, so the instance is not deleted either.
            database.status = "available"
            self.databases[identifier] = database
            raise failure(identifier, exc) from None
        return database

    def address(self: Any) -> str:
        return server.host if backed(self) else str(stock_address.fget(self))  # type: ignore[attr-defined]

    # AWS's common error codes are not in RDS's own model; moto warns about each one it sends.
    warnings.filterwarnings("ignore", message=r"Exception\(RDSClientError\) with code ")
    setattr(backend_class, "create_db_instance", create_db_instance)  # noqa: B010
    setattr(backend_class, "modify_db_instance", modify_db_instance)  # noqa: B010
    setattr(backend_class, "delete_db_instance", delete_db_instance)  # noqa: B010
    setattr(rds_models.DBInstance, "address", property(address))  # noqa: B010


# IAM's quotas (characters without whitespace; managed policies per role), as AWS has them.
_INLINE_QUOTAS = {"role": 10240, "user": 2048, "group": 5120}
_MANAGED_POLICY_QUOTA = 6144
_MANAGED_POLICIES_PER_ROLE = 10


def _policy_size(document: str) -> int:
    return sum(1 for character in document if not character.isspace())


def _check_first(backend: type, method: str, check: Callable[[Any, dict[str, Any]], None]) -> None:
    """``check(backend, arguments)`` before ``backend.method`` runs; it raises AWS's error."""
    original = getattr(backend, method)
    signature = inspect.signature(original)

    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        check(self, dict(signature.bind(self, *args, **kwargs).arguments))
        return original(self, *args, **kwargs)

    setattr(backend, method, checked)


def _iam_policy_quotas() -> None:
    from moto.iam.exceptions import LimitExceededException
    from moto.iam.models import IAMBackend

    def inline(kind: str, get: str) -> Callable[[Any, dict[str, Any]], None]:
        def check(iam: Any, call: dict[str, Any]) -> None:
            name, policy_name = call[f"{kind}_name"], call["policy_name"]
            owner = getattr(iam, get)(name)
            others = sum(_policy_size(d) for p, d in owner.policies.items() if p != policy_name)
            if others + _policy_size(call["policy_json"]) > _INLINE_QUOTAS[kind]:
                raise LimitExceededException(
                    f"Maximum policy size of {_INLINE_QUOTAS[kind]} bytes exceeded for "
                    f"{kind} {name}"
                )

        return check

    def managed(iam: Any, call: dict[str, Any]) -> None:
        document = call.get("policy_document")
        if isinstance(document, str) and _policy_size(document) > _MANAGED_POLICY_QUOTA:
            raise LimitExceededException(
                f"Cannot exceed quota for PolicySize: {_MANAGED_POLICY_QUOTA}"
            )

    def attach(iam: Any, call: dict[str, Any]) -> None:
        attached = iam.get_role(call["role_name"]).managed_policies
        if call["policy_arn"] not in attached and len(attached) >= _MANAGED_POLICIES_PER_ROLE:
            raise LimitExceededException(
                f"Cannot exceed quota for PoliciesPerRole: {_MANAGED_POLICIES_PER_ROLE}"
            )

    for kind in ("role", "user", "group"):
        _check_first(IAMBackend, f"put_{kind}_policy", inline(kind, f"get_{kind}"))
    _check_first(IAMBackend, "create_policy", managed)
    _check_first(IAMBackend, "create_policy_version", managed)
    _check_first(IAMBackend, "attach_role_policy", attach)


def _sts_session_duration() -> None:
    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSValidationError
    from moto.sts.models import STSBackend

    def check(sts: Any, call: dict[str, Any]) -> None:
        duration, role_arn = int(call["duration"]), str(call["role_arn"])
        if duration < 900:
            raise STSValidationError(
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed "
                "to satisfy constraint: Member must have value greater than or equal to 900"
            )
        parts = role_arn.split(":")
        roles = iam_backends[parts[4]]["aws"].roles if len(parts) > 5 and parts[4].isdigit() else {}
        role = next((r for r in list(roles.values()) if r.arn == role_arn), None)
        if role is not None and duration > int(role.max_session_duration or 3600):
            raise STSValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )

    _check_first(STSBackend, "assume_role", check)


def _iam_enforcement() -> Any:
    """Local IAM enforcement: on unless SMARTSTACK_IAM_ENFORCEMENT says audit or off.

    Every request authenticated and authorized before moto sees it; see
    smartstack.local.iam and docs/local-iam.md.
    """
    from pathlib import Path

    from smartstack.local.iam import IAM_STATE_DIR, IAM_TIMEOUT, OFF, enforcement_mode

    mode = enforcement_mode(os.environ)
    if mode == OFF:
        return None
    from smartstack.local.iam.enforcer import install

    state_dir = os.environ.get(IAM_STATE_DIR)
    timeout = float(os.environ.get(IAM_TIMEOUT, 10))
    enforcer = install(mode, Path(state_dir) if state_dir else None, timeout)
    print(f"local IAM enforcement: {mode}", file=sys.stderr, flush=True)
    return enforcer


def _cloudwatch_cbor() -> None:
    """CloudWatch's CBOR protocol, translated for moto (smartstack.local.cloudwatch_cbor)."""
    from smartstack.local import cloudwatch_cbor
    from smartstack.local.wsgi import wrap_moto

    wrap_moto(cloudwatch_cbor.wrap)


def _retry_replay() -> None:
    """A retried request whose first attempt succeeded gets that answer
    (smartstack.local.retries)."""
    from smartstack.local.retries import RetryReplay
    from smartstack.local.wsgi import wrap_moto

    wrap_moto(RetryReplay().wrap)


def _alarm_evaluation() -> None:
    """Alarms change state from the published metrics (smartstack.local.alarms)."""
    import atexit

    from smartstack.local.alarms import AlarmEvaluator

    evaluator = AlarmEvaluator()
    evaluator.start()
    atexit.register(evaluator.stop)


def _vpc_endpoint(port: int) -> Any:
    """With a private network (SMARTSTACK_PRIVATE_NETWORK), the local AWS also answers inside
    it, as a VPC's endpoints do (smartstack.local.vpc_endpoint); returns the network."""
    from smartstack.local import vpc_endpoint
    from smartstack.local.network import VARIABLE, PrivateNetwork

    network = PrivateNetwork.from_variable(os.environ.get(VARIABLE))
    if network is not None:
        vpc_endpoint.serve(network, port)
    return network


def _lambda_invoke(argv: list[str], enforcer: Any) -> Any:
    """Lambda's Invoke runs the function in the Lambda RIE (smartstack.local.lambda_service)
    when SMARTSTACK_LAMBDA_RIE names it; stock moto answers with a canned reply.  Returns
    the service, whose queue poller ``start()`` starts (None without the RIE)."""
    from pathlib import Path

    from smartstack.local.lambda_service import RIE_VARIABLE, install

    rie = os.environ.get(RIE_VARIABLE)
    if not rie:
        return None
    port = argv[argv.index("-p") + 1] if "-p" in argv else "5000"
    network = _vpc_endpoint(int(port))
    return install(Path(rie), f"http://127.0.0.1:{port}", enforcer, network)


def _persistence() -> Any:
    """The store that keeps the local AWS across restarts, when SMARTSTACK_AWS_STATE_DIR
    names its directory: wrapped around moto first, so it sees what moto sees."""
    from pathlib import Path

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    from smartstack.local.persistence import CHECKPOINT_AFTER_VARIABLE, STATE_DIR_VARIABLE
    from smartstack.local.persistence.backends import make_repeatable
    from smartstack.local.persistence.store import AwsStore, install
    from smartstack.local.persistence.unlocked import poll_queues_outside_the_lock
    from smartstack.local.wsgi import wrap_moto

    directory = os.environ.get(STATE_DIR_VARIABLE)
    if not directory:
        return None
    make_repeatable()
    poll_queues_outside_the_lock()
    store = AwsStore(Path(directory), int(os.environ.get(CHECKPOINT_AFTER_VARIABLE) or 0) or None)
    moto_call = DomainDispatcherApplication.__call__  # before any wrapper
    wrap_moto(store.wrap)
    install(store)
    return store, moto_call


def _recover(persistence: Any) -> None:
    """Load the checkpoint and replay the log before anyone is answered; a checkpoint is
    written when the server stops."""
    import atexit

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # What the server changes by itself is logged as calls to these modules' functions.
    from smartstack.local import alarms, event_sources, lambda_service, metrics  # noqa: F401
    from smartstack.local.persistence.store import StoreError

    store, moto_call = persistence
    dispatcher = DomainDispatcherApplication(create_backend_app)
    try:
        recovery = store.open(lambda environ, respond: moto_call(dispatcher, environ, respond))
    except StoreError as exc:
        print(f"the local AWS's saved state cannot be opened: {exc}; `smartstack local down "
              "--purge` discards it.", file=sys.stderr, flush=True)  # fmt: skip
        sys.exit(1)
    print(f"local AWS state: {store.directory}: checkpoint at write {recovery.checkpoint_seq}, "
          f"{recovery.replayed} write(s) replayed, {recovery.torn_bytes} torn byte(s) cut, "
          f"{recovery.seconds:.2f} s", file=sys.stderr, flush=True)  # fmt: skip
    atexit.register(store.close)


def main() -> None:
    _unique_dbi_resource_id()
    _tags_at_bucket_creation()
    _iam_policy_quotas()
    _sts_session_duration()
    dsn = os.environ.get(RDS_POSTGRES_DSN)
    if dsn:
        _postgres_backed_rds(LocalRdsPostgres(dsn))
    persistence = _persistence()  # innermost: it logs the requests moto carries out
    _cloudwatch_cbor()  # inside the enforcer, which decides on the CBOR request itself
    enforcer = _iam_enforcement()
    # Its patches are in place before the replay (they shape what a write stores) ...
    functions = _lambda_invoke(sys.argv[1:], enforcer)
    if persistence is not None:
        _recover(persistence)
    # ... and what changes resources by itself starts after it.
    if functions is not None:
        functions.start()
    _retry_replay()
    _alarm_evaluation()
    # A stop ends the functions' environments and writes the checkpoint (atexit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
