"""A local OpenID Connect issuer: the tokens a GitHub Actions job presents to STS.

On GitHub a deploy job asks GitHub's issuer (``https://token.actions.githubusercontent.com``)
for a token and trades it with ``sts:AssumeRoleWithWebIdentity`` for its environment's
role; STS checks the token's signature against the issuer's published keys, its audience
against the IAM OIDC provider's client IDs, and its claims against the role's trust policy.

Locally nothing can reach GitHub, so :class:`LocalOidcIssuer` stands in for it: it keeps an
RSA key of its own in the local AWS's state directory, signs tokens with the claims GitHub
puts in them, and publishes its public keys (a JWKS) in that directory, where the local
AWS's IAM enforcement reads the keys it trusts for each issuer (:func:`trusted_keys`).
The issuer URL in the tokens is GitHub's, so the account stack's OIDC provider and trust
policies are the very ones AWS evaluates.  Only the keys differ: a token signed by this
issuer is worthless on AWS, and a token from anywhere else is refused here.

:func:`verify` is what STS does with a token before the trust policy is evaluated.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
_KEYS_DIR = "oidc"
_TRUSTED = "trusted-issuers.json"  # {issuer URL: JWKS}


class TokenRejected(Exception):
    """STS refuses the token: ``code`` is the AWS error code, the message AWS's wording."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def github_subject(
    repository: str,
    *,
    environment: str | None = None,
    event: str = "push",
    ref: str = "",
    job_workflow_ref: str | None = None,
) -> str:
    """The ``sub`` claim as GitHub builds it: a job in an environment names the environment;
    a pull request's job says so; any other job names its ref.  With ``job_workflow_ref``,
    as a repository whose subject is customized to ``["repo", "context",
    "job_workflow_ref"]`` gets it (the only way an AWS trust policy can test the workflow:
    IAM evaluates ``sub``, not GitHub's other claims)."""
    if environment:
        context = f"environment:{environment}"
    elif event == "pull_request":
        context = "pull_request"
    else:
        context = f"ref:{ref or 'refs/heads/main'}"
    workflow = f":job_workflow_ref:{job_workflow_ref}" if job_workflow_ref else ""
    return f"repo:{repository}:{context}{workflow}"


class LocalOidcIssuer:
    """Signs tokens for ``issuer`` with a key kept in ``state_dir`` (made on first use)."""

    def __init__(self, state_dir: Path, issuer: str = GITHUB_ISSUER) -> None:
        self.issuer = issuer
        self.directory = state_dir / _KEYS_DIR
        digest = hashlib.sha256(issuer.encode()).hexdigest()[:16]
        self._key_file = self.directory / f"{digest}.pem"
        self._key: Any = None

    def token(self, claims: Mapping[str, Any], *, lifetime: int = 300) -> str:
        """A signed token with ``claims``; ``iss``, ``iat``, ``nbf`` and ``exp`` are added
        unless given (a negative ``lifetime`` makes an expired one)."""
        key = self._signing_key()
        now = int(time.time())
        body = {"iss": self.issuer, "iat": now, "nbf": now, "exp": now + lifetime, **claims}
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        signing_input = f"{_encode_json(header)}.{_encode_json(body)}".encode()
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{_b64(signature)}"

    def github_job(
        self,
        repository: str,
        *,
        environment: str | None = None,
        event: str = "push",
        ref: str = "refs/heads/main",
        workflow: str = ".github/workflows/deploy.yml",
        audience: str = STS_AUDIENCE,
        lifetime: int = 300,
        subject_names_workflow: bool = False,
    ) -> str:
        """The token a job of ``repository``'s ``workflow`` gets (``environment``: the job's
        GitHub environment; ``event="pull_request"``: a pull request's job;
        ``subject_names_workflow``: the repository customized its subject to name the
        workflow, see :func:`github_subject`)."""
        owner = repository.split("/", 1)[0]
        job_workflow_ref = f"{repository}/{workflow}@{ref}"
        claims: dict[str, Any] = {
            "sub": github_subject(
                repository,
                environment=environment,
                event=event,
                ref=ref,
                job_workflow_ref=job_workflow_ref if subject_names_workflow else None,
            ),
            "aud": audience,
            "repository": repository,
            "repository_owner": owner,
            "ref": ref,
            "event_name": event,
            "workflow": workflow.rsplit("/", 1)[-1],
            "job_workflow_ref": job_workflow_ref,
            "actor": "smartstack-local",
            "runner_environment": "github-hosted",
        }
        if environment:
            claims["environment"] = environment
        return self.token(claims, lifetime=lifetime)

    @property
    def key_id(self) -> str:
        numbers = self._signing_key().public_key().public_numbers()
        return hashlib.sha256(str(numbers.n).encode()).hexdigest()[:16]

    def _signing_key(self) -> Any:
        if self._key is None:
            self._key = self._load_or_create()
            self._publish()
        return self._key

    def _load_or_create(self) -> Any:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        if not self._key_file.is_file():
            self.directory.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            staged = self.directory / f".{self._key_file.name}.{os.getpid()}"
            descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(pem)
            try:
                os.link(staged, self._key_file)  # the first writer's key wins, whole
            except FileExistsError:
                pass
            finally:
                staged.unlink()
        return serialization.load_pem_private_key(self._key_file.read_bytes(), password=None)

    def _publish(self) -> None:
        """Add this issuer's public key to the keys the local AWS trusts."""
        numbers = self._key.public_key().public_numbers()
        jwk = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.key_id,
            "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }
        registry = self.directory / _TRUSTED
        trusted = trusted_keys(self.directory.parent)
        if trusted.get(self.issuer) == {"keys": [jwk]}:
            return
        trusted[self.issuer] = {"keys": [jwk]}
        staged = registry.with_name(f".{_TRUSTED}.{os.getpid()}")
        staged.write_text(json.dumps(trusted, indent=2, sort_keys=True))
        os.replace(staged, registry)


def trusted_keys(state_dir: Path) -> dict[str, Any]:
    """The JWKS of every local issuer, by issuer URL (none when no token was ever issued)."""
    try:
        found = json.loads((state_dir / _KEYS_DIR / _TRUSTED).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def unverified_claims(token: str) -> dict[str, Any]:
    """The token's claims, before anything is checked (to find its issuer)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected("InvalidIdentityToken", "The ID token provided is not a valid JWT.")
    try:
        claims = json.loads(_unb64(parts[1]))
    except ValueError:
        raise TokenRejected(
            "InvalidIdentityToken", "The ID token provided is not a valid JWT."
        ) from None
    if not isinstance(claims, dict):
        raise TokenRejected("InvalidIdentityToken", "The ID token provided is not a valid JWT.")
    return claims


def verify(
    token: str, jwks: Mapping[str, Any], audiences: list[str], now: float | None = None
) -> dict[str, Any]:
    """The token's claims once its RS256 signature (one of ``jwks``), its time window and its
    audience (one of ``audiences``, the provider's client IDs) hold; else :class:`TokenRejected`
    with STS's code and message."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    claims = unverified_claims(token)
    head, body, signature = token.split(".")
    try:
        header = json.loads(_unb64(head))
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("alg") != "RS256":
        raise TokenRejected("InvalidIdentityToken", "The ID token provided is not a valid JWT.")
    keys = [k for k in jwks.get("keys", []) if k.get("kid") in (None, header.get("kid"))]
    verified = False
    for jwk in keys:
        public = rsa.RSAPublicNumbers(
            int.from_bytes(_unb64(jwk["e"]), "big"), int.from_bytes(_unb64(jwk["n"]), "big")
        ).public_key()
        try:
            public.verify(
                _unb64(signature),
                f"{head}.{body}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            verified = True
            break
        except (InvalidSignature, ValueError):
            continue
    if not verified:
        raise TokenRejected("InvalidIdentityToken", "Couldn't verify the token's signature.")
    moment = time.time() if now is None else now
    expiry = claims.get("exp")
    if not isinstance(expiry, int | float):
        raise TokenRejected("InvalidIdentityToken", "The ID token provided has no expiry (exp).")
    if moment >= expiry:
        raise TokenRejected(
            "ExpiredTokenException",
            f"Token expired: current date/time {_iso(moment)} must be before the expiration "
            f"date/time {_iso(expiry)}",
        )
    not_before = claims.get("nbf", claims.get("iat", 0))
    if isinstance(not_before, int | float) and not_before > moment + 300:
        raise TokenRejected("InvalidIdentityToken", "The ID token is not valid yet (nbf).")
    audience = claims.get("aud")
    presented = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(a, str) and a in audiences for a in presented):
        raise TokenRejected("InvalidIdentityToken", "Incorrect token audience")
    return claims


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _encode_json(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())
