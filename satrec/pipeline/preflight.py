"""Training preflight: everything that can fail before a GPU is paid for, checked in one place.

From the published ``dataset.json`` and the execution's overrides it builds the hyperparameter
document with the same code ``satrec train-local`` uses (:mod:`satrec.hyperparams`), validates
it against the dataset (``num_training_samples`` equals the records written, labels fit
``num_classes``, images at least ``image_shape``), refuses non-GPU instance types, checks the
account's quota, and returns the run-time values the training state's parameters point at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from satrec import layout
from satrec.documents import DatasetDoc
from satrec.errors import HyperparameterError
from satrec.pipeline.inputs import PipelineInput
from satrec.pipeline.quotas import check_training_quota
from satrec.pipeline.s3io import get_bytes
from satrec.pipeline.training_job import DEFAULT_GPU_FAMILIES, job_name, resource_config


@dataclass(frozen=True)
class TrainingTarget:
    """Deploy-time settings of the training step (the Lambda's environment)."""

    data_bucket: str
    artifacts_bucket: str
    volume_kms_key: str | None = None
    gpu_families: tuple[str, ...] = DEFAULT_GPU_FAMILIES
    job_prefix: str = "satrec"


def dataset_json_key(dataset: str, run_id: str) -> str:
    return layout.run_dataset_key(dataset, run_id, layout.meta_path(layout.DATASET_JSON))


def channel_uri(bucket: str, dataset: str, run_id: str, split: str) -> str:
    return f"s3://{bucket}/{layout.run_dataset_key(dataset, run_id, layout.CHANNELS[split])}/"


def preflight(s3: Any, quotas: Any, run: PipelineInput, target: TrainingTarget) -> dict[str, Any]:
    doc = DatasetDoc.from_json(get_bytes(s3, target.data_bucket,
                                          dataset_json_key(run.dataset, run.run_id)).decode())
    from satrec.hyperparams import Hyperparameters

    hp = Hyperparameters.from_dataset(doc, run.hyperparameters).validate(doc)
    hyperparameters = hp.to_sagemaker()
    if int(hyperparameters["num_training_samples"]) != doc.records("train"):
        raise HyperparameterError(f"num_training_samples {hyperparameters['num_training_samples']} differs from the "
                                  f"{doc.records('train')} records written to the train channel; drop the override")
    resources = resource_config(run.instance_type, instance_count=run.instance_count,
                                volume_size_gb=run.volume_size_gb, volume_kms_key=target.volume_kms_key,
                                gpu_families=target.gpu_families)
    quota = check_training_quota(quotas, run.instance_type, instance_count=run.instance_count, spot=run.spot)
    name = job_name(target.job_prefix, run.dataset, run.run_id)
    return {
        "job_name": name,
        "hyperparameters": hyperparameters,
        "resource_config": resources,
        "input_mode": run.input_mode,
        "max_runtime_seconds": run.max_runtime_seconds,
        "max_wait_seconds": run.max_wait_seconds,
        "spot": run.spot,
        "incremental": run.incremental,
        "model_uri": run.base_model,
        "train_uri": channel_uri(target.data_bucket, run.dataset, run.run_id, "train"),
        "validation_uri": channel_uri(target.data_bucket, run.dataset, run.run_id, "validation"),
        "output_uri": f"s3://{target.artifacts_bucket}/{layout.model_output_prefix(run.dataset)}",
        "checkpoint_uri": f"s3://{target.artifacts_bucket}/{layout.checkpoint_prefix(run.dataset, name)}",
        "quota": quota.to_dict(),
    }
