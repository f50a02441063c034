"""CDK assertions on the TrainingWorkflow: its states, the training parameters, the guard, IAM scope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import assertions

from stacks import training_workflow as tw

TASK_STATES = [tw.VALIDATE_INPUT, tw.RECONCILE, tw.PLAN, tw.PACK, tw.ASSEMBLE, tw.VALIDATE_DATASET, tw.PREFLIGHT,
               *tw.TRAIN_STATES.values(), tw.REPORT]

pytestmark = [pytest.mark.cdk]


def _states(definition: dict[str, Any]) -> dict[str, Any]:
    return definition["States"]


def test_states_are_named_as_sentences_in_pipeline_order(definition: dict[str, Any]) -> None:
    states = _states(definition)
    assert definition["StartAt"] == tw.VALIDATE_INPUT
    for name in [*TASK_STATES, tw.RECONCILE_CHOICE, tw.TRAIN_CHOICE, tw.MODE_CHOICE, tw.NOTIFY_SUCCESS,
                 tw.SUCCEEDED, tw.DESCRIBE_FAILURE, tw.NOTIFY_FAILURE, tw.FAILED]:
        assert name in states, name
    assert states[tw.PLAN]["Next"] == tw.PACK
    assert states[tw.PACK]["Next"] == tw.ASSEMBLE
    assert states[tw.ASSEMBLE]["Next"] == tw.VALIDATE_DATASET
    assert states[tw.VALIDATE_DATASET]["Next"] == tw.TRAIN_CHOICE
    assert states[tw.PREFLIGHT]["Next"] == tw.MODE_CHOICE


def test_batch_and_training_states_run_as_jobs_with_sync(definition: dict[str, Any]) -> None:
    states = _states(definition)
    for name in (tw.RECONCILE, tw.PACK, tw.ASSEMBLE):
        assert states[name]["Resource"].endswith(":states:::batch:submitJob.sync"), name
    assert states[tw.PACK]["Parameters"]["ArrayProperties"] == {"Size.$": "$.plan.Payload.array_size"}
    assert "States.Array('job', 'pack', '--plan'" in states[tw.PACK]["Parameters"]["ContainerOverrides"]["Command.$"]
    for name in tw.TRAIN_STATES.values():
        assert states[name]["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync"), name


def test_every_task_retries_with_backoff_and_every_failure_is_notified(definition: dict[str, Any]) -> None:
    states = _states(definition)
    for name in TASK_STATES:
        state = states[name]
        assert state["Retry"] and all(r["BackoffRate"] >= 2 and r["MaxAttempts"] >= 1 for r in state["Retry"]), name
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] == "$.error"
        note = states[catch["Next"]]
        assert note["Parameters"] == {"state": name} and note["Next"] == tw.DESCRIBE_FAILURE
    assert states[tw.DESCRIBE_FAILURE]["Next"] == tw.NOTIFY_FAILURE
    assert states[tw.NOTIFY_FAILURE]["Resource"].endswith(":states:::sns:publish")
    assert states[tw.NOTIFY_FAILURE]["Next"] == tw.FAILED and states[tw.FAILED]["Type"] == "Fail"
    # If describing the failure itself fails, the raw error still goes out before the Fail state.
    fallback = states[tw.DESCRIBE_FAILURE]["Catch"][0]["Next"]
    assert states[fallback]["Resource"].endswith(":states:::sns:publish") and states[fallback]["Next"] == tw.FAILED


def test_training_parameters_use_recordio_channels_kms_vpc_and_encryption(definition: dict[str, Any]) -> None:
    for (spot, incremental), name in tw.TRAIN_STATES.items():
        params = _states(definition)[name]["Parameters"]
        assert params["AlgorithmSpecification"]["TrainingImage"].endswith(
            ".dkr.ecr.<Ref:AWS::Region>.<Ref:AWS::URLSuffix>/image-classification:1")
        channels = {c["ChannelName"]: c for c in params["InputDataConfig"]}
        assert set(channels) == ({"train", "validation", "model"} if incremental else {"train", "validation"})
        for channel in ("train", "validation"):
            assert channels[channel]["ContentType"] == "application/x-recordio"
            assert channels[channel]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
            assert channels[channel]["InputMode.$"] == "$.preflight.Payload.input_mode"
        if incremental:
            assert channels["model"]["ContentType"] == "application/x-sagemaker-model"
        assert params["OutputDataConfig"]["KmsKeyId"].startswith("<GetAtt:Key")
        assert params["VpcConfig"]["Subnets"] and params["VpcConfig"]["SecurityGroupIds"]
        assert params["EnableInterContainerTrafficEncryption"] is True
        assert params["EnableNetworkIsolation"] is True
        assert params["ResourceConfig.$"] == "$.preflight.Payload.resource_config"
        assert params["EnableManagedSpotTraining"] is spot
        if spot:
            assert params["StoppingCondition"]["MaxWaitTimeInSeconds.$"] == "$.preflight.Payload.max_wait_seconds"
            assert params["CheckpointConfig"]["S3Uri.$"] == "$.preflight.Payload.checkpoint_uri"
        else:
            assert "MaxWaitTimeInSeconds.$" not in params["StoppingCondition"] and "CheckpointConfig" not in params
        assert len(params["AlgorithmSpecification"]["MetricDefinitions"]) >= 2


def test_no_cpu_instance_can_reach_a_training_state(definition: dict[str, Any]) -> None:
    states = _states(definition)
    training = set(tw.TRAIN_STATES.values())
    # Only the mode choice leads into training, and each of its rules requires a GPU family.
    for name, state in states.items():
        targets = {state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Catch", []))}
        targets |= {rule["Next"] for rule in state.get("Choices", [])}
        if targets & training:
            assert name == tw.MODE_CHOICE, f"{name} leads into training without the GPU guard"
    choice = states[tw.MODE_CHOICE]
    for rule in choice["Choices"]:
        (gpu,) = [c for c in rule["And"] if "Or" in c]
        patterns = {c["StringMatches"] for c in gpu["Or"]}
        assert patterns == {"ml.p3.*", "ml.g4dn.*", "ml.g5.*"}
        assert all(c["Variable"] == "$.preflight.Payload.resource_config.InstanceType" for c in gpu["Or"])
    assert choice["Default"] == tw.REFUSE_CPU


def _statements(template: assertions.Template) -> list[dict[str, Any]]:
    out = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def test_pass_role_goes_to_sagemaker_only_and_training_jobs_are_scoped_by_name_prefix(
        template: assertions.Template) -> None:
    statements = _statements(template)
    pass_role = [s for s in statements if "iam:PassRole" in json.dumps(s["Action"])]
    assert pass_role, "the state machine must pass the training role"
    for statement in pass_role:
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        assert "TrainingRole" in json.dumps(statement["Resource"])
    create = [s for s in statements if "sagemaker:CreateTrainingJob" in json.dumps(s["Action"])]
    (statement,) = create
    assert ":training-job/satrec-*" in json.dumps(statement["Resource"])
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement


def test_the_training_role_is_assumed_by_sagemaker_only(template: assertions.Template) -> None:
    roles = template.find_resources("AWS::IAM::Role")
    (training,) = [r for lid, r in roles.items() if lid.startswith("WorkflowTrainingRole")]
    principals = [s["Principal"] for s in training["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == [{"Service": "sagemaker.amazonaws.com"}]


def test_the_ready_marker_starts_an_execution_when_enabled(template: assertions.Template) -> None:
    template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"source": ["aws.s3"], "detail-type": ["Object Created"],
                         "detail": {"object": {"key": [{"wildcard": "incoming/*/_READY"}]}}},
        "Targets": assertions.Match.array_with([assertions.Match.object_like({
            "InputTransformer": assertions.Match.object_like({
                "InputPathsMap": {"detail-object-key": "$.detail.object.key"}})})]),
    })


def test_the_state_machine_logs_and_traces(template: assertions.Template) -> None:
    template.has_resource_properties("AWS::StepFunctions::StateMachine", {
        "TracingConfiguration": {"Enabled": True},
        "LoggingConfiguration": assertions.Match.object_like({"Level": "ALL", "IncludeExecutionData": True}),
    })
