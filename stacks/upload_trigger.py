"""UploadTrigger: S3 "Object Created" under incoming/ -> EventBridge rule -> SQS (+ DLQ) -> Lambda
that batches the keys and submits one conversion job per batch."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_batch as batch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from satrec import layout
from satrec.cloud import uploads
from stacks.config import SatrecConfig
from stacks.lambda_bundle import copied_code
from stacks.nag import acknowledge, object_arn_finding

HANDLER_DIR = Path(__file__).resolve().parent.parent / "lambdas" / "upload_trigger"
HANDLER_PACKAGES = ("aws_lambda_powertools", "jmespath", "typing_extensions")
FUNCTION_TIMEOUT = cdk.Duration.seconds(60)


def upload_event_pattern(bucket_name: str) -> events.EventPattern:
    """satrec.cloud.uploads' pattern (Object Created under incoming/) as CDK's type."""
    pattern = uploads.upload_event_pattern(bucket_name)
    return events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"],
                               detail=pattern["detail"])


class UploadTrigger(Construct):
    """Exposes ``rule``, ``queue``, ``dead_letter_queue``, ``function``."""

    def __init__(self, scope: Construct, id_: str, *, config: SatrecConfig, landing: s3.IBucket, data: s3.IBucket,
                 key: kms.IKey, job_queue: batch.IJobQueue, job_definition: batch.IJobDefinition,
                 log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, id_)
        # SQS-managed encryption: EventBridge can deliver to it without a KMS key grant.
        self.dead_letter_queue = sqs.Queue(self, "DeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED,
                                           enforce_ssl=True, retention_period=cdk.Duration.days(14))
        self.queue = sqs.Queue(
            self, "Uploads", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=cdk.Duration.days(4),
            # AWS: at least six times the function timeout plus the batching window.
            visibility_timeout=cdk.Duration.seconds(6 * FUNCTION_TIMEOUT.to_seconds()
                                                    + config.trigger_batching_window_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue,
                                                  max_receive_count=config.trigger_max_receive_count))
        self.rule = events.Rule(self, "ObjectCreated", event_pattern=upload_event_pattern(landing.bucket_name),
                                description="satrec: uploads under incoming/ to the conversion queue")
        self.rule.add_target(targets.SqsQueue(self.queue, dead_letter_queue=self.dead_letter_queue,
                                              retry_attempts=8, max_event_age=cdk.Duration.hours(24)))

        log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY)
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description="satrec upload trigger: write batch documents, submit conversion jobs")
        self.function = lambda_.Function(
            self, "Function", runtime=lambda_.Runtime.PYTHON_3_14, architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler", code=copied_code(HANDLER_DIR, packages=HANDLER_PACKAGES),
            timeout=FUNCTION_TIMEOUT, memory_size=256, role=role, log_group=log_group,
            environment={"DATA_BUCKET": data.bucket_name, "JOB_QUEUE": job_queue.job_queue_arn,
                         "JOB_DEFINITION": job_definition.job_definition_arn,
                         "KEYS_PER_CHILD": str(config.keys_per_child),
                         "POWERTOOLS_SERVICE_NAME": "satrec-upload-trigger"},
            description="satrec: batch upload events into one conversion job")
        # Logs go to the explicit group above only.
        role.add_to_policy(iam.PolicyStatement(sid="WriteLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                               resources=[log_group.log_group_arn]))
        role.add_to_policy(iam.PolicyStatement(sid="WriteBatchDocuments", actions=["s3:PutObject"],
                                               resources=[data.arn_for_objects(f"{layout.BATCHES_PREFIX}*")]))
        role.add_to_policy(iam.PolicyStatement(sid="UseBucketKey", actions=["kms:GenerateDataKey"],
                                               resources=[key.key_arn]))
        role.add_to_policy(iam.PolicyStatement(sid="SubmitConversionJobs", actions=["batch:SubmitJob"],
                                               resources=[job_queue.job_queue_arn, job_definition.job_definition_arn]))
        self.function.add_event_source(sources.SqsEventSource(
            self.queue, batch_size=config.trigger_batch_size, report_batch_item_failures=True,
            max_batching_window=cdk.Duration.seconds(config.trigger_batching_window_seconds)))
        acknowledge(role.node.find_child("DefaultPolicy"), object_arn_finding(data, layout.BATCHES_PREFIX),
                    "Batch document names are content digests; the function writes under this one prefix only.")
