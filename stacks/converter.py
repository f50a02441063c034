"""Converter: the container image, AWS Batch on Fargate (Spot and on-demand), the job queue and
the ``convert-uploads`` job definition."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from satrec import layout
from satrec.cloud.dispatch import BATCH_PARAMETER, CONVERT_JOB_ARGS
from satrec.cloud.scenes import SCRATCH_ENV
from satrec.cloud.settings import ENV_DEFAULTS
from stacks.config import SatrecConfig
from stacks.nag import acknowledge, object_arn_finding

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = "containers/converter/Dockerfile"
DOCKERIGNORE = REPO_ROOT / "containers" / "converter" / "Dockerfile.dockerignore"
# What Batch runs (the image's ENTRYPOINT is `satrec`); Ref::batch is the submitted batch URI.
CONVERT_COMMAND = [*CONVERT_JOB_ARGS, f"Ref::{BATCH_PARAMETER}"]
SCRATCH_PATH = "/scratch"   # created in containers/converter/Dockerfile, owned by the image's user
# Retry only what is not the job's fault; everything else fails at once (Batch would otherwise
# retry every failure that no rule matches). Patterns may end in one '*'; Batch allows five rules in all.
RETRY_ON_STATUS_REASONS = (
    "Host EC2*",                         # the host went away (Batch's own Spot reclaim reason)
    "Your Spot Task was interrupted*",   # Fargate Spot reclaim
    "ResourceInitializationError*",      # Fargate could not pull the image or reach logs in time
)


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


class Converter(Construct):
    """Exposes ``image``, ``job_queue``, ``job_definition``, ``job_role``, ``log_group``,
    ``compute_environments``."""

    def __init__(self, scope: Construct, id_: str, *, config: SatrecConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup, key: kms.IKey,
                 landing: s3.IBucket, data: s3.IBucket, log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, id_)
        self.image = ecs.ContainerImage.from_asset(
            str(REPO_ROOT), file=DOCKERFILE, exclude=dockerignore_patterns(), ignore_mode=cdk.IgnoreMode.DOCKER,
            platform=ecr_assets.Platform.LINUX_AMD64)

        environments: list[tuple[str, bool, int]] = []
        if config.use_spot:
            environments.append(("Spot", True, config.max_vcpus_spot))
        environments.append(("OnDemand", False, config.max_vcpus_on_demand))
        self.compute_environments = [
            batch.FargateComputeEnvironment(self, name, spot=spot, maxv_cpus=max_vcpus, vpc=vpc,
                                            vpc_subnets=subnets, security_groups=[security_group],
                                            replace_compute_environment=False)
            for name, spot, max_vcpus in environments]
        self.job_queue = batch.JobQueue(self, "Queue", compute_environments=[
            batch.OrderedComputeEnvironment(compute_environment=env, order=i + 1)
            for i, env in enumerate(self.compute_environments)])

        self.log_group = logs.LogGroup(self, "JobLogs", retention=log_retention,
                                       removal_policy=cdk.RemovalPolicy.DESTROY)
        self.job_role = iam.Role(self, "JobRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                                 description="satrec converter tasks: read uploads, write normalised images and ledger")
        self.job_role.add_to_policy(iam.PolicyStatement(
            sid="ReadUploads", actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[landing.arn_for_objects(f"{layout.INCOMING_PREFIX}*")]))
        self.job_role.add_to_policy(iam.PolicyStatement(
            sid="ReadBatchDocuments", actions=["s3:GetObject"],
            resources=[data.arn_for_objects(f"{layout.BATCHES_PREFIX}*")]))
        self.job_role.add_to_policy(iam.PolicyStatement(
            # ListBucket lets a missing ledger entry read as 404 rather than 403.
            sid="ListData", actions=["s3:ListBucket"], resources=[data.bucket_arn, landing.bucket_arn]))
        self.job_role.add_to_policy(iam.PolicyStatement(
            sid="WriteNormalisedAndLedger", actions=["s3:GetObject", "s3:PutObject"],
            resources=[data.arn_for_objects(f"{layout.NORMALISED_PREFIX}*"),
                       data.arn_for_objects(f"{layout.LEDGER_PREFIX}*")]))
        self.job_role.add_to_policy(iam.PolicyStatement(
            # A re-converted scene with a new chip grid (or an input now rejected) removes the
            # normalised objects its ledger entry no longer lists; the bucket is versioned, so this
            # only adds delete markers.
            sid="RemoveStaleNormalised", actions=["s3:DeleteObject"],
            resources=[data.arn_for_objects(f"{layout.NORMALISED_PREFIX}*")]))
        self.job_role.add_to_policy(iam.PolicyStatement(
            sid="UseBucketKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]))

        self.job_definition = batch.EcsJobDefinition(
            self, "ConvertUploads",
            container=batch.EcsFargateContainerDefinition(
                self, "Container", image=self.image, cpu=config.job_vcpus,
                memory=cdk.Size.mebibytes(config.job_memory_mib),
                ephemeral_storage_size=cdk.Size.gibibytes(config.job_ephemeral_gib),
                command=CONVERT_COMMAND,
                environment={ENV_DEFAULTS: json.dumps(dict(config.dataset_defaults), sort_keys=True),
                             "AWS_DEFAULT_REGION": cdk.Aws.REGION, SCRATCH_ENV: SCRATCH_PATH},
                # The root filesystem is read-only: scenes are downloaded to a bind mount on the
                # task's ephemeral storage (the image creates /scratch owned by its user).
                volumes=[batch.EcsVolume.host(name="scratch", container_path=SCRATCH_PATH)],
                job_role=self.job_role, assign_public_ip=False, readonly_root_filesystem=True,
                fargate_cpu_architecture=ecs.CpuArchitecture.X86_64,
                fargate_operating_system_family=ecs.OperatingSystemFamily.LINUX,
                logging=ecs.LogDriver.aws_logs(stream_prefix="convert-uploads", log_group=self.log_group)),
            retry_attempts=config.job_attempts,
            retry_strategies=[
                *(batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom(on_status_reason=reason))
                  for reason in RETRY_ON_STATUS_REASONS),
                batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
                batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom(on_reason="*")),
            ],
            timeout=cdk.Duration.minutes(config.job_timeout_minutes),
            propagate_tags=True)
        self._acknowledge(landing=landing, data=data)

    def _acknowledge(self, *, landing: s3.IBucket, data: s3.IBucket) -> None:
        policy = self.job_role.node.find_child("DefaultPolicy")
        for bucket, prefix, why in ((landing, layout.INCOMING_PREFIX, "reads any upload"),
                                    (data, layout.BATCHES_PREFIX, "reads the batch document it is given"),
                                    (data, layout.NORMALISED_PREFIX, "writes normalised images"),
                                    (data, layout.LEDGER_PREFIX, "reads and writes ledger entries")):
            acknowledge(policy, object_arn_finding(bucket, prefix),
                        f"Object keys are data-dependent; the task {why} under this one prefix only.")
        container = self.job_definition.container
        execution_role = container.execution_role
        acknowledge(execution_role.node.find_child("DefaultPolicy"), "AwsSolutions-IAM5[Resource::*]",
                    "ecr:GetAuthorizationToken has no resource-level permissions; it is the only action on '*'.")
