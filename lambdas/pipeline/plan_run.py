"""State "Plan the split and the shards": list the normalised images, plan, store the plan in S3.

Event: {"run": <validated input>}. Environment: DATA_BUCKET. Returns the plan's small summary
(its URI and the Batch array size); the plan itself stays in S3 (payloads stop at 256 KiB).
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from satrec.pipeline.inputs import PipelineInput
from satrec.pipeline.plan import plan_dataset


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    run = PipelineInput.from_dict(event["run"])
    plan = plan_dataset(boto3.client("s3"), bucket=os.environ["DATA_BUCKET"], dataset=run.dataset,
                        run_id=run.run_id, validation_fraction=run.validation_fraction,
                        shard_size_mb=run.shard_size_mb, seed=run.seed)
    return plan.summary()
