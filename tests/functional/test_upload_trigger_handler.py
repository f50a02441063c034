"""The upload-trigger Lambda under moto: SQS batches of real-shaped EventBridge S3 events in,
one batch document and one Batch (array) job out, partial batch failures reported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")
pytest.importorskip("aws_lambda_powertools")

from satrec.cloud.batches import BatchDoc  # noqa: E402
from tests.functional.conftest import REGION, BatchQueue, FakeLambdaContext, load_event, make_batch_queue  # noqa: E402

DATA = "satrec-data-test"


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, BatchQueue]]:
    with moto.mock_aws(config={"batch": {"use_docker": False}}):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=DATA)
        batch = boto3.client("batch", region_name=REGION)
        queue = make_batch_queue(batch, boto3.client("iam", region_name=REGION),
                                 boto3.client("ec2", region_name=REGION))
        monkeypatch.setenv("DATA_BUCKET", DATA)
        monkeypatch.setenv("JOB_QUEUE", queue.queue_arn)
        monkeypatch.setenv("JOB_DEFINITION", queue.job_definition_arn)
        monkeypatch.setenv("KEYS_PER_CHILD", "2")
        yield s3, batch, queue


def handler(event: dict[str, Any]) -> dict[str, Any]:
    from lambdas.upload_trigger.handler import handler as lambda_handler

    return lambda_handler(event, FakeLambdaContext())


def batch_documents(s3: Any) -> list[BatchDoc]:
    listed = s3.list_objects_v2(Bucket=DATA, Prefix="batches/").get("Contents", [])
    return [BatchDoc.from_json(s3.get_object(Bucket=DATA, Key=o["Key"])["Body"].read()) for o in listed]


def submitted_jobs(batch: Any, queue: BatchQueue) -> list[dict[str, Any]]:
    ids = {j["jobId"] for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
           for j in batch.list_jobs(jobQueue=queue.queue_arn, jobStatus=status)["jobSummaryList"]
           if ":" not in j["jobId"]}   # array children are listed as <parent id>:<index>
    return batch.describe_jobs(jobs=sorted(ids))["jobs"] if ids else []


def test_mixed_batch_keeps_decoded_distinct_images_and_reports_only_the_malformed_record(aws) -> None:
    s3, batch, queue = aws
    result = handler(load_event("sqs_batch_of_upload_events.json"))

    assert result == {"batchItemFailures": [{"itemIdentifier": "m9-malformed"}]}
    [doc] = batch_documents(s3)
    assert [(u.key, u.version_id) for u in doc.items] == [
        ("incoming/eurosat/Forest/forest 1.jpg", "v1"),     # '+' decoded to a space; its duplicate dropped
        ("incoming/eurosat/Küste/bild ä.png", "v1"),         # percent-encoded UTF-8 decoded
        ("incoming/eurosat/Forest/forest 1.jpg", "v2"),     # a new version of the same key is new work
        ("incoming/eurosat/Forest/a+b.jpg", "v1"),          # an encoded '+' stays a '+'
    ]
    assert all(u.bucket == "satrec-landing-test" and u.etag and u.sequencer for u in doc.items)
    [job] = submitted_jobs(batch, queue)
    assert job["parameters"] == {"batch": f"s3://{DATA}/batches/{doc.batch_id}.json"}
    assert job["arrayProperties"]["size"] == 2          # 4 uploads, 2 per child
    assert job["jobDefinition"] == queue.job_definition_arn


def test_a_single_child_is_submitted_as_a_plain_job(aws) -> None:
    s3, batch, queue = aws
    body = json.dumps(load_event("eventbridge_s3_object_created.json"))
    assert handler({"Records": [{"messageId": "only", "body": body, "receiptHandle": "rh",
                                 "eventSource": "aws:sqs"}]}) == {"batchItemFailures": []}
    [job] = submitted_jobs(batch, queue)
    assert not job.get("arrayProperties", {}).get("size")
    [doc] = batch_documents(s3)
    assert doc.children == 1


def test_a_batch_with_nothing_to_convert_submits_nothing(aws) -> None:
    s3, batch, queue = aws
    event = load_event("sqs_batch_of_upload_events.json")
    keep = {"m4-folder-placeholder", "m5-not-an-image", "m6-dataset-settings"}
    event["Records"] = [r for r in event["Records"] if r["messageId"] in keep]
    assert handler(event) == {"batchItemFailures": []}
    assert batch_documents(s3) == []
    assert submitted_jobs(batch, queue) == []


def test_redelivered_batch_rewrites_the_same_document(aws) -> None:
    s3, _, _ = aws
    event = load_event("sqs_batch_of_upload_events.json")
    handler(event)
    handler(event)
    assert len(batch_documents(s3)) == 1


def test_when_the_job_cannot_be_submitted_every_record_is_retried(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOB_QUEUE", "arn:aws:batch:us-east-1:123456789012:job-queue/does-not-exist")
    event = load_event("sqs_batch_of_upload_events.json")
    result = handler(event)
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(
        r["messageId"] for r in event["Records"])
