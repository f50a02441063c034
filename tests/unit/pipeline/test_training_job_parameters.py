"""The one function that builds createTrainingJob parameters, with concrete values (the demo's and tests')."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from satrec.errors import ConfigError
from satrec.pipeline import image_uris
from satrec.pipeline.training_job import Path as StatePath
from satrec.pipeline.training_job import (
    TrainingJobSpec,
    job_name,
    render,
    resource_config,
    stopping_condition,
    training_job_parameters,
)


def _spec(**changes: object) -> TrainingJobSpec:
    values: dict = dict(
        job_name="satrec-d-run", image_uri=image_uris.image_uri("eu-west-1"), role_arn="arn:aws:iam::1:role/t",
        train_uri="s3://b/d/train/", validation_uri="s3://b/d/validation/", output_uri="s3://a/models/d/",
        hyperparameters={"num_classes": "3", "num_training_samples": "10"},
        resource_config=resource_config("ml.p3.2xlarge", instance_count=1, volume_size_gb=50,
                                        volume_kms_key="arn:aws:kms:eu-west-1:1:key/k"),
        max_runtime_seconds=3600, output_kms_key="arn:aws:kms:eu-west-1:1:key/k",
        subnet_ids=["subnet-1"], security_group_ids=["sg-1"])
    values.update(changes)
    return TrainingJobSpec(**values)


def test_on_demand_file_mode_job_has_recordio_channels_and_no_spot_settings() -> None:
    params = training_job_parameters(_spec())
    channels = params["InputDataConfig"]
    assert [c["ChannelName"] for c in channels] == ["train", "validation"]
    for channel in channels:
        assert channel["ContentType"] == "application/x-recordio"
        assert channel["InputMode"] == "File"
        assert channel["DataSource"]["S3DataSource"] == {"S3DataType": "S3Prefix", "S3Uri": channel["DataSource"][
            "S3DataSource"]["S3Uri"], "S3DataDistributionType": "FullyReplicated"}
    assert params["EnableManagedSpotTraining"] is False and "CheckpointConfig" not in params
    assert params["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert params["EnableInterContainerTrafficEncryption"] is True
    assert params["VpcConfig"] == {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    assert params["OutputDataConfig"]["KmsKeyId"].startswith("arn:aws:kms:")


def test_spot_needs_checkpoints_and_a_longer_max_wait() -> None:
    with pytest.raises(ConfigError, match="checkpoint"):
        training_job_parameters(_spec(spot=True, max_wait_seconds=7200))
    with pytest.raises(ConfigError, match="greater than"):
        training_job_parameters(_spec(spot=True, max_wait_seconds=3600, checkpoint_uri="s3://a/c/"))
    params = training_job_parameters(_spec(spot=True, max_wait_seconds=7200, checkpoint_uri="s3://a/c/"))
    assert params["EnableManagedSpotTraining"] is True
    assert params["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert params["CheckpointConfig"] == {"S3Uri": "s3://a/c/", "LocalPath": "/opt/ml/checkpoints"}


def test_pipe_mode_applies_to_data_channels_and_the_model_channel_stays_file() -> None:
    params = training_job_parameters(_spec(input_mode="Pipe", model_uri="s3://a/models/m.tar.gz"))
    modes = {c["ChannelName"]: (c["InputMode"], c["ContentType"]) for c in params["InputDataConfig"]}
    assert modes == {"train": ("Pipe", "application/x-recordio"), "validation": ("Pipe", "application/x-recordio"),
                     "model": ("File", "application/x-sagemaker-model")}
    assert params["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"


@pytest.mark.parametrize("instance", ["ml.m5.xlarge", "ml.c5.2xlarge", "ml.t3.medium", "ml.p2.xlarge"])
def test_cpu_and_legacy_instances_are_refused(instance: str) -> None:
    with pytest.raises(ConfigError, match="GPU"):
        resource_config(instance, instance_count=1, volume_size_gb=10, volume_kms_key=None)
    with pytest.raises(ConfigError, match="GPU"):
        training_job_parameters(_spec(resource_config={"InstanceType": instance, "InstanceCount": 1,
                                                       "VolumeSizeInGB": 10}))


def test_the_volume_key_is_set_only_where_the_instance_has_no_local_nvme() -> None:
    key = "arn:aws:kms:r:1:key/k"
    assert resource_config("ml.p3.2xlarge", instance_count=1, volume_size_gb=5, volume_kms_key=key)[
        "VolumeKmsKeyId"] == key
    for instance in ("ml.g4dn.xlarge", "ml.g5.2xlarge"):
        assert "VolumeKmsKeyId" not in resource_config(instance, instance_count=1, volume_size_gb=5,
                                                       volume_kms_key=key)


def test_job_names_follow_sagemakers_rules_and_keep_the_prefix() -> None:
    pattern = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    assert job_name("satrec", "eurosat", "run-1") == "satrec-eurosat-run-1"
    long_a = job_name("satrec", "d" * 90, "run_with.dots-and-more" * 3)
    long_b = job_name("satrec", "d" * 90, "run_with.dots-and-more" * 3 + "x")
    for name in (long_a, long_b, job_name("satrec", "a.b_c", "--x--")):
        assert pattern.match(name), name
        assert name.startswith("satrec-")
    assert long_a != long_b


def test_paths_render_as_state_machine_references() -> None:
    assert render({"A": StatePath("$.x"), "B": [{"C": StatePath("$.y")}], "D": 1}) == \
        {"A.$": "$.x", "B": [{"C.$": "$.y"}], "D": 1}
    with pytest.raises(ConfigError):
        render({"A": [StatePath("$.x")]})
    with pytest.raises(ConfigError):
        StatePath("x")


def test_stopping_condition_refuses_spot_without_room_to_wait() -> None:
    with pytest.raises(ConfigError):
        stopping_condition(3600, None, spot=True)
    assert stopping_condition(3600, 9000, spot=False) == {"MaxRuntimeInSeconds": 3600}


def _sdk_table() -> dict[str, str]:
    """The table sagemaker-core ships, found through its installed files (importing it is not needed)."""
    from importlib import metadata

    try:
        files = metadata.files("sagemaker-core") or []
    except metadata.PackageNotFoundError:
        pytest.skip("sagemaker-core (the dev extra) is not installed")
    (path,) = [f for f in files if str(f).endswith("image_uri_config/image-classification.json")]
    data = json.loads(Path(str(path.locate())).read_text())
    return dict(data["versions"][image_uris.TAG]["registries"])


def test_the_vendored_region_table_matches_the_sagemaker_sdk() -> None:
    assert _sdk_table() == image_uris.REGISTRY_ACCOUNTS


def test_image_uris_use_the_partitions_domain() -> None:
    assert image_uris.image_uri("us-east-1") == "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
    assert image_uris.image_uri("cn-north-1").endswith(".dkr.ecr.cn-north-1.amazonaws.com.cn/image-classification:1")
    with pytest.raises(ConfigError, match="not published"):
        image_uris.image_uri("mars-west-1")
