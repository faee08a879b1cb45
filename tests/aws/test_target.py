"""The client factory's one-shot Invoke client: a slow function is never invoked twice."""

from __future__ import annotations

import base64
import json
import socket
import threading

import pytest
from botocore.exceptions import ReadTimeoutError

from smartstack.aws.target import AwsTarget, job_session_name


def test_an_invoke_that_times_out_is_not_sent_again() -> None:
    accepted: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(5)

        def accept() -> None:  # take connections, answer none
            try:
                while True:
                    accepted.append(server.accept()[0])
            except OSError:
                pass

        threading.Thread(target=accept, daemon=True).start()
        port = server.getsockname()[1]
        target = AwsTarget({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                            "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "k",
                            "AWS_SECRET_ACCESS_KEY": "s"})  # fmt: skip

        with pytest.raises(ReadTimeoutError):
            target.invoker(1).invoke(FunctionName="migrator", Payload=b"{}")
    for connection in accepted:
        connection.close()
    assert len(accepted) == 1


def _token(claims: object) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"e30.{body}.c2ln"


def test_a_job_s_session_is_named_after_its_actor() -> None:
    assert job_session_name(_token({"actor": "octocat"}), "dev") == "octocat"
    for unusable in ({"actor": "a b"}, {"actor": "x" * 65}, {}, ["actor"]):
        assert job_session_name(_token(unusable), "dev") == "smartstack-dev"
    assert job_session_name("not-a-jwt", "prod") == "smartstack-prod"
