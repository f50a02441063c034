"""State "Describe the failure": which state failed and why, as an SNS message and a JSON notice.

Event: {"failed_state": <state name>, "error": {"Error", "Cause"}, "state": <the state's data>,
"execution": {...}}. Environment: ARTIFACTS_BUCKET.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from satrec.pipeline.report import failure_notice


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return failure_notice(boto3.client("s3"), artifacts_bucket=os.environ.get("ARTIFACTS_BUCKET"),
                          failed_state=str(event.get("failed_state", "")), error=event.get("error") or {},
                          state=event.get("state") or {}, execution=event.get("execution") or {})
