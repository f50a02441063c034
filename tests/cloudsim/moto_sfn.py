"""Every patch of moto internals the pipeline tests need, in one place (moto pinned in constraints.txt).

moto 5.2.5's Step Functions interpreter runs our definition except for three gaps, closed here
for the duration of a test by ``patched_moto(...)``:

1. ``batch:submitJob.sync``: the interpreter's request/response normalisation is stubbed out
   (``StateTaskService._normalise_parameters`` is ``pass``), so Batch receives ``JobDefinition``
   instead of ``jobDefinition`` and the execution dies with ``States.Runtime``. We normalise with
   botocore's own shapes, as the interpreter's upstream (LocalStack) does.
2. ``sagemaker:createTrainingJob.sync`` is "unsupported" (only ``.waitForTaskToken``): we add a
   service that calls moto's CreateTrainingJob and resolves ``.sync`` by polling
   DescribeTrainingJob, failing with ``States.TaskFailed`` and the job description as the cause,
   as AWS does.
3. Batch without Docker marks jobs SUCCEEDED without running them, and Lambda without Docker
   echoes its input: ``containers`` and ``handlers`` run the real code in-process instead (the
   ``satrec`` CLI with ``AWS_BATCH_JOB_ARRAY_INDEX``; our handler functions), with a failing
   child failing its array job and a raising handler reported as a function error.

tests/functional/pipeline/test_moto_gaps_canary.py fails when an upgrade closes gap 1 or 2:
delete the matching patch then. Used by the pipeline tests and by ``make demo-cloud``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from unittest import mock

import botocore.session
from moto.batch_simple.models import BatchSimpleBackend
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

Handler = Callable[[dict[str, Any], Any], Any]
ContainerRunner = Callable[[list[str], dict[str, str]], int]

_BOTO = botocore.session.get_session()


def _operation(service: str, action: str) -> Any:
    model = _BOTO.get_service_model(service)
    wanted = action.replace("_", "").lower()
    for name in model.operation_names:
        if name.lower() == wanted:
            return model.operation_model(name)
    raise KeyError(f"{service} has no operation {action}")


# ------------------------------------------------------------------ gap 1: normalisation

def _normalise_parameters(self: StateTaskService, parameters: dict, boto_service_name: str | None = None,
                          service_action_name: str | None = None) -> None:
    service = self._get_boto_service_name(boto_service_name)
    action = self._get_boto_service_action(service_action_name)
    shape = _operation(service, action).input_shape
    if shape is not None:
        self._to_boto_request(parameters, shape)


def _normalise_response(self: StateTaskService, response: Any, boto_service_name: str | None = None,
                        service_action_name: str | None = None) -> None:
    service = self._get_boto_service_name(boto_service_name)
    action = self._get_boto_service_action(service_action_name)
    shape = _operation(service, action).output_shape
    if shape is not None:
        self._from_boto_response(response, shape)


# ------------------------------------------------------------------ gap 2: SageMaker .sync

def _json_safe(value: Any) -> Any:
    """Step Functions renders SageMaker timestamps as epoch milliseconds."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


class StateTaskServiceSageMakerSync(StateTaskServiceCallback):
    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.Sync,
                                                         ResourceCondition.WaitForTaskToken})

    def _get_supported_parameters(self) -> set[str] | None:
        return None   # all of CreateTrainingJob's parameters pass through

    def _validate_service_integration_is_supported(self) -> None:
        if self.resource.api_action.lower() != "createtrainingjob":
            raise ValueError(f"test patch supports createTrainingJob only, not {self.resource.api_action}")

    def _eval_service_task(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                           state_credentials: Any) -> None:
        client = boto_client_for(region=resource_runtime_part.region, service="sagemaker",
                                 state_credentials=state_credentials)
        response = client.create_training_job(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        if _active is not None and _active.trainer is not None:
            # The demo's stand-in for SageMaker: train locally, then complete the moto job with its results.
            _active.trainer(normalised_parameters)
        env.stack.append(response)

    def _build_sync_resolver(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                             state_credentials: Any) -> Callable[[], Any]:
        client = boto_client_for(region=resource_runtime_part.region, service="sagemaker",
                                 state_credentials=state_credentials)
        env.stack.pop()
        name = normalised_parameters["TrainingJobName"]

        def resolve() -> dict | None:
            job = _json_safe(client.describe_training_job(TrainingJobName=name))
            job.pop("ResponseMetadata", None)
            status = job["TrainingJobStatus"]
            if status == "Completed":
                return job
            if status in ("Failed", "Stopped"):
                raise FailureEventException(FailureEvent(
                    env=env, error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                        resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type(),
                        error=StatesErrorNameType.StatesTaskFailed.to_name(), cause=to_json_str(job)))))
            return None

        return resolve


_active: InProcess | None = None
_original_factory = state_task_factory.state_task_service_for


def _factory(service_name: str) -> Any:
    if service_name == "sagemaker":
        return StateTaskServiceSageMakerSync()
    return _original_factory(service_name)


# ------------------------------------------------------------------ gap 3: real code in-process

class InProcess:
    """What runs when the interpreter invokes a function or Batch starts a container."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.container: ContainerRunner | None = None
        self.trainer: Callable[[dict[str, Any]], None] | None = None
        self.invocations: list[tuple[str, dict[str, Any]]] = []
        self.containers_run: list[tuple[list[str], dict[str, str], int]] = []
        self._child_results: dict[str, list[bool]] = {}

    # Lambda ------------------------------------------------------------
    def invoke(self, backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any,
               response_headers: dict[str, str]) -> bytes:
        name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
        handler = self.handlers[name]
        event = json.loads(body) if body else {}
        self.invocations.append((name, event))
        try:
            result = handler(event, _LambdaContext(name))
        except Exception as exc:   # what the Lambda runtime reports for an unhandled exception
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
        return json.dumps(result).encode()

    # Batch -------------------------------------------------------------
    def finish_job(self, backend: Any, include_start_attempt: bool, job: Any) -> None:
        backend.backend._jobs[job.job_id] = job
        job.job_started_at = datetime.now()
        job.log_stream_name = job._stream_name
        if include_start_attempt:
            job._start_attempt()
        index = (job.array_properties or {}).get("index")
        is_parent = "size" in (job.array_properties or {})
        if is_parent:
            results = self._child_results.get(job.job_id, [])
            job._mark_stopped(success=bool(results) and all(results))
            return
        command = job._add_parameters_to_command(list((job.container_overrides or {}).get("command")
                                                      or job.job_definition.container_properties.get("command", [])))
        environment = {e["name"]: e["value"]
                       for e in [*job.job_definition.container_properties.get("environment", []),
                                 *(job.container_overrides or {}).get("environment", [])]}
        if index is not None:
            environment["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
        code = self.container(command, environment) if self.container else 0
        self.containers_run.append((command, environment, code))
        if code != 0:
            job.job_stopped_reason = f"Essential container in task exited (exit code {code})"
        if index is not None:
            parent = job.job_id.rsplit(":", 1)[0]
            self._child_results.setdefault(parent, []).append(code == 0)
        job._mark_stopped(success=code == 0)


class _LambdaContext:
    """The attributes handlers (and Powertools' logger) read from a Lambda context."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = "00000000-0000-0000-0000-000000000000"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def run_cli(argv: list[str], environment: dict[str, str]) -> int:
    """The container's entry point (``satrec`` CLI), in this process, with the job's environment."""
    from satrec.cli import main

    with mock.patch.dict(os.environ, environment):
        return main(argv)


@contextlib.contextmanager
def patched_moto(in_process: InProcess) -> Iterator[InProcess]:
    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        return in_process.invoke(self, function_name, qualifier, body, headers, response_headers)

    def finish(self: Any, include_start_attempt: bool, job: Any) -> None:
        in_process.finish_job(self, include_start_attempt, job)

    from moto.awslambda_simple.models import LambdaSimpleBackend

    global _active
    _active = in_process
    with mock.patch.object(StateTaskServiceBatch, "_normalise_parameters", _normalise_parameters), \
            mock.patch.object(StateTaskServiceBatch, "_normalise_response", _normalise_response), \
            mock.patch.object(state_task_factory, "state_task_service_for", _factory), \
            mock.patch.object(LambdaSimpleBackend, "invoke", invoke), \
            mock.patch.object(BatchSimpleBackend, "_mark_job_as_finished", finish):
        try:
            yield in_process
        finally:
            _active = None


def wait_for(sfn: Any, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_arn} still running after {timeout} s")
        time.sleep(0.05)


def entered_states(sfn: Any, execution_arn: str) -> list[str]:
    """Names of the states entered, in order (the execution history)."""
    history = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
