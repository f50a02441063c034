"""TrainingWorkflow: the Step Functions pipeline from normalised images to a trained SageMaker model.

Validate input -> reconcile -> plan -> pack shards (Batch array job, .sync) -> assemble channels
(Batch, .sync) -> validate and publish dataset.json -> [training requested?] -> preflight ->
[GPU guard + mode] -> createTrainingJob.sync (custom state, parameters from
``satrec.pipeline.training_job``) -> report -> SNS. Every task retries transient errors with
backoff; every failure goes through "Describe the failure" to an SNS message naming the state and
its cause, then a Fail state. The construct takes existing resources and exposes what it creates
(``state_machine``, ``functions``, ``training_role``, ``job_definition``, ``ready_rule``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from satrec import layout
from satrec.cloud.scenes import SCRATCH_ENV
from satrec.pipeline.image_uris import REGISTRY_ACCOUNTS, REPOSITORY, TAG
from satrec.pipeline.training_job import DEFAULT_GPU_FAMILIES, TrainingJobSpec, training_job_parameters
from satrec.pipeline.training_job import Path as StatePath
from stacks.converter import SCRATCH_PATH
from stacks.lambda_bundle import copied_code
from stacks.nag import acknowledge, object_arn_finding

HANDLER_DIR = Path(__file__).resolve().parent.parent / "lambdas" / "pipeline"

# State names: the sentences users read in the Step Functions console.
VALIDATE_INPUT = "Validate the execution input"
RECONCILE_CHOICE = "Is reconciliation requested?"
RECONCILE = "Reconcile uploads with the conversion ledger"
PLAN = "Plan the split and the shards"
PACK = "Pack the shards in parallel"
ASSEMBLE = "Assemble one RecordIO file per channel"
VALIDATE_DATASET = "Validate the channels and publish dataset.json"
TRAIN_CHOICE = "Is training requested?"
PREFLIGHT = "Check the training preflight"
MODE_CHOICE = "Choose the training mode"
REFUSE_CPU = "Refuse an instance type outside the GPU allow-list"
TRAIN_STATES = {  # (spot, incremental) -> state name
    (False, False): "Train on on-demand GPU instances",
    (True, False): "Train on Spot GPU instances",
    (False, True): "Train from the base model on on-demand GPU instances",
    (True, True): "Train from the base model on Spot GPU instances",
}
REPORT = "Write the run report"
NOTIFY_SUCCESS = "Notify that the run succeeded"
SUCCEEDED = "The run succeeded"
DESCRIBE_FAILURE = "Describe the failure"
NOTIFY_FAILURE = "Notify that the run failed"
NOTIFY_RAW_FAILURE = "Notify the failure as it was raised"
FAILED = "The run failed"

# Where each step's result lives in the state (ResultSelector keeps only the Lambda's payload).
RUN = "$.run.Payload"
PLAN_RESULT = "$.plan.Payload"
PREFLIGHT_RESULT = "$.preflight.Payload"

LAMBDA_TRANSIENT = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                    "Lambda.TooManyRequestsException", "Lambda.ClientExecutionTimeoutException"]
BATCH_TRANSIENT = ["Batch.AWSBatchException", "Batch.ServerException", "Batch.TooManyRequestsException"]
SAGEMAKER_TRANSIENT = ["SageMaker.AmazonSageMakerException", "SageMaker.ThrottlingException",
                       "SageMaker.InternalFailure"]
SNS_TRANSIENT = ["SNS.InternalErrorException", "SNS.ThrottledException", "SNS.SdkClientException"]


@dataclass(frozen=True)
class WorkflowSettings:
    gpu_families: tuple[str, ...] = DEFAULT_GPU_FAMILIES
    job_prefix: str = "satrec"
    retry_interval: cdk.Duration = field(default_factory=lambda: cdk.Duration.seconds(5))
    retry_attempts: int = 3
    retry_backoff: float = 2.0
    job_vcpus: float = 1
    job_memory_mib: int = 2048
    job_timeout: cdk.Duration = field(default_factory=lambda: cdk.Duration.hours(2))
    dataset_defaults: dict[str, Any] = field(default_factory=dict)
    auto_start_on_ready: bool = False
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH


def image_classification_uri(scope: Construct) -> str:
    """The built-in algorithm's image for the deploying region (a CloudFormation mapping lookup)."""
    mapping = cdk.CfnMapping(scope, "ImageClassificationRegistry",
                             mapping={region: {"account": account} for region, account in REGISTRY_ACCOUNTS.items()})
    account = mapping.find_in_map(cdk.Aws.REGION, "account")
    return f"{account}.dkr.ecr.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}/{REPOSITORY}:{TAG}"


def training_parameters(*, spot: bool, incremental: bool, image_uri: str, role_arn: str, output_kms_key: str,
                        subnet_ids: Sequence[str], security_group_ids: Sequence[str]) -> dict[str, Any]:
    """One training state's parameters: static settings, run-time values as paths into the preflight result."""
    p = PREFLIGHT_RESULT
    return training_job_parameters(TrainingJobSpec(
        job_name=StatePath(f"{p}.job_name"), image_uri=image_uri, role_arn=role_arn,
        train_uri=StatePath(f"{p}.train_uri"), validation_uri=StatePath(f"{p}.validation_uri"),
        output_uri=StatePath(f"{p}.output_uri"), hyperparameters=StatePath(f"{p}.hyperparameters"),
        resource_config=StatePath(f"{p}.resource_config"), max_runtime_seconds=StatePath(f"{p}.max_runtime_seconds"),
        input_mode=StatePath(f"{p}.input_mode"), spot=spot,
        max_wait_seconds=StatePath(f"{p}.max_wait_seconds") if spot else None,
        checkpoint_uri=StatePath(f"{p}.checkpoint_uri") if spot else None,
        model_uri=StatePath(f"{p}.model_uri") if incremental else None,
        output_kms_key=output_kms_key, subnet_ids=subnet_ids, security_group_ids=security_group_ids,
        tags={"project": "satrec"}))


class TrainingWorkflow(Construct):
    def __init__(self, scope: Construct, id_: str, *, landing: s3.IBucket, data: s3.IBucket, artifacts: s3.IBucket,
                 key: kms.IKey, job_queue: batch.IJobQueue, image: ecs.ContainerImage, job_log_group: logs.ILogGroup,
                 vpc: ec2.IVpc, subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup, topic: sns.ITopic,
                 settings: WorkflowSettings | None = None) -> None:
        super().__init__(scope, id_)
        self.settings = settings = settings or WorkflowSettings()
        self._retry_interval = settings.retry_interval
        self._data, self._artifacts, self._key, self._topic = data, artifacts, key, topic
        self._fail_handlers: list[tuple[sfn.TaskStateBase, str]] = []

        self.functions = self._functions(data=data, artifacts=artifacts, key=key)
        self.job_definition = self._job_definition(image=image, landing=landing, data=data, key=key,
                                                   log_group=job_log_group)
        self.training_role = self._training_role(data=data, artifacts=artifacts, key=key)
        # Explicit (imported) subnets are used as given: selecting them again would ask for their AZs.
        subnet_ids = [s.subnet_id for s in subnets.subnets] if subnets.subnets else vpc.select_subnets(
            availability_zones=subnets.availability_zones, one_per_az=subnets.one_per_az,
            subnet_filters=subnets.subnet_filters, subnet_group_name=subnets.subnet_group_name,
            subnet_type=subnets.subnet_type).subnet_ids
        self.image_uri = image_classification_uri(self)

        definition = self._definition(job_queue=job_queue, landing=landing, subnet_ids=subnet_ids,
                                      security_group=security_group)
        log_group = logs.LogGroup(self, "ExecutionLogs", retention=settings.log_retention,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine", definition_body=sfn.DefinitionBody.from_chainable(definition),
            tracing_enabled=True, timeout=cdk.Duration.days(30),
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            comment="satrec: normalised images -> RecordIO channels -> SageMaker GPU training -> report")
        self._grant_training(self.state_machine.role)
        self.ready_rule = self._auto_start(landing) if settings.auto_start_on_ready else None
        self._acknowledge(landing=landing, data=data, artifacts=artifacts)

    # ------------------------------------------------------------------ resources

    def _functions(self, *, data: s3.IBucket, artifacts: s3.IBucket, key: kms.IKey) -> dict[str, lambda_.Function]:
        code = copied_code(HANDLER_DIR)
        families = ",".join(self.settings.gpu_families)
        specs = {
            "ValidateInput": ("validate_input.handler", {"GPU_FAMILIES": families}, 30),
            "Plan": ("plan_run.handler", {"DATA_BUCKET": data.bucket_name}, 900),
            "ValidateDataset": ("validate_dataset.handler", {"DATA_BUCKET": data.bucket_name}, 900),
            "Preflight": ("preflight_training.handler", {
                "DATA_BUCKET": data.bucket_name, "ARTIFACTS_BUCKET": artifacts.bucket_name, "GPU_FAMILIES": families,
                "JOB_PREFIX": self.settings.job_prefix, "VOLUME_KMS_KEY": key.key_arn}, 60),
            "Report": ("write_report.handler", {"DATA_BUCKET": data.bucket_name,
                                                "ARTIFACTS_BUCKET": artifacts.bucket_name}, 60),
            "DescribeFailure": ("notify_failure.handler", {"ARTIFACTS_BUCKET": artifacts.bucket_name}, 60),
        }
        functions = {}
        for name, (handler, environment, timeout) in specs.items():
            log_group = logs.LogGroup(self, f"{name}Logs", retention=self.settings.log_retention,
                                      removal_policy=cdk.RemovalPolicy.DESTROY)
            role = iam.Role(self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                            description=f"satrec pipeline: {name}")
            role.add_to_policy(iam.PolicyStatement(
                sid="WriteLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn]))
            functions[name] = lambda_.Function(
                self, name, runtime=lambda_.Runtime.PYTHON_3_14, architecture=lambda_.Architecture.ARM_64,
                handler=handler, code=code, timeout=cdk.Duration.seconds(timeout),
                memory_size=1024 if timeout > 60 else 256, role=role, log_group=log_group, environment=environment,
                description=f"satrec pipeline: {name}")
        plan_role = functions["Plan"].role
        for statement in (
            iam.PolicyStatement(sid="ListData", actions=["s3:ListBucket"], resources=[data.bucket_arn]),
            iam.PolicyStatement(sid="ReadPlanInputs", actions=["s3:GetObject"],
                                resources=[data.arn_for_objects(f"{layout.PLANS_PREFIX}*"),
                                           data.arn_for_objects(f"{layout.DATASETS_PREFIX}*")]),
            iam.PolicyStatement(sid="WritePlans", actions=["s3:PutObject"],
                                resources=[data.arn_for_objects(f"{layout.PLANS_PREFIX}*"),
                                           data.arn_for_objects(f"{layout.DATASETS_PREFIX}*")]),
        ):
            plan_role.add_to_principal_policy(statement)  # type: ignore[union-attr]
        validate_role = functions["ValidateDataset"].role
        validate_role.add_to_principal_policy(iam.PolicyStatement(  # type: ignore[union-attr]
            sid="ListData", actions=["s3:ListBucket"], resources=[data.bucket_arn]))
        validate_role.add_to_principal_policy(iam.PolicyStatement(  # type: ignore[union-attr]
            sid="ReadPlansAndChannels", actions=["s3:GetObject"],
            resources=[data.arn_for_objects(f"{layout.PLANS_PREFIX}*"),
                       data.arn_for_objects(f"{layout.DATASETS_PREFIX}*")]))
        validate_role.add_to_principal_policy(iam.PolicyStatement(  # type: ignore[union-attr]
            sid="PublishDataset", actions=["s3:PutObject"],
            resources=[data.arn_for_objects(f"{layout.DATASETS_PREFIX}*")]))
        for name in ("Preflight", "Report"):
            functions[name].add_to_role_policy(iam.PolicyStatement(
                sid="ReadDatasetDocuments", actions=["s3:GetObject"],
                resources=[data.arn_for_objects(f"{layout.DATASETS_PREFIX}*")]))
        functions["Preflight"].add_to_role_policy(iam.PolicyStatement(
            sid="ReadQuotas", actions=["servicequotas:ListServiceQuotas", "servicequotas:ListAWSDefaultServiceQuotas"],
            resources=["*"]))
        for name in ("Report", "DescribeFailure"):
            functions[name].add_to_role_policy(iam.PolicyStatement(
                sid="WriteReports", actions=["s3:PutObject"],
                resources=[artifacts.arn_for_objects(f"{layout.REPORTS_PREFIX}*")]))
        for name in ("Plan", "ValidateDataset", "Preflight", "Report", "DescribeFailure"):
            functions[name].add_to_role_policy(iam.PolicyStatement(
                sid="UseBucketKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]))
        return functions

    def _job_definition(self, *, image: ecs.ContainerImage, landing: s3.IBucket, data: s3.IBucket, key: kms.IKey,
                        log_group: logs.ILogGroup) -> batch.EcsJobDefinition:
        """One job definition for reconcile, pack and assemble: the converter image, its own least-privilege role."""
        from satrec.cloud.settings import ENV_DEFAULTS

        role = iam.Role(self, "JobRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                        description="satrec pipeline jobs: reconcile, pack shards, assemble channels")
        self.job_role = role
        role.add_to_policy(iam.PolicyStatement(sid="ListBuckets", actions=["s3:ListBucket"],
                                               resources=[landing.bucket_arn, data.bucket_arn]))
        role.add_to_policy(iam.PolicyStatement(sid="ReadUploads", actions=["s3:GetObject", "s3:GetObjectVersion"],
                                               resources=[landing.arn_for_objects(f"{layout.INCOMING_PREFIX}*")]))
        role.add_to_policy(iam.PolicyStatement(
            sid="ReadWritePipelineData", actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[data.arn_for_objects(f"{p}*") for p in (layout.NORMALISED_PREFIX, layout.LEDGER_PREFIX,
                                                                   layout.PLANS_PREFIX, layout.DATASETS_PREFIX)]))
        # Reconcile runs the upload converter, which removes normalised objects a re-converted
        # scene no longer lists (delete markers: the bucket is versioned).
        role.add_to_policy(iam.PolicyStatement(sid="RemoveStaleNormalised", actions=["s3:DeleteObject"],
                                               resources=[data.arn_for_objects(f"{layout.NORMALISED_PREFIX}*")]))
        role.add_to_policy(iam.PolicyStatement(sid="UseBucketKey", actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                               resources=[key.key_arn]))
        return batch.EcsJobDefinition(
            self, "PipelineJobs",
            container=batch.EcsFargateContainerDefinition(
                self, "PipelineContainer", image=image, cpu=self.settings.job_vcpus,
                memory=cdk.Size.mebibytes(self.settings.job_memory_mib), command=["job", "--help"],
                environment={ENV_DEFAULTS: json.dumps(self.settings.dataset_defaults, sort_keys=True),
                             "AWS_DEFAULT_REGION": cdk.Aws.REGION, SCRATCH_ENV: SCRATCH_PATH},
                # Reconcile may chip scenes: they go to ephemeral storage (the root fs is read-only).
                volumes=[batch.EcsVolume.host(name="scratch", container_path=SCRATCH_PATH)],
                job_role=role, assign_public_ip=False, readonly_root_filesystem=True,
                ephemeral_storage_size=cdk.Size.gibibytes(50),
                fargate_cpu_architecture=ecs.CpuArchitecture.X86_64,
                fargate_operating_system_family=ecs.OperatingSystemFamily.LINUX,
                logging=ecs.LogDriver.aws_logs(stream_prefix="pipeline", log_group=log_group)),
            retry_attempts=3,
            retry_strategies=[
                batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom(on_status_reason="Host EC2*")),
                batch.RetryStrategy.of(batch.Action.RETRY,
                                       batch.Reason.custom(on_status_reason="Your Spot Task was interrupted*")),
                batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
                batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom(on_reason="*")),
            ],
            timeout=self.settings.job_timeout, propagate_tags=True)

    def _training_role(self, *, data: s3.IBucket, artifacts: s3.IBucket, key: kms.IKey) -> iam.Role:
        role = iam.Role(self, "TrainingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                        description="satrec SageMaker training jobs: read channels, write models and checkpoints")
        role.add_to_policy(iam.PolicyStatement(sid="ListChannels", actions=["s3:ListBucket"],
                                               resources=[data.bucket_arn, artifacts.bucket_arn]))
        role.add_to_policy(iam.PolicyStatement(sid="ReadChannels", actions=["s3:GetObject"],
                                               resources=[data.arn_for_objects(f"{layout.DATASETS_PREFIX}*"),
                                                          artifacts.arn_for_objects(f"{layout.MODELS_PREFIX}*")]))
        role.add_to_policy(iam.PolicyStatement(sid="WriteModelsAndCheckpoints",
                                               actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                                               resources=[artifacts.arn_for_objects(f"{layout.MODELS_PREFIX}*"),
                                                          artifacts.arn_for_objects(f"{layout.CHECKPOINTS_PREFIX}*")]))
        role.add_to_policy(iam.PolicyStatement(sid="UseKey", actions=["kms:Decrypt", "kms:GenerateDataKey",
                                                                      "kms:CreateGrant", "kms:DescribeKey"],
                                               resources=[key.key_arn]))
        stack = cdk.Stack.of(self)
        role.add_to_policy(iam.PolicyStatement(
            sid="WriteTrainingLogs", actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                              "logs:DescribeLogStreams"],
            resources=[stack.format_arn(service="logs", resource="log-group",
                                        resource_name="/aws/sagemaker/TrainingJobs*",
                                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)]))
        role.add_to_policy(iam.PolicyStatement(sid="PublishMetrics", actions=["cloudwatch:PutMetricData"],
                                               resources=["*"],
                                               conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}))
        role.add_to_policy(iam.PolicyStatement(
            sid="TrainInsideTheVpc",
            actions=["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                     "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission",
                     "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions",
                     "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
            resources=["*"]))
        return role

    def _grant_training(self, role: iam.IRole) -> None:
        stack = cdk.Stack.of(self)
        job_arn = stack.format_arn(service="sagemaker", resource="training-job",
                                   resource_name=f"{self.settings.job_prefix}-*")
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="RunTrainingJobsByPrefix",
            actions=["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                     "sagemaker:AddTags"],
            resources=[job_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="PassTrainingRoleToSageMakerOnly", actions=["iam:PassRole"], resources=[self.training_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="SyncTrainingJobEvents", actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[stack.format_arn(service="events", resource="rule",
                                        resource_name="StepFunctionsGetEventsForSageMakerTrainingJobsRule")]))

    # ------------------------------------------------------------------ definition

    def _retry(self, state: Any, errors: list[str]) -> None:
        state.add_retry(errors=errors, interval=self._retry_interval, max_attempts=self.settings.retry_attempts,
                        backoff_rate=self.settings.retry_backoff)

    def _invoke(self, name: str, function_key: str, payload: dict[str, Any], result_path: str | None
                ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(self, name, lambda_function=self.functions[function_key],
                                  payload=sfn.TaskInput.from_object(payload), retry_on_service_exceptions=False,
                                  result_selector={"Payload.$": "$.Payload"} if result_path else None,
                                  result_path=result_path if result_path else sfn.JsonPath.DISCARD)
        self._retry(task, LAMBDA_TRANSIENT)
        self._fail_handlers.append((task, name))
        return task

    def _batch(self, name: str, job_queue: batch.IJobQueue, command: str, *, array_size: str | None = None
               ) -> tasks.BatchSubmitJob:
        task = tasks.BatchSubmitJob(
            self, name, job_name=f"{self.settings.job_prefix}-{name.split()[0].lower()}",
            job_queue_arn=job_queue.job_queue_arn, job_definition_arn=self.job_definition.job_definition_arn,
            array_size=sfn.JsonPath.number_at(array_size) if array_size else None,
            container_overrides=tasks.BatchContainerOverrides(command=cdk.Token.as_list(command)),
            integration_pattern=sfn.IntegrationPattern.RUN_JOB, result_path=sfn.JsonPath.DISCARD)
        self._retry(task, BATCH_TRANSIENT)
        self._fail_handlers.append((task, name))
        return task

    def _definition(self, *, job_queue: batch.IJobQueue, landing: s3.IBucket, subnet_ids: Sequence[str],
                    security_group: ec2.ISecurityGroup) -> sfn.IChainable:
        data = self._data
        execution = {"name.$": "$$.Execution.Name", "id.$": "$$.Execution.Id", "start_time.$": "$$.Execution.StartTime"}
        validate_input = self._invoke(VALIDATE_INPUT, "ValidateInput",
                                      {"input.$": "$", "execution_name.$": "$$.Execution.Name"}, "$.run")
        reconcile = self._batch(RECONCILE, job_queue, sfn.JsonPath.array(
            "job", "reconcile", "--dataset", sfn.JsonPath.string_at(f"{RUN}.dataset"),
            "--run-id", sfn.JsonPath.string_at(f"{RUN}.run_id"),
            "--landing-bucket", landing.bucket_name, "--data-bucket", data.bucket_name))
        plan = self._invoke(PLAN, "Plan", {"run.$": RUN}, "$.plan")
        pack = self._batch(PACK, job_queue, sfn.JsonPath.array(
            "job", "pack", "--plan", sfn.JsonPath.string_at(f"{PLAN_RESULT}.plan_uri")),
            array_size=f"{PLAN_RESULT}.array_size")
        assemble = self._batch(ASSEMBLE, job_queue, sfn.JsonPath.array(
            "job", "assemble", "--plan", sfn.JsonPath.string_at(f"{PLAN_RESULT}.plan_uri")))
        validate_dataset = self._invoke(VALIDATE_DATASET, "ValidateDataset",
                                        {"run.$": RUN, "plan.$": PLAN_RESULT}, "$.dataset")
        preflight = self._invoke(PREFLIGHT, "Preflight", {"run.$": RUN}, "$.preflight")
        report = self._invoke(REPORT, "Report", {
            "run.$": RUN, "training.$": "$.training", "preflight.$": "$.preflight_or_null", "execution": execution},
            "$.report")
        notify_success = tasks.SnsPublish(
            self, NOTIFY_SUCCESS, topic=self._topic, subject=sfn.JsonPath.string_at("$.report.Payload.subject"),
            message=sfn.TaskInput.from_json_path_at("$.report.Payload.message"), result_path=sfn.JsonPath.DISCARD)
        self._retry(notify_success, SNS_TRANSIENT)
        succeeded = sfn.Succeed(self, SUCCEEDED, output_path="$.report.Payload.summary")

        # Training: one state per (spot, incremental) variant, every one behind the GPU guard.
        trains = {}
        for (spot, incremental), name in TRAIN_STATES.items():
            state = sfn.CustomState(self, name, state_json={
                "Type": "Task", "Resource": f"arn:{cdk.Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": training_parameters(
                    spot=spot, incremental=incremental, image_uri=self.image_uri,
                    role_arn=self.training_role.role_arn, output_kms_key=self._key.key_arn,
                    subnet_ids=subnet_ids, security_group_ids=[security_group.security_group_id]),
                "ResultPath": "$.training",
            })
            self._retry(state, SAGEMAKER_TRANSIENT)
            self._fail_handlers.append((state, name))
            trains[(spot, incremental)] = state
        instance = f"{PREFLIGHT_RESULT}.resource_config.InstanceType"
        gpu = sfn.Condition.or_(*[sfn.Condition.string_matches(instance, f"{family}*")
                                  for family in self.settings.gpu_families]) \
            if len(self.settings.gpu_families) > 1 else \
            sfn.Condition.string_matches(instance, f"{self.settings.gpu_families[0]}*")
        mode = sfn.Choice(self, MODE_CHOICE)
        for (spot, incremental), state in trains.items():
            mode.when(sfn.Condition.and_(gpu, sfn.Condition.boolean_equals(f"{PREFLIGHT_RESULT}.spot", spot),
                                         sfn.Condition.boolean_equals(f"{PREFLIGHT_RESULT}.incremental", incremental)),
                      state)
        refuse = sfn.Pass(self, REFUSE_CPU, parameters={
            "Error": "InstanceTypeNotAllowed",
            "Cause.$": sfn.JsonPath.format("{} is not in the GPU allow-list {}", sfn.JsonPath.string_at(instance),
                                           ", ".join(self.settings.gpu_families))}, result_path="$.error")
        mode.otherwise(refuse)

        # After training (or without it): keep preflight data under one name the report reads.
        with_training = sfn.Pass(self, "Keep the training result for the report",
                                 parameters={"run.$": "$.run", "training.$": "$.training",
                                             "preflight_or_null.$": PREFLIGHT_RESULT}, result_path="$")
        without_training = sfn.Pass(self, "Skip training as requested",
                                    parameters={"run.$": "$.run", "training": None, "preflight_or_null": None},
                                    result_path="$")
        for state in trains.values():
            state.next(with_training)
        with_training.next(report)
        without_training.next(report)
        report.next(notify_success).next(succeeded)

        # Failure: note the state, describe it (Lambda), notify (SNS), fail.
        describe = self._describe_failure_chain(execution)
        for task, name in self._fail_handlers:
            note = sfn.Pass(self, f"Note that '{name}' failed", parameters={"state": name}, result_path="$.failed")
            note.next(describe)
            task.add_catch(note, errors=["States.ALL"], result_path="$.error")
        refuse_note = sfn.Pass(self, f"Note that '{MODE_CHOICE}' refused the instance",
                               parameters={"state": MODE_CHOICE}, result_path="$.failed")
        refuse.next(refuse_note)
        refuse_note.next(describe)

        train_choice = sfn.Choice(self, TRAIN_CHOICE) \
            .when(sfn.Condition.boolean_equals(f"{RUN}.train", True), preflight.next(mode)) \
            .otherwise(without_training)
        plan.next(pack).next(assemble).next(validate_dataset).next(train_choice)
        reconcile_choice = sfn.Choice(self, RECONCILE_CHOICE) \
            .when(sfn.Condition.boolean_equals(f"{RUN}.reconcile", True), reconcile.next(plan)) \
            .otherwise(plan)
        return validate_input.next(reconcile_choice)

    def _describe_failure_chain(self, execution: dict[str, Any]) -> sfn.IChainable:
        describe = tasks.LambdaInvoke(
            self, DESCRIBE_FAILURE, lambda_function=self.functions["DescribeFailure"],
            retry_on_service_exceptions=False,
            payload=sfn.TaskInput.from_object({"failed_state.$": "$.failed.state", "error.$": "$.error",
                                               "state.$": "$", "execution": execution}),
            result_selector={"Payload.$": "$.Payload"}, result_path="$.notice")
        self._retry(describe, LAMBDA_TRANSIENT)
        notify = tasks.SnsPublish(self, NOTIFY_FAILURE, topic=self._topic,
                                  subject=sfn.JsonPath.string_at("$.notice.Payload.subject"),
                                  message=sfn.TaskInput.from_json_path_at("$.notice.Payload.message"),
                                  result_path=sfn.JsonPath.DISCARD)
        self._retry(notify, SNS_TRANSIENT)
        failed = sfn.Fail(self, FAILED, error="SatrecRunFailed",
                          cause="A pipeline state failed; the SNS notice and reports/ name the state and the cause")
        raw = tasks.SnsPublish(self, NOTIFY_RAW_FAILURE, topic=self._topic, subject="satrec: a run failed",
                               message=sfn.TaskInput.from_text(sfn.JsonPath.format(
                                   "satrec run {} failed in state {}: {}", sfn.JsonPath.string_at("$$.Execution.Name"),
                                   sfn.JsonPath.string_at("$.failed.state"), sfn.JsonPath.json_to_string(
                                       sfn.JsonPath.object_at("$.error")))),
                               result_path=sfn.JsonPath.DISCARD)
        self._retry(raw, SNS_TRANSIENT)
        describe.add_catch(raw, errors=["States.ALL"], result_path="$.notice_error")
        raw.next(failed)
        describe.next(notify).next(failed)
        return describe

    # ------------------------------------------------------------------ auto-start

    def _auto_start(self, landing: s3.IBucket) -> events.Rule:
        rule = events.Rule(self, "StartOnReadyMarker", description="satrec: start the pipeline on incoming/<ds>/_READY",
                           event_pattern=events.EventPattern(
                               source=["aws.s3"], detail_type=["Object Created"],
                               detail={"bucket": {"name": [landing.bucket_name]},
                                       "object": {"key": [{"wildcard": f"{layout.INCOMING_PREFIX}*/"
                                                                       f"{layout.READY_MARKER}"}]}}))
        rule.add_target(targets.SfnStateMachine(self.state_machine, input=events.RuleTargetInput.from_object(
            {"ready_marker": events.EventField.from_path("$.detail.object.key")})))
        return rule

    # ------------------------------------------------------------------ cdk-nag

    def _acknowledge(self, *, landing: s3.IBucket, data: s3.IBucket, artifacts: s3.IBucket) -> None:
        job_policy = self.job_role.node.find_child("DefaultPolicy")
        for bucket, prefix in ((landing, layout.INCOMING_PREFIX), (data, layout.NORMALISED_PREFIX),
                               (data, layout.LEDGER_PREFIX), (data, layout.PLANS_PREFIX),
                               (data, layout.DATASETS_PREFIX)):
            acknowledge(job_policy, object_arn_finding(bucket, prefix),
                        "Object keys are data-dependent; pipeline jobs read or write under this one prefix only.")
        training_policy = self.training_role.node.find_child("DefaultPolicy")
        for bucket, prefix in ((data, layout.DATASETS_PREFIX), (artifacts, layout.MODELS_PREFIX),
                               (artifacts, layout.CHECKPOINTS_PREFIX)):
            acknowledge(training_policy, object_arn_finding(bucket, prefix),
                        "Training reads channels and writes models/checkpoints under this one prefix only.")
        acknowledge(training_policy, "AwsSolutions-IAM5[Resource::*]",
                    "SageMaker's VPC network-interface actions and cloudwatch:PutMetricData (namespace-conditioned) "
                    "have no resource-level permissions.")
        acknowledge(training_policy, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
                                     "<AWS::AccountId>:log-group:/aws/sagemaker/TrainingJobs*]",
                    "SageMaker names one log stream per job inside this fixed log group.")
        for name, function in self.functions.items():
            policy = function.role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
            for bucket, prefix in ((data, layout.PLANS_PREFIX), (data, layout.DATASETS_PREFIX),
                                   (artifacts, layout.REPORTS_PREFIX)):
                acknowledge(policy, object_arn_finding(bucket, prefix),
                            f"{name} reads or writes per-run documents under this one prefix only.")
            if name == "Preflight":
                acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                            "Service Quotas list operations have no resource-level permissions.")
        sm_policy = self.state_machine.role.node.find_child("DefaultPolicy")
        acknowledge(sm_policy, f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
                               f"<AWS::AccountId>:training-job/{self.settings.job_prefix}-*]",
                    "Training job names derive from execution names; scoped to the satrec name prefix.")
        for function in self.functions.values():
            acknowledge(sm_policy, f"AwsSolutions-IAM5[Resource::<{self._logical(function)}.Arn>:*]",
                        "Step Functions invokes any version of the pipeline's own functions.")
        acknowledge(sm_policy, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:"
                               "<AWS::AccountId>:job-definition/*]",
                    "CDK's batch:submitJob.sync grant: a job definition ARN changes with every revision.")
        execution_role = self.job_definition.container.execution_role
        acknowledge(execution_role.node.find_child("DefaultPolicy"), "AwsSolutions-IAM5[Resource::*]",
                    "ecr:GetAuthorizationToken has no resource-level permissions; it is the only action on '*'.")
        acknowledge(sm_policy, "AwsSolutions-IAM5[Resource::*]",
                    "X-Ray tracing and CloudWatch Logs delivery for Step Functions have no resource-level permissions.")

    def _logical(self, construct: Construct) -> str:
        stack = cdk.Stack.of(self)
        return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))  # type: ignore[arg-type]
