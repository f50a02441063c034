"""Upload trigger: an SQS batch of EventBridge "Object Created" events -> one conversion job.

Parse each record at the edge (keys URL-decoded, as S3 encodes them in events), let the core
select and deduplicate, write the key list, submit one Batch job. Records that cannot be parsed
are reported as batch item failures (SQS retries them, then moves them to the DLQ); if the job
cannot be submitted, every record is reported so the whole batch is retried.

Environment: DATA_BUCKET, JOB_QUEUE, JOB_DEFINITION, KEYS_PER_CHILD.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent, SQSEvent

from satrec.cloud.dispatch import dispatch
from satrec.cloud.uploads import Upload, select

logger = Logger(service="satrec-upload-trigger")


def _upload(body: str) -> Upload:
    event = S3EventBridgeNotificationEvent(json.loads(body))
    detail = event.detail
    obj = detail.object
    return Upload(bucket=detail.bucket.name, key=obj.key, version_id=obj.get("version-id"),
                  etag=obj.get("etag"), size=obj.size, sequencer=obj.get("sequencer"))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    uploads: list[Upload] = []
    parsed_ids: list[str] = []
    failures: list[str] = []
    for record in SQSEvent(event).records:
        try:
            uploads.append(_upload(record.body))
            parsed_ids.append(record.message_id)
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("unparseable record", extra={"message_id": record.message_id, "error": str(exc)})
            failures.append(record.message_id)

    received = len(parsed_ids) + len(failures)
    kept, dropped = select(uploads)
    try:
        result = dispatch(kept, s3=boto3.client("s3"), batch=boto3.client("batch"),
                          data_bucket=os.environ["DATA_BUCKET"], job_queue=os.environ["JOB_QUEUE"],
                          job_definition=os.environ["JOB_DEFINITION"],
                          per_child=int(os.environ.get("KEYS_PER_CHILD", "100")))
    except Exception:
        logger.exception("could not submit the conversion job; the whole batch will be retried")
        failures.extend(parsed_ids)
        result = None
    logger.info("dispatched", extra={"records": received, "kept": len(kept),
                                     "dropped": dropped, "job": result.to_dict() if result else None})
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}
