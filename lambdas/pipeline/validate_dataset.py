"""State "Validate the channels and publish dataset.json".

Event: {"run": <validated input>, "plan": {"plan_key": ...}}. Environment: DATA_BUCKET.
Raises VerificationError (nothing published) or returns where dataset.json now is.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from satrec import layout
from satrec.pipeline.inputs import PipelineInput
from satrec.pipeline.plan import read_plan
from satrec.pipeline.validate import validate_and_publish


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    run = PipelineInput.from_dict(event["run"])
    bucket = os.environ["DATA_BUCKET"]
    s3 = boto3.client("s3")
    plan = read_plan(s3, bucket, event["plan"]["plan_key"])
    doc = validate_and_publish(s3, plan, settings={"validation_fraction": run.validation_fraction})
    root = f"s3://{bucket}/{layout.dataset_run_prefix(run.dataset, run.run_id)}"
    return {"dataset_uri": root, "dataset_json": root + layout.meta_path(layout.DATASET_JSON),
            "records": {split: doc.records(split) for split in doc.splits}, "num_classes": doc.num_classes}
