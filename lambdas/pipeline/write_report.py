"""State "Write the run report": summary JSON in the artifacts bucket, text for the SNS message.

Event: {"run": ..., "training": <DescribeTrainingJob output or null>, "preflight": ... or null,
"execution": {"name", "start_time"}}. Environment: DATA_BUCKET, ARTIFACTS_BUCKET.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from satrec.pipeline.report import success_report


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    run = event["run"]
    preflight = event.get("preflight") or {}
    return success_report(boto3.client("s3"), data_bucket=os.environ["DATA_BUCKET"],
                          artifacts_bucket=os.environ["ARTIFACTS_BUCKET"], dataset=run["dataset"],
                          run_id=run["run_id"], execution=event.get("execution") or {},
                          training=event.get("training"), quota=preflight.get("quota"))
