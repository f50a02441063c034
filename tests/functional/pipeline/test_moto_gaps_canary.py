"""Canary: fails when a moto upgrade closes a gap that moto_sfn.py patches (then delete that patch)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.cloudsim.moto_sfn import wait_for
from tests.functional.conftest import make_batch_queue

REGION = "us-east-1"


def _run(definition: dict[str, Any]) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(name="canary", definition=json.dumps(definition),
                                   roleArn="arn:aws:iam::123456789012:role/canary")["stateMachineArn"]
    return wait_for(sfn, sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"], timeout=30)


@pytest.fixture
def unpatched(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "batch": {"use_docker": False}}):
        yield


def test_moto_still_cannot_run_batch_submit_job_sync(unpatched: None) -> None:
    queue = make_batch_queue(boto3.client("batch", region_name=REGION), boto3.client("iam", region_name=REGION),
                             boto3.client("ec2", region_name=REGION))
    result = _run({"StartAt": "Submit", "States": {"Submit": {
        "Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "End": True,
        "Parameters": {"JobName": "canary", "JobQueue": queue.queue_arn, "JobDefinition": queue.job_definition_arn,
                       "Parameters": {"batch": "s3://x/y.json"}}}}})
    assert result["status"] == "FAILED", "moto now runs batch:submitJob.sync: drop the normalisation patch"


def test_moto_still_cannot_run_sagemaker_create_training_job_sync(unpatched: None) -> None:
    result = _run({"StartAt": "Train", "States": {"Train": {
        "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync", "End": True,
        "Parameters": {"TrainingJobName": "canary", "RoleArn": "arn:aws:iam::123456789012:role/canary",
                       "AlgorithmSpecification": {"TrainingImage": "x", "TrainingInputMode": "File"},
                       "OutputDataConfig": {"S3OutputPath": "s3://x/"},
                       "ResourceConfig": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 1},
                       "StoppingCondition": {"MaxRuntimeInSeconds": 60}}}}})
    assert result["status"] == "FAILED", "moto now runs createTrainingJob.sync: drop the SageMaker service patch"
