"""Storage: the KMS key and the four buckets (landing uploads, data, artifacts, access logs)."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from satrec import layout
from stacks.bucket_defaults import secure_bucket_props
from stacks.config import SatrecConfig
from stacks.nag import acknowledge

BATCH_DOCUMENT_DAYS = 30   # key lists are only read by the job they were written for


class Storage(Construct):
    """Exposes ``key``, ``landing``, ``data``, ``artifacts`` and ``access_logs``."""

    def __init__(self, scope: Construct, id_: str, *, config: SatrecConfig) -> None:
        super().__init__(scope, id_)
        destroy = config.destroy_on_delete
        self.key = kms.Key(self, "Key", enable_key_rotation=True,
                           description=f"satrec {config.environment}: buckets, queues, topic, logs",
                           removal_policy=cdk.RemovalPolicy.DESTROY if destroy else cdk.RemovalPolicy.RETAIN)

        # S3 server access logging cannot deliver into SSE-KMS buckets: this one uses SSE-S3 and
        # is not itself logged (logging the log bucket would loop).
        self.access_logs = s3.Bucket(self, "AccessLogs", **{
            **secure_bucket_props(key=None, access_logs=None, log_prefix="", destroy_on_delete=destroy,
                                  noncurrent_version_days=config.noncurrent_version_days,
                                  abort_multipart_days=config.abort_multipart_days),
            "lifecycle_rules": [s3.LifecycleRule(id="expire-access-logs",
                                                 expiration=cdk.Duration.days(config.access_log_days),
                                                 noncurrent_version_expiration=cdk.Duration.days(1),
                                                 abort_incomplete_multipart_upload_after=cdk.Duration.days(1))],
        })
        acknowledge(cast(cdk.CfnResource, self.access_logs.node.default_child), "AwsSolutions-S1",
                    "This is the access-log target bucket; logging it into itself would loop.")

        def bucket(name: str, extra_rules: list[s3.LifecycleRule] | None = None) -> s3.Bucket:
            props = secure_bucket_props(key=self.key, access_logs=self.access_logs, log_prefix=f"{name.lower()}/",
                                        destroy_on_delete=destroy,
                                        noncurrent_version_days=config.noncurrent_version_days,
                                        abort_multipart_days=config.abort_multipart_days)
            props["lifecycle_rules"] = [*props["lifecycle_rules"], *(extra_rules or [])]
            return s3.Bucket(self, name, **props)

        self.landing = bucket("Landing")
        # EventBridge notifications as a bucket property, not CDK's notification custom resource
        # (a Lambda, its role and wildcard policy just to flip one switch).
        landing_cfn = cast(s3.CfnBucket, self.landing.node.default_child)
        landing_cfn.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled",
                                          True)
        self.data = bucket("Data", [s3.LifecycleRule(id="expire-batch-documents", prefix=layout.BATCHES_PREFIX,
                                                     expiration=cdk.Duration.days(BATCH_DOCUMENT_DAYS))])
        self.artifacts = bucket("Artifacts")
