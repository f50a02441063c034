"""Converter: Fargate (Spot first) compute, the queue, the job definition and its role."""

from __future__ import annotations

import json

import pytest

from satrec.cli import build_parser
from satrec.cloud.scenes import SCRATCH_ENV
from satrec.cloud.settings import ENV_DEFAULTS
from satrec.jobs import convert_uploads
from stacks.converter import CONVERT_COMMAND, SCRATCH_PATH, dockerignore_patterns
from tests.infra.conftest import Synthesized

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk-app")]


def job_definition(s: Synthesized) -> dict:
    return s.by_path("AWS::Batch::JobDefinition", "/Converter/ConvertUploads/")["Properties"]


def test_spot_environment_comes_first_then_on_demand(synthesized: Synthesized) -> None:
    spot = synthesized.by_path("AWS::Batch::ComputeEnvironment", "/Converter/Spot/")["Properties"]
    on_demand = synthesized.by_path("AWS::Batch::ComputeEnvironment", "/Converter/OnDemand/")["Properties"]
    assert (spot["ComputeResources"]["Type"], on_demand["ComputeResources"]["Type"]) == ("FARGATE_SPOT", "FARGATE")
    assert (spot["ComputeResources"]["MaxvCpus"], on_demand["ComputeResources"]["MaxvCpus"]) == (64, 16)
    ids = {r["Properties"]["ComputeResources"]["Type"]: k
           for k, r in synthesized.resources("AWS::Batch::ComputeEnvironment").items()}
    [queue] = synthesized.resources("AWS::Batch::JobQueue").values()
    order = sorted(queue["Properties"]["ComputeEnvironmentOrder"], key=lambda o: o["Order"])
    assert [o["ComputeEnvironment"]["Fn::GetAtt"][0] for o in order] == [ids["FARGATE_SPOT"], ids["FARGATE"]]


def test_without_spot_only_on_demand_compute_exists(synthesized_variant: Synthesized) -> None:
    [env] = synthesized_variant.resources("AWS::Batch::ComputeEnvironment").values()
    assert env["Properties"]["ComputeResources"]["Type"] == "FARGATE"


def test_job_command_is_a_satrec_cli_invocation_of_convert_uploads(synthesized: Synthesized) -> None:
    container = job_definition(synthesized)["ContainerProperties"]
    assert container["Command"] == CONVERT_COMMAND
    args = build_parser().parse_args([a.replace("Ref::batch", "s3://data/batches/x.json") for a in CONVERT_COMMAND])
    assert args.run is convert_uploads.run
    assert args.batch == "s3://data/batches/x.json"


def test_job_resources_come_from_context(synthesized: Synthesized, synthesized_variant: Synthesized) -> None:
    def resources(s: Synthesized) -> dict:
        props = job_definition(s)["ContainerProperties"]
        return {r["Type"]: r["Value"] for r in props["ResourceRequirements"]} | {
            "disk": props["EphemeralStorage"]["SizeInGiB"]}
    assert resources(synthesized) == {"VCPU": "1", "MEMORY": "2048", "disk": 21}
    assert resources(synthesized_variant) == {"VCPU": "2", "MEMORY": "8192", "disk": 21}


def test_job_is_fargate_private_read_only_and_gets_the_dataset_defaults(synthesized: Synthesized) -> None:
    props = job_definition(synthesized)
    container = props["ContainerProperties"]
    assert props["PlatformCapabilities"] == ["FARGATE"]
    assert container["NetworkConfiguration"] == {"AssignPublicIp": "DISABLED"}
    assert container["ReadonlyRootFilesystem"] is True
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert json.loads(env[ENV_DEFAULTS]) == {"encoding": ".jpg", "min_size": 224, "quality": 95, "resize": 224}
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert props["Timeout"] == {"AttemptDurationSeconds": 3600}


def test_retries_only_infrastructure_failures_and_exits_on_everything_else(synthesized: Synthesized) -> None:
    strategy = job_definition(synthesized)["RetryStrategy"]
    assert strategy["Attempts"] == 3
    rules = strategy["EvaluateOnExit"]
    assert len(rules) <= 5                                  # AWS Batch's limit
    assert rules[-1] == {"Action": "EXIT", "OnReason": "*"}
    assert all(r["Action"] == "RETRY" for r in rules[:-1])
    reasons = [r.get("OnStatusReason", "") for r in rules[:-1]]
    assert "Host EC2*" in reasons and "Your Spot Task was interrupted*" in reasons


def test_job_role_reads_uploads_and_writes_only_normalised_images_and_ledger(synthesized: Synthesized) -> None:
    policy = synthesized.by_path("AWS::IAM::Policy", "/Converter/JobRole/DefaultPolicy/")["Properties"]
    text = json.dumps(policy["PolicyDocument"])
    statements = policy["PolicyDocument"]["Statement"]
    writes = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert len(writes) == 1
    assert "/normalised/*" in json.dumps(writes[0]["Resource"]) and "/ledger/*" in json.dumps(writes[0]["Resource"])
    assert "/incoming/*" in text and "/batches/*" in text
    # Deletes only stale normalised images (a scene re-chipped on a new grid), never ledger or uploads.
    deletes = [s for s in statements if "s3:DeleteObject" in json.dumps(s["Action"])]
    assert [s["Action"] for s in deletes] == ["s3:DeleteObject"]
    assert "/normalised/*" in json.dumps(deletes[0]["Resource"]) and "/ledger/" not in json.dumps(deletes[0])
    assert '"*"' not in text


def test_scenes_are_downloaded_to_a_scratch_mount_on_ephemeral_storage(synthesized: Synthesized) -> None:
    container = job_definition(synthesized)["ContainerProperties"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    [mount] = container["MountPoints"]
    [volume] = container["Volumes"]
    assert mount["ContainerPath"] == env[SCRATCH_ENV] == SCRATCH_PATH
    assert volume["Name"] == mount["SourceVolume"] and not volume.get("Host", {}).get("SourcePath")
    assert container["ReadonlyRootFilesystem"] is True


def test_image_asset_uses_the_converter_dockerfile_with_its_ignore_file(synthesized: Synthesized) -> None:
    manifest = json.loads(next(synthesized.outdir.glob("*.assets.json")).read_text())
    sources = [image["source"] for image in manifest["dockerImages"].values()]
    [converter] = [s for s in sources if s.get("dockerFile") == "containers/converter/Dockerfile"]
    assert converter.get("platform") == "linux/amd64", sources
    assert "!satrec/" in dockerignore_patterns()
