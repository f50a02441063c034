"""The synthesized state machine, run by moto's interpreter with the real handlers and jobs in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from satrec import layout
from satrec.recordio import iter_records, unpack_image_record
from stacks.training_workflow import (
    DESCRIBE_FAILURE,
    FAILED,
    NOTIFY_FAILURE,
    NOTIFY_SUCCESS,
    PACK,
    PREFLIGHT,
    SUCCEEDED,
    TRAIN_STATES,
    VALIDATE_DATASET,
    VALIDATE_INPUT,
)
from tests.cloudsim.moto_sfn import entered_states
from tests.functional.pipeline.conftest import Cloud, upload_dataset

DATASET = "eurosat"

pytestmark = [pytest.mark.cdk, pytest.mark.slow]


def _download_run(cloud: Cloud, run_id: str, into: Path) -> Path:
    prefix = layout.dataset_run_prefix(DATASET, run_id)
    listed = cloud.s3.list_objects_v2(Bucket=cloud.data, Prefix=prefix)["Contents"]
    for obj in listed:
        target = into / obj["Key"][len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(cloud.s3.get_object(Bucket=cloud.data, Key=obj["Key"])["Body"].read())
    return into


def _history_names(cloud: Cloud, execution: dict[str, Any]) -> list[str]:
    return entered_states(cloud.sfn, execution["executionArn"])


def test_images_in_s3_become_recordio_channels_and_a_gpu_training_job(cloud: Cloud, tmp_path: Path) -> None:
    upload_dataset(cloud.s3, cloud.landing, DATASET, per_class=6)
    execution = cloud.start("run-1", {"dataset": DATASET, "hyperparameters": {"epochs": 2}})
    assert execution["status"] == "SUCCEEDED", execution.get("error") or execution.get("cause")
    names = _history_names(cloud, execution)
    assert TRAIN_STATES[(False, False)] in names and names[-1] == SUCCEEDED
    report = json.loads(execution["output"])

    # The channels: one .rec per channel prefix and nothing else; every input accounted for.
    assert report["inputs"] == {"total": 19, "packed": 18, "rejected": 1, "skipped": 0}
    for split in ("train", "validation"):
        keys = [o["Key"] for o in cloud.s3.list_objects_v2(
            Bucket=cloud.data, Prefix=layout.run_dataset_key(DATASET, "run-1", f"{split}/"))["Contents"]]
        assert keys == [layout.run_dataset_key(DATASET, "run-1", layout.rec_path(DATASET, split, 0))]

    # The channels pass satrec verify and MXNet's own reader.
    root = _download_run(cloud, "run-1", tmp_path / "run-1")
    from satrec.verify import verify_dataset

    verified = verify_dataset(root, min_size=32)
    assert verified.ok, [str(p) for p in verified.problems]
    train_rec = root / layout.rec_path(DATASET, "train", 0)
    with open(train_rec, "rb") as stream:
        train_records = [unpack_image_record(r.payload)[0] for r in iter_records(stream)]
    mxnet = pytest.importorskip("mxnet")
    reader = mxnet.recordio.MXIndexedRecordIO(str(root / layout.idx_path(DATASET, "train", 0)), str(train_rec), "r")
    assert len(reader.keys) == len(train_records)
    header, image = mxnet.recordio.unpack(reader.read_idx(reader.keys[-1]))
    assert header.label == train_records[-1].label
    # Byte-level packing: the record holds the normalised object's bytes as they are (no second encode).
    lst = (root / layout.lst_path(DATASET, "train", 0)).read_text().splitlines()
    normalised_key = lst[-1].split("\t")[2]
    assert image == cloud.s3.get_object(Bucket=cloud.data, Key=normalised_key)["Body"].read()

    # The training job: GPU, RecordIO channels, encryption, and hyperparameters equal to what was written.
    job = cloud.sagemaker.describe_training_job(TrainingJobName=report["training"]["job_name"])
    assert job["TrainingJobName"].startswith("satrec-eurosat-run-1")
    assert job["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"
    assert "VolumeKmsKeyId" not in job["ResourceConfig"]      # G4dn has NVMe storage: no volume key
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert set(channels) == {"train", "validation"}
    for name, channel in channels.items():
        assert channel["ContentType"] == "application/x-recordio"
        assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
        assert channel["DataSource"]["S3DataSource"]["S3Uri"] == \
            f"s3://{cloud.data}/{layout.run_dataset_key(DATASET, 'run-1', name)}/"
    assert job["EnableInterContainerTrafficEncryption"] is True
    assert job["HyperParameters"]["num_training_samples"] == str(len(train_records))
    assert job["HyperParameters"]["num_classes"] == "3"
    assert job["HyperParameters"]["epochs"] == "2"

    # The report: in the artifacts bucket, in the execution output, and on SNS.
    stored = json.loads(cloud.s3.get_object(Bucket=cloud.artifacts, Key=layout.report_key(DATASET, "run-1"))
                        ["Body"].read())
    assert stored == report
    assert report["records"]["train"] == len(train_records)
    (notice,) = cloud.notices()
    assert "succeeded" in notice["Subject"] and report["training"]["job_name"] in notice["Message"]
    assert NOTIFY_SUCCESS in names


def _assert_failure_notice(cloud: Cloud, execution: dict[str, Any], state: str, *fragments: str) -> str:
    assert execution["status"] == "FAILED"
    names = _history_names(cloud, execution)
    assert names[-3:] == [DESCRIBE_FAILURE, NOTIFY_FAILURE, FAILED], names
    assert f"Note that '{state}' failed" in names
    (notice,) = cloud.notices()
    assert f'"{state}"' in notice["Message"]
    for fragment in fragments:
        assert fragment in notice["Message"], notice["Message"]
    return str(notice["Message"])


def test_an_invalid_input_fails_at_validation_naming_the_field(cloud: Cloud) -> None:
    execution = cloud.start("bad-input", {"dataset": DATASET, "validation_fraction": 1.5})
    _assert_failure_notice(cloud, execution, VALIDATE_INPUT, "validation_fraction", "InputInvalid")
    assert not any(name == "satrec-Plan" for name, _ in cloud.in_process.invocations)


def test_a_failing_batch_child_fails_the_pack_state_and_publishes_nothing(cloud: Cloud) -> None:
    upload_dataset(cloud.s3, cloud.landing, DATASET, per_class=4)
    real = cloud.in_process.container

    def container(argv: list[str], environment: dict[str, str]) -> int:
        if argv[:2] == ["job", "pack"] and environment.get("AWS_BATCH_JOB_ARRAY_INDEX") == "1":
            return 1
        assert real is not None
        return real(argv, environment)

    cloud.in_process.container = container
    execution = cloud.start("child-fails", {"dataset": DATASET})
    _assert_failure_notice(cloud, execution, PACK, "AWS Batch job")
    published = cloud.s3.list_objects_v2(Bucket=cloud.data, Prefix=layout.dataset_run_prefix(DATASET, "child-fails"))
    assert published.get("KeyCount", 0) == 0


def test_a_failed_training_job_is_reported_with_sagemakers_failure_reason(cloud: Cloud) -> None:
    from moto.sagemaker.models import FakeTrainingJob

    upload_dataset(cloud.s3, cloud.landing, DATASET, per_class=4)
    original = FakeTrainingJob.__init__

    def failing(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.training_job_status = "Failed"
        self.failure_reason = "ClientError: Unable to initialize the algorithm. image_shape too large"

    FakeTrainingJob.__init__ = failing  # type: ignore[method-assign]
    try:
        execution = cloud.start("training-fails", {"dataset": DATASET})
    finally:
        FakeTrainingJob.__init__ = original  # type: ignore[method-assign]
    _assert_failure_notice(cloud, execution, TRAIN_STATES[(False, False)],
                           "SageMaker FailureReason: ClientError: Unable to initialize the algorithm")


class _ZeroQuota:
    """Service Quotas as a new account sees it: 0 GPU training instances."""

    def get_paginator(self, operation: str) -> Any:
        class Pages:
            def paginate(self, **_kwargs: Any) -> list[dict[str, Any]]:
                return [{"Quotas": [{"QuotaName": "ml.g4dn.xlarge for training job usage", "Value": 0.0}]}]
        return Pages()


def test_a_zero_gpu_quota_fails_the_preflight_before_any_training_job(cloud: Cloud) -> None:
    upload_dataset(cloud.s3, cloud.landing, DATASET, per_class=4)
    cloud.modules["Preflight"].quotas_client = _ZeroQuota
    execution = cloud.start("no-quota", {"dataset": DATASET})
    _assert_failure_notice(cloud, execution, PREFLIGHT, "QuotaUnavailable", "ml.g4dn.xlarge for training job usage")
    assert cloud.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


def test_spot_training_from_a_base_model_uses_checkpoints_max_wait_and_the_model_channel(cloud: Cloud) -> None:
    upload_dataset(cloud.s3, cloud.landing, DATASET, per_class=4)
    base = f"s3://{cloud.artifacts}/models/{DATASET}/earlier/output/model.tar.gz"
    execution = cloud.start("spot-run", {"dataset": DATASET, "spot": True, "max_runtime_seconds": 3600,
                                         "base_model": base, "instance_type": "ml.p3.2xlarge"})
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert TRAIN_STATES[(True, True)] in _history_names(cloud, execution)
    job = cloud.sagemaker.describe_training_job(TrainingJobName=json.loads(execution["output"])["training"]["job_name"])
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert job["CheckpointConfig"]["S3Uri"].startswith(f"s3://{cloud.artifacts}/checkpoints/{DATASET}/")
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert channels["model"]["DataSource"]["S3DataSource"]["S3Uri"] == base
    assert channels["model"]["ContentType"] == "application/x-sagemaker-model"
    assert job["ResourceConfig"]["VolumeKmsKeyId"].startswith("arn:aws:kms:")   # P3: no NVMe, so a volume key


def test_a_stray_object_in_a_channel_prefix_fails_validation_and_publishes_no_dataset_json(cloud: Cloud) -> None:
    upload_dataset(cloud.s3, cloud.landing, DATASET, per_class=4)
    real = cloud.in_process.container

    def container(argv: list[str], environment: dict[str, str]) -> int:
        assert real is not None
        code = real(argv, environment)
        if argv[:2] == ["job", "assemble"]:
            cloud.s3.put_object(Bucket=cloud.data, Key=layout.run_dataset_key(DATASET, "stray", "train/notes.txt"),
                                Body=b"not a record")
        return code

    cloud.in_process.container = container
    execution = cloud.start("stray", {"dataset": DATASET})
    _assert_failure_notice(cloud, execution, VALIDATE_DATASET, "VerificationError", "train/notes.txt")
    meta = layout.run_dataset_key(DATASET, "stray", layout.meta_path(layout.DATASET_JSON))
    assert cloud.s3.list_objects_v2(Bucket=cloud.data, Prefix=meta).get("KeyCount", 0) == 0
