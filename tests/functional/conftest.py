"""Shared fixtures for moto-backed functional tests (none is autouse).

``aws_env``: fake credentials and region, and no real endpoint or profile leaking in.
``moto_server``: a ThreadedMotoServer on a free port, for code that runs in another process
(the converter container's entry point) and reaches it through ``AWS_ENDPOINT_URL``.
``batch_queue``: a job queue and job definition inside the active moto backend.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).parent / "events"
REGION = "us-east-1"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BATCH_JOB_ARRAY_INDEX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def moto_server(aws_env: None) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@dataclass
class FakeLambdaContext:
    """The attributes Powertools' ``inject_lambda_context`` reads."""

    function_name: str = "satrec-upload-trigger"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:satrec-upload-trigger"
    aws_request_id: str = "req-1"


@dataclass(frozen=True)
class BatchQueue:
    queue_arn: str
    job_definition_arn: str


def make_batch_queue(session_client: Any, iam: Any, ec2: Any) -> BatchQueue:
    """A Fargate compute environment, queue and job definition in moto (jobs 'run' at once)."""
    from tests.cloudsim.cloud_sim import fargate_job_queue

    queue_arn, role = fargate_job_queue(session_client, iam, ec2, name="satrec-convert")
    definition = session_client.register_job_definition(
        jobDefinitionName="satrec-convert-uploads", type="container", platformCapabilities=["FARGATE"],
        containerProperties={"image": "satrec-converter",
                             "command": ["job", "convert-uploads", "--batch", "Ref::batch"],
                             "executionRoleArn": role,
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "2048"}]})
    return BatchQueue(queue_arn, definition["jobDefinitionArn"])
