"""The one place that says what every satrec bucket looks like (secure by default).

A pure function: it returns the ``s3.Bucket`` keyword arguments; callers override explicitly
and visibly (``{**secure_bucket_props(...), "versioned": False}``).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3


def secure_bucket_props(*, key: kms.IKey | None, access_logs: s3.IBucket | None, log_prefix: str,
                        noncurrent_version_days: int, abort_multipart_days: int,
                        destroy_on_delete: bool) -> dict[str, Any]:
    """TLS only, no public access, KMS with bucket keys (SSE-S3 where ``key`` is None), versioned,
    multipart uploads and old versions expire, retained on stack deletion unless asked otherwise."""
    props: dict[str, Any] = {
        "enforce_ssl": True,
        "minimum_tls_version": 1.2,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "versioned": True,
        "lifecycle_rules": [
            s3.LifecycleRule(id="abort-incomplete-multipart-uploads",
                             abort_incomplete_multipart_upload_after=cdk.Duration.days(abort_multipart_days)),
            s3.LifecycleRule(id="expire-noncurrent-versions",
                             noncurrent_version_expiration=cdk.Duration.days(noncurrent_version_days)),
        ],
        "removal_policy": cdk.RemovalPolicy.DESTROY if destroy_on_delete else cdk.RemovalPolicy.RETAIN,
    }
    if key is None:
        props["encryption"] = s3.BucketEncryption.S3_MANAGED
    else:
        props.update(encryption=s3.BucketEncryption.KMS, encryption_key=key, bucket_key_enabled=True)
    if access_logs is not None:
        props.update(server_access_logs_bucket=access_logs, server_access_logs_prefix=log_prefix)
    return props
