"""The raw ``sagemaker:createTrainingJob.sync`` parameters: one small function, one place.

CDK's ``SageMakerCreateTrainingJob`` cannot express managed Spot, checkpoints, MaxWait or
inter-container traffic encryption, so the state machine uses a custom state whose parameters
come from :func:`training_job_parameters`. The same function serves the CDK construct (values
that are only known at run time are :class:`Path` references, rendered as ``"Key.$"``) and the
tests and demo (all values concrete, which is exactly the ``CreateTrainingJob`` request).

What the built-in Image Classification algorithm and our security posture require, and why:
- channels ``train`` and ``validation``: ``application/x-recordio``, ``S3Prefix``,
  ``FullyReplicated`` (required in Pipe mode); the channel prefix holds the ``.rec`` only;
- optional ``model`` channel (``application/x-sagemaker-model``, File mode) for incremental training;
- managed Spot only with a checkpoint location and ``MaxWaitTimeInSeconds > MaxRuntimeInSeconds``;
- GPU instances only (:data:`DEFAULT_GPU_FAMILIES`); a CPU type raises before any request;
- the output is encrypted with the stack's key; the volume key is set only for instance types
  without local NVMe storage, because SageMaker rejects ``VolumeKmsKeyId`` for G4dn/G5 (their
  instance storage is encrypted by the hardware);
- inter-container traffic encryption and network isolation on; VPC subnets and security groups.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from satrec.errors import ConfigError

RECORDIO = "application/x-recordio"
MODEL_CONTENT_TYPE = "application/x-sagemaker-model"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
DEFAULT_GPU_FAMILIES = ("ml.p3.", "ml.g4dn.", "ml.g5.")
# Families whose instances have local NVMe storage: SageMaker refuses a volume KMS key for them.
NVME_FAMILIES = ("ml.g4dn.", "ml.g5.", "ml.p3dn.", "ml.p4d.", "ml.p4de.", "ml.p5.", "ml.g6.", "ml.g6e.",
                 "ml.m5d.", "ml.c5d.", "ml.r5d.")
JOB_NAME_MAX = 63
DEFAULT_JOB_PREFIX = "satrec"

# The algorithm logs MXNet's ``Epoch[3] Validation-accuracy=0.91`` lines; these names are what
# the report reads back from FinalMetricDataList.
METRIC_DEFINITIONS: tuple[dict[str, str], ...] = (
    {"Name": "train:accuracy", "Regex": r"Epoch\[\d+\] Train-accuracy=([0-9.]+)"},
    {"Name": "validation:accuracy", "Regex": r"Epoch\[\d+\] Validation-accuracy=([0-9.]+)"},
    {"Name": "train:epoch-seconds", "Regex": r"Epoch\[\d+\] Time cost=([0-9.]+)"},
)


@dataclass(frozen=True)
class Path:
    """A JSONPath into the state's input, resolved by Step Functions when the state runs."""

    path: str

    def __post_init__(self) -> None:
        if not self.path.startswith("$"):
            raise ConfigError(f"a state path must start with '$', got {self.path!r}")


Value = Any  # a concrete JSON value or a Path


@dataclass(frozen=True)
class TrainingJobSpec:
    job_name: Value
    image_uri: str
    role_arn: str
    train_uri: Value
    validation_uri: Value
    output_uri: Value
    hyperparameters: Value
    resource_config: Value            # from resource_config(), or a Path to its result
    max_runtime_seconds: Value
    input_mode: Value = "File"
    spot: bool = False
    max_wait_seconds: Value = None
    checkpoint_uri: Value = None
    model_uri: Value = None            # incremental training from a model.tar.gz
    output_kms_key: str | None = None
    subnet_ids: Sequence[str] = ()
    security_group_ids: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


def is_gpu_instance(instance_type: str, families: Sequence[str] = DEFAULT_GPU_FAMILIES) -> bool:
    return instance_type.startswith(tuple(families))


def has_local_nvme(instance_type: str) -> bool:
    return instance_type.startswith(NVME_FAMILIES)


def resource_config(instance_type: str, *, instance_count: int, volume_size_gb: int,
                    volume_kms_key: str | None, gpu_families: Sequence[str] = DEFAULT_GPU_FAMILIES) -> dict[str, Any]:
    """``ResourceConfig`` for a concrete instance type; refuses anything outside the GPU allow-list."""
    if not is_gpu_instance(instance_type, gpu_families):
        raise ConfigError(f"{instance_type} is not an allowed GPU training instance (allowed families: "
                          f"{', '.join(f + '*' for f in gpu_families)}); the image-classification algorithm "
                          "trains on GPUs only")
    config: dict[str, Any] = {"InstanceType": instance_type, "InstanceCount": instance_count,
                              "VolumeSizeInGB": volume_size_gb}
    if volume_kms_key and not has_local_nvme(instance_type):
        config["VolumeKmsKeyId"] = volume_kms_key
    return config


def stopping_condition(max_runtime_seconds: int, max_wait_seconds: int | None, *, spot: bool) -> dict[str, int]:
    if not spot:
        return {"MaxRuntimeInSeconds": max_runtime_seconds}
    if max_wait_seconds is None or max_wait_seconds <= max_runtime_seconds:
        raise ConfigError(f"Spot training needs MaxWaitTimeInSeconds ({max_wait_seconds}) greater than "
                          f"MaxRuntimeInSeconds ({max_runtime_seconds})")
    return {"MaxRuntimeInSeconds": max_runtime_seconds, "MaxWaitTimeInSeconds": max_wait_seconds}


_NOT_NAME = re.compile(r"[^A-Za-z0-9-]+")


def job_name(prefix: str, dataset: str, run_id: str) -> str:
    """A training job name within SageMaker's rules: ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``.

    Starts with ``prefix-`` (IAM scopes CreateTrainingJob to it). Too long a name is cut and
    given a digest of the whole, so two long run ids cannot collide.
    """
    whole = _NOT_NAME.sub("-", f"{prefix}-{dataset}-{run_id}").strip("-")
    whole = re.sub("-{2,}", "-", whole)
    if len(whole) <= JOB_NAME_MAX:
        return whole
    digest = hashlib.sha256(whole.encode()).hexdigest()[:8]
    return f"{whole[:JOB_NAME_MAX - 9].rstrip('-')}-{digest}"


def _channel(name: str, uri: Value, content_type: str, input_mode: Value | None) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                        "S3DataDistributionType": "FullyReplicated"}},
        "ContentType": content_type,
        "CompressionType": "None",
    }
    if input_mode is not None:
        channel["InputMode"] = input_mode
    return channel


def training_job_parameters(spec: TrainingJobSpec) -> dict[str, Any]:
    """The ``createTrainingJob`` request for ``spec``, with Paths rendered as ``"Key.$"``."""
    if spec.spot and (spec.checkpoint_uri is None or spec.max_wait_seconds is None):
        raise ConfigError("managed Spot training needs a checkpoint location and MaxWaitTimeInSeconds: a reclaimed "
                          "instance otherwise restarts from scratch or waits without bound")
    if isinstance(spec.resource_config, Mapping):
        instance_type = str(spec.resource_config.get("InstanceType", ""))
        if not is_gpu_instance(instance_type):
            raise ConfigError(f"{instance_type or 'no instance type'} is not a GPU training instance")
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": spec.max_runtime_seconds}
    if spec.spot:
        stopping["MaxWaitTimeInSeconds"] = spec.max_wait_seconds
        if not isinstance(spec.max_runtime_seconds, Path) and not isinstance(spec.max_wait_seconds, Path):
            stopping_condition(int(spec.max_runtime_seconds), int(spec.max_wait_seconds), spot=True)
    channels = [_channel("train", spec.train_uri, RECORDIO, spec.input_mode),
                _channel("validation", spec.validation_uri, RECORDIO, spec.input_mode)]
    if spec.model_uri is not None:
        # The model channel is always read as a file, whatever the data channels use.
        channels.append(_channel("model", spec.model_uri, MODEL_CONTENT_TYPE, "File"))
    output: dict[str, Any] = {"S3OutputPath": spec.output_uri}
    if spec.output_kms_key:
        output["KmsKeyId"] = spec.output_kms_key
    params: dict[str, Any] = {
        "TrainingJobName": spec.job_name,
        "AlgorithmSpecification": {
            "TrainingImage": spec.image_uri,
            "TrainingInputMode": spec.input_mode,
            "MetricDefinitions": [dict(m) for m in METRIC_DEFINITIONS],
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": spec.role_arn,
        "HyperParameters": spec.hyperparameters,
        "InputDataConfig": channels,
        "OutputDataConfig": output,
        "ResourceConfig": spec.resource_config,
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": spec.spot,
        "EnableInterContainerTrafficEncryption": True,
        "EnableNetworkIsolation": True,
    }
    if spec.spot:
        params["CheckpointConfig"] = {"S3Uri": spec.checkpoint_uri, "LocalPath": CHECKPOINT_LOCAL_PATH}
    if spec.subnet_ids:
        params["VpcConfig"] = {"Subnets": list(spec.subnet_ids), "SecurityGroupIds": list(spec.security_group_ids)}
    if spec.tags:
        params["Tags"] = [{"Key": k, "Value": v} for k, v in spec.tags.items()]
    return render(params)


def render(value: Any) -> Any:
    """Turn ``{"Key": Path("$.x")}`` into ``{"Key.$": "$.x"}``, recursively."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, Path):
                out[f"{key}.$"] = item.path
            else:
                out[key] = render(item)
        return out
    if isinstance(value, list | tuple):
        if any(isinstance(item, Path) for item in value):
            raise ConfigError("a state path cannot be a list element; pass the whole list as a Path")
        return [render(item) for item in value]
    return value
