"""Run a Lambda artifact locally in the Lambda Runtime Interface Emulator (RIE).

The local AWS (moto) stores functions but cannot run their code, so local
smoke tests run the *deployed* zip here instead: unpacked into a task
directory, started by the RIE with ``awslambdaric`` as the runtime client, with
the function's handler and environment variables plus the ``AWS_*`` variables
of the target, so the code reaches the same (local) AWS the function would.

The interpreter is CPython of the functions' runtime (``python3.12`` for
``RUNTIME = "python3.12"`` in the service table), so compiled dependencies the
build vendored for that runtime load here as on Lambda.  It sees only the task
directory and a runtime directory holding ``awslambdaric`` and ``boto3`` (with
their dependencies) installed for that Python, as on Lambda's python runtime:
a dependency the zip forgot fails here too, instead of being found in the
tool's own virtual environment.  The runtime directory is made once per
runtime and versions in the cache (``scripts/setup.sh`` makes it).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

from smartstack.aws.lambda_api import deployed_function
from smartstack.aws.target import AwsTarget
from smartstack.core.errors import CommandFailedError, NotRunningError, ToolMissingError
from smartstack.core.services import ARCHITECTURE, PYTHON_VERSION, RUNTIME
from smartstack.local import processes
from smartstack.local.network import PrivateNetwork

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
RUNTIME_DISTRIBUTIONS = ("awslambdaric", "boto3")
_PROBE = "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])"
_START_TIMEOUT = 10.0
_START_ATTEMPTS = 3
_BIND_GRACE = 0.1  # seconds a started RIE must live on once its port answers
_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR")


class FunctionError(CommandFailedError):
    """The function raised (or timed out); ``error`` is the runtime's error payload."""

    code = "function_error"

    def __init__(self, message: str, error: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.error = dict(error)


class _RuntimeConnection(http.client.HTTPConnection):
    """HTTP to a runtime's ``127.0.0.1:<port>``: on this machine, or inside the VPC namespace."""

    def __init__(self, port: int, timeout: float, network: PrivateNetwork | None) -> None:
        super().__init__("127.0.0.1", port, timeout=timeout)
        self._network = network

    def connect(self) -> None:
        if self._network is None:
            super().connect()
        else:
            self.sock = self._network.connect(self.port, float(self.timeout or 30))


class LocalLambda:
    """One function, running in the RIE until :meth:`close`.

    >>> with LocalLambda(zip_path, "pkg.handler.handler", {"ENVIRONMENT": "dev"}, rie,
    ...                  aws_variables=target.variables) as fn:
    ...     fn.invoke(http_event("GET", "/health"))
    """

    def __init__(
        self,
        zip_path: Path,
        handler: str,
        environment: Mapping[str, str],
        rie: Path,
        *,
        aws_variables: Mapping[str, str] | None = None,
        function_name: str = "smartstack-local",
        timeout_seconds: int = 30,
        memory_mb: int = 512,
        log_file: Path | None = None,
        network: PrivateNetwork | None = None,
    ) -> None:
        if not rie.is_file():
            raise ToolMissingError(
                f"Lambda RIE not found at {rie}; build it with scripts/build-toolchain.sh rie."
            )
        self.handler = handler
        self.timeout_seconds = timeout_seconds
        self._workdir = Path(tempfile.mkdtemp(prefix="smartstack-lambda-"))
        self.task_root = self._workdir / "task"
        self.log_file = log_file or self._workdir / "function.log"
        # In a VPC it runs in the namespace and listens on the namespace's loopback, where
        # the caller connects through a socket of the namespace.
        self.network = network
        self.port = self._free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            _unpack(zip_path, self.task_root)
            python = lambda_python()
            runtime = runtime_dir(python=python)
            env = _function_env(
                environment, aws_variables or {}, self.task_root, runtime, handler,
                function_name, timeout_seconds, memory_mb,
            )  # fmt: skip
            self._start(rie, python, env)
        except BaseException:
            self.close()
            raise

    @classmethod
    def deployed(
        cls,
        target: AwsTarget,
        function_name: str,
        zip_path: Path,
        rie: Path,
        *,
        qualifier: str | None = None,
        log_file: Path | None = None,
    ) -> LocalLambda:
        """Run ``zip_path`` as the deployed ``function_name``: its handler and environment.

        Refuses a zip whose sha256 is not the deployed code's, so a smoke test
        always exercises the bytes that were deployed.
        """
        fn = deployed_function(target, function_name, qualifier)
        digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
        if digest != fn.code_sha256:
            raise CommandFailedError(
                f"{zip_path.name} (sha256 {digest[:12]}) is not the code deployed to "
                f"{function_name} (sha256 {fn.code_sha256[:12] or 'none'}); "
                "fetch the deployed release's artifact."
            )
        return cls(
            zip_path,
            fn.handler,
            fn.environment,
            rie,
            aws_variables=target.variables,
            function_name=function_name,
            timeout_seconds=fn.timeout_seconds,
            log_file=log_file,
        )

    @property
    def url(self) -> str:
        where = f" in {self.network.name}" if self.network else ""
        return f"http://127.0.0.1:{self.port}{INVOKE_PATH}{where}"

    def _free_port(self) -> int:
        return self.network.free_port() if self.network else processes.free_port()

    def _listening(self, port: int) -> bool:
        if self.network is not None:
            return self.network.listening(port)
        return processes.port_in_use(port)

    def _start(self, rie: Path, python: Path, env: dict[str, str]) -> None:
        # A free port can be taken before the RIE binds it (another function starting): then
        # the RIE exits, and another port is tried.
        for attempt in range(_START_ATTEMPTS):
            try:
                self._start_once(rie, python, env)
                return
            except CommandFailedError:
                if attempt == _START_ATTEMPTS - 1:
                    raise
                self.port = self._free_port()

    def _start_once(self, rie: Path, python: Path, env: dict[str, str]) -> None:
        if self._listening(self.port):
            raise CommandFailedError(f"port {self.port} is taken")
        argv = [
            *(self.network.enter() if self.network else []),
            str(rie),
            "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
            "--runtime-api-address", f"127.0.0.1:{self._free_port()}",
            str(python), "-S", "-m", "awslambdaric", self.handler,
        ]  # fmt: skip
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                argv,
                cwd=self.task_root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise CommandFailedError(
                    f"the Lambda RIE exited ({self._proc.returncode}) at start; "
                    f"see {self.log_file}."
                )
            if self._listening(self.port):
                time.sleep(_BIND_GRACE)  # ours, not one that took the port first: it lives on
                if self._proc.poll() is None:
                    return
                continue
            time.sleep(0.05)
        raise NotRunningError(
            f"the Lambda RIE did not listen on 127.0.0.1:{self.port} within "
            f"{_START_TIMEOUT:.0f}s; see {self.log_file}."
        )

    def call(self, payload: bytes) -> tuple[bytes, str | None]:
        """One invocation with ``payload`` as the event: the raw result, and what went wrong
        (``"error"``: the function raised; ``"timeout"``: it ran out of time, and the result
        is Lambda's error payload for that) or None."""
        if self._proc is None or self._proc.poll() is not None:
            raise NotRunningError(f"the function is not running; see {self.log_file}.")
        connection = _RuntimeConnection(self.port, self.timeout_seconds + 10, self.network)
        try:
            connection.request(
                "POST", INVOKE_PATH, body=payload, headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            status, body = response.status, response.read()
            errored = bool(response.getheader("X-Amz-Function-Error"))
        except (OSError, http.client.HTTPException) as exc:
            raise NotRunningError(
                f"no answer from the function at {self.url} ({exc}); see {self.log_file}."
            ) from exc
        finally:
            connection.close()
        if status >= 400:
            raise FunctionError(
                f"the RIE answered {status} ({_first_line(body)}); see {self.log_file}.",
                _as_error(body),
            )
        if body.startswith(b"Task timed out after"):  # the RIE's words, not JSON
            message = body.decode(errors="replace").strip()
            return json.dumps(
                {"errorType": "Sandbox.Timedout", "errorMessage": message}
            ).encode(), "timeout"
        return body, "error" if errored or _is_error(body) else None

    def invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Invoke the function once and return its result; raises :class:`FunctionError`."""
        body, _ = self.call(json.dumps(event).encode())
        try:
            result = json.loads(body) if body else None
        except ValueError:
            raise FunctionError(
                f"the function returned non-JSON ({_first_line(body)}); see {self.log_file}.",
                {"errorMessage": _first_line(body)},
            ) from None
        if isinstance(result, dict) and "errorType" in result and "errorMessage" in result:
            raise FunctionError(
                f"the function failed: {result['errorType']}: {result['errorMessage']}; "
                f"see {self.log_file}.",
                result,
            )
        if not isinstance(result, dict):
            return {"result": result}
        return result

    def log_size(self) -> int:
        try:
            return self.log_file.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> tuple[str, int]:
        """What the RIE and the function printed after ``offset``, and the new offset."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(offset)
                data = log.read()
        except FileNotFoundError:
            return "", offset
        return data.decode(errors="replace"), offset + len(data)

    def logs(self) -> str:
        """Everything the RIE and the function printed so far."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        if self._proc is not None:
            pid = self._proc.pid
            processes.terminate(pid, timeout=5)
            # The RIE leads its own process group: end a runtime process it left behind.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            self._proc.wait(timeout=5)
            self._proc = None
        # A log_file given by the caller lives elsewhere and outlives the function.
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> LocalLambda:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def http_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for ``method path``."""
    raw_body = None if body is None else body if isinstance(body, str) else json.dumps(body)
    all_headers = {"content-type": "application/json", "user-agent": "smartstack-smoke"}
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    query_string = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query_string,
        "headers": all_headers,
        "queryStringParameters": dict(query) if query else None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "local.execute-api",
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "smartstack-smoke",
            },
            "requestId": base64.b32encode(os.urandom(10)).decode().lower(),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": raw_body,
        "isBase64Encoded": False,
    }


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source sends, from ReceiveMessage's ``Messages``."""
    region = queue_arn.split(":")[3] if queue_arn.count(":") >= 5 else "us-east-1"
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m.get("ReceiptHandle", ""),
            "body": m["Body"],
            "attributes": dict(m.get("Attributes", {})),
            "messageAttributes": dict(m.get("MessageAttributes", {})),
            "md5OfBody": m.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        for m in messages
    ]
    return {"Records": records}


def _unpack(zip_path: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for info in archive.infolist():
                target = (dest / info.filename).resolve()
                if not target.is_relative_to(dest.resolve()):
                    raise CommandFailedError(f"{zip_path}: entry {info.filename} escapes the zip.")
            archive.extractall(dest)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CommandFailedError(f"cannot unpack {zip_path} ({exc}); rebuild it.") from exc


# --- the functions' Python and Lambda's runtime directory -------------------------------


def lambda_python() -> Path:
    """An interpreter of the functions' CPython version (``python3.12`` for ``python3.12``).

    ``python3.12`` on PATH, else a pyenv installation of 3.12 (pyenv's shim
    answers only for the selected version); each candidate is run once to be sure.
    """
    name = f"python{PYTHON_VERSION}"
    found = shutil.which(name)
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    installed = sorted(pyenv.glob(f"{PYTHON_VERSION}.*/bin/{name}"), key=_patch, reverse=True)
    for candidate in ([found] if found else []) + [str(p) for p in installed]:
        python = _probe(candidate)
        if python is not None:
            return python
    raise ToolMissingError(
        f"Lambda's {RUNTIME} runs CPython {PYTHON_VERSION}, and no working {name} is on PATH; "
        f"install it (Debian/Ubuntu: apt-get install {name}; or pyenv install {PYTHON_VERSION}), "
        "then run scripts/setup.sh."
    )


def _patch(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"[0-9]+", path.parents[1].name))


@functools.cache
def _probe(candidate: str) -> Path | None:
    """The interpreter behind ``candidate`` when it runs and is the right version."""
    try:
        probe = subprocess.run(
            [candidate, "-c", _PROBE], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = probe.stdout.split()
    if probe.returncode != 0 or len(lines) != 2 or lines[1] != PYTHON_VERSION:
        return None
    return Path(lines[0])


def default_cache() -> Path:
    return Path(os.environ.get("SMARTSTACK_CACHE") or Path.home() / ".cache/smartstack")


def runtime_pins() -> list[str]:
    """``name==version`` of awslambdaric, boto3 and their dependencies, as the tool has them."""
    pins: dict[str, str] = {}
    todo = list(RUNTIME_DISTRIBUTIONS)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in pins:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise ToolMissingError(
                f"{name} is not installed in {sys.prefix}; reinstall the tool "
                "(pip install -e '.[dev]')."
            ) from exc
        pins[key] = dist.version
        todo.extend(_requirement_name(r) for r in dist.requires or [] if "extra ==" not in r)
    return sorted(f"{name}=={version}" for name, version in pins.items())


def runtime_dir(cache: Path | None = None, *, python: Path | None = None) -> Path:
    """Lambda's /var/runtime for the functions' runtime: awslambdaric and boto3 for its Python.

    Installed once per runtime and versions into ``<cache>/lambda-runtime/`` with
    the target interpreter's tags (their compiled parts are built for it), into
    a temporary directory renamed when complete; later calls only find it.
    """
    pins = runtime_pins()
    versions = "-".join(
        p.replace("==", "-") for p in pins if p.split("==")[0] in RUNTIME_DISTRIBUTIONS
    )
    digest = hashlib.sha256("\n".join([RUNTIME, ARCHITECTURE, *pins]).encode()).hexdigest()
    dest = (cache or default_cache()) / "lambda-runtime" / f"{RUNTIME}-{versions}-{digest[:8]}"
    if dest.is_dir():
        return dest
    python = python or lambda_python()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent) as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n")
        tree = Path(tmp) / "runtime"
        tops = [p for p in pins if p.split("==")[0] in RUNTIME_DISTRIBUTIONS]
        installed = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
             "--only-binary=:all:", "--target", str(tree), "-c", str(constraints), *tops],
            capture_output=True, text=True, check=False,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"},
        )  # fmt: skip
        if installed.returncode != 0:
            lines = [line for line in installed.stderr.splitlines() if line.strip()]
            raise CommandFailedError(
                f"could not install {' and '.join(tops)} for {python} into {dest} "
                f"({lines[-1].strip() if lines else 'pip failed'}); check the network, "
                "then run scripts/setup.sh again."
            )
        with contextlib.suppress(OSError):  # another process finished first: use theirs
            tree.rename(dest)
    if not dest.is_dir():
        raise CommandFailedError(
            f"could not create {dest}; check the cache directory's permissions."
        )
    return dest


def _requirement_name(requirement: str) -> str:
    for i, char in enumerate(requirement):
        if not (char.isalnum() or char in "-_."):
            return requirement[:i]
    return requirement


def _function_env(
    environment: Mapping[str, str],
    aws_variables: Mapping[str, str],
    task_root: Path,
    runtime: Path,
    handler: str,
    function_name: str,
    timeout_seconds: int,
    memory_mb: int,
) -> dict[str, str]:
    """The function's environment: as on Lambda, plus the target's AWS_* variables."""
    env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
    env.update(
        HOME=str(task_root.parent),
        LAMBDA_TASK_ROOT=str(task_root),
        LAMBDA_RUNTIME_DIR=str(runtime),
        PYTHONPATH=f"{task_root}{os.pathsep}{runtime}",
        PYTHONDONTWRITEBYTECODE="1",
        _HANDLER=handler,
        AWS_LAMBDA_FUNCTION_NAME=function_name,
        AWS_LAMBDA_FUNCTION_TIMEOUT=str(timeout_seconds),
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(memory_mb),
        AWS_EXECUTION_ENV=f"AWS_Lambda_{RUNTIME}",
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{function_name}",
        AWS_LAMBDA_LOG_STREAM_NAME="local",
    )
    env.update(aws_variables)
    env.update(environment)
    # Lambda sets both; botocore reads AWS_DEFAULT_REGION.
    if "AWS_REGION" in env:
        env.setdefault("AWS_DEFAULT_REGION", env["AWS_REGION"])
    return env


def _first_line(body: bytes) -> str:
    text = body.decode(errors="replace").strip()
    return text.splitlines()[0][:200] if text else "empty body"


def _is_error(body: bytes) -> bool:
    """A runtime's error payload: ``errorMessage`` and ``errorType`` (and a stack trace)."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return False
    return isinstance(parsed, dict) and {"errorType", "errorMessage"} <= set(parsed)


def _as_error(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"errorMessage": _first_line(body)}
    return parsed if isinstance(parsed, dict) else {"errorMessage": str(parsed)}
