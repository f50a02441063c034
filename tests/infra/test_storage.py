"""Storage: the key and every bucket's security settings."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synthesized

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk-app")]


def test_key_rotates_and_is_retained(synthesized: Synthesized) -> None:
    key = synthesized.by_path("AWS::KMS::Key", "/Storage/Key/")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_there_are_four_buckets(synthesized: Synthesized) -> None:
    paths = sorted(r["Metadata"]["aws:cdk:path"] for r in synthesized.resources("AWS::S3::Bucket").values())
    assert [p.split("/")[2] for p in paths] == ["AccessLogs", "Artifacts", "Data", "Landing"]


def test_every_bucket_is_private_encrypted_versioned_expiring_and_retained(synthesized: Synthesized) -> None:
    for bucket in synthesized.resources("AWS::S3::Bucket").values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("aws:kms", "AES256")
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any("AbortIncompleteMultipartUpload" in r for r in rules)
        assert any("NoncurrentVersionExpiration" in r for r in rules)
        assert bucket["DeletionPolicy"] == "Retain"


def test_data_buckets_use_the_kms_key_with_bucket_keys_and_only_access_logs_use_sse_s3(
        synthesized: Synthesized) -> None:
    for name in ("Landing", "Data", "Artifacts"):
        props = synthesized.by_path("AWS::S3::Bucket", f"/Storage/{name}/")["Properties"]
        [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert "KMSMasterKeyID" in rule["ServerSideEncryptionByDefault"]
        assert rule["BucketKeyEnabled"] is True
        assert props["LoggingConfiguration"]["LogFilePrefix"] == f"{name.lower()}/"
    logs = synthesized.by_path("AWS::S3::Bucket", "/Storage/AccessLogs/")["Properties"]
    assert logs["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}     # S3 server access logging cannot write to SSE-KMS buckets


def test_every_bucket_policy_denies_requests_without_tls(synthesized: Synthesized) -> None:
    policies = synthesized.resources("AWS::S3::BucketPolicy").values()
    assert len(policies) == 4
    for policy in policies:
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in statements)


def test_landing_bucket_sends_events_to_eventbridge_without_a_custom_resource(synthesized: Synthesized) -> None:
    landing = synthesized.by_path("AWS::S3::Bucket", "/Storage/Landing/")["Properties"]
    assert landing["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert not synthesized.resources("Custom::S3BucketNotifications")


def test_batch_documents_expire(synthesized: Synthesized) -> None:
    rules = synthesized.by_path("AWS::S3::Bucket", "/Storage/Data/")["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"Id": "expire-batch-documents", "Prefix": "batches/", "ExpirationInDays": 30,
            "Status": "Enabled"} in rules


def test_destroy_on_delete_changes_the_removal_policy(synthesized_variant: Synthesized) -> None:
    for bucket in synthesized_variant.resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Delete"
