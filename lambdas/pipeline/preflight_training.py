"""State "Check the training preflight": hyperparameters, GPU allow-list, Service Quotas.

Event: {"run": <validated input>}. Environment: DATA_BUCKET, ARTIFACTS_BUCKET, GPU_FAMILIES,
JOB_PREFIX, VOLUME_KMS_KEY (optional). Returns the run-time values the training state reads.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from satrec.pipeline.inputs import PipelineInput
from satrec.pipeline.preflight import TrainingTarget, preflight


def target_from_environment() -> TrainingTarget:
    families = tuple(p for p in os.environ.get("GPU_FAMILIES", "").split(",") if p)
    return TrainingTarget(data_bucket=os.environ["DATA_BUCKET"], artifacts_bucket=os.environ["ARTIFACTS_BUCKET"],
                          volume_kms_key=os.environ.get("VOLUME_KMS_KEY") or None,
                          **({"gpu_families": families} if families else {}),
                          job_prefix=os.environ.get("JOB_PREFIX", "satrec"))


def quotas_client() -> Any:
    return boto3.client("service-quotas")


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    run = PipelineInput.from_dict(event["run"])
    return preflight(boto3.client("s3"), quotas_client(), run, target_from_environment())
