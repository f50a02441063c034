"""The upload trigger's core: selected uploads -> one batch document in S3 -> one Batch job.

The Lambda handler parses events into ``Upload`` values and calls ``dispatch``; the job's only
parameter is the batch document's URI. One child runs as a plain job (AWS Batch array jobs need
at least two children); more run as an array job whose children read
``AWS_BATCH_JOB_ARRAY_INDEX``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from satrec import layout
from satrec.cloud.batches import make_batch
from satrec.cloud.uploads import Upload

# The job definition's command refers to this parameter as Ref::batch.
BATCH_PARAMETER = "batch"
# The container command (after the image's `satrec` entrypoint) without the batch URI.
CONVERT_JOB_ARGS = ("job", "convert-uploads", "--batch")


@dataclass(frozen=True)
class Dispatch:
    batch_uri: str
    job_id: str
    job_name: str
    uploads: int
    children: int

    def to_dict(self) -> dict[str, Any]:
        return {"batch_uri": self.batch_uri, "job_id": self.job_id, "job_name": self.job_name,
                "uploads": self.uploads, "children": self.children}


def dispatch(uploads: list[Upload], *, s3: Any, batch: Any, data_bucket: str, job_queue: str,
             job_definition: str, per_child: int) -> Dispatch | None:
    """Write the key list and submit its conversion job; None when there is nothing to convert."""
    if not uploads:
        return None
    doc = make_batch(uploads, per_child=per_child)
    key = layout.batch_key(doc.batch_id)
    s3.put_object(Bucket=data_bucket, Key=key, Body=doc.to_json().encode("utf-8"), ContentType="application/json")
    uri = f"s3://{data_bucket}/{key}"
    name = f"satrec-convert-{doc.batch_id[:16]}"
    request: dict[str, Any] = {"jobName": name, "jobQueue": job_queue, "jobDefinition": job_definition,
                               "parameters": {BATCH_PARAMETER: uri}}
    if doc.children > 1:
        request["arrayProperties"] = {"size": doc.children}
    response = batch.submit_job(**request)
    return Dispatch(batch_uri=uri, job_id=response["jobId"], job_name=name, uploads=len(doc.items),
                    children=doc.children)
