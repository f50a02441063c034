"""``satrec job convert-uploads --batch s3://<data>/batches/<id>.json``: one Batch array child.

The child's slice is ``AWS_BATCH_JOB_ARRAY_INDEX`` (absent for a single-child job: 0). Stack
defaults come from ``SATREC_DEFAULT_SETTINGS`` (JSON image settings). Prints one JSON line per
input and a summary line; CloudWatch metric filters count them per dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from satrec.errors import ConfigError

ARRAY_INDEX_ENV = "AWS_BATCH_JOB_ARRAY_INDEX"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("convert-uploads", help="normalise one slice of an upload batch",
                                   description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--batch", required=True, metavar="S3_URI", help="the batch document the trigger wrote")
    parser.add_argument("--index", type=int, default=None,
                        help=f"array child to run (default: ${ARRAY_INDEX_ENV}, else 0)")
    parser.set_defaults(run=run)


def _index(args: argparse.Namespace) -> int:
    if args.index is not None:
        return int(args.index)
    raw = os.environ.get(ARRAY_INDEX_ENV, "0")
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{ARRAY_INDEX_ENV}={raw!r} is not a whole number") from None


def _defaults() -> dict[str, Any]:
    from satrec.cloud.settings import ENV_DEFAULTS

    raw = os.environ.get(ENV_DEFAULTS, "{}")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{ENV_DEFAULTS} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{ENV_DEFAULTS} must be a JSON object of image settings")
    return data


def run(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config

    from satrec.cloud.convert import SliceConverter, json_log_line, read_batch
    from satrec.cloud.settings import parse_settings

    defaults = _defaults()
    parse_settings(defaults, source="SATREC_DEFAULT_SETTINGS")   # fail fast on a bad deployment
    index = _index(args)
    # Adaptive retries ride out S3 throttling (503 SlowDown) when many children start at once; the
    # client honours AWS_ENDPOINT_URL (a moto server in the tests).
    s3 = boto3.client("s3", config=Config(retries={"max_attempts": 10, "mode": "adaptive"}))
    data_bucket, batch = read_batch(s3, args.batch)

    def log(event: dict[str, Any]) -> None:
        print(json_log_line(event), flush=True)

    summary = SliceConverter(s3, data_bucket=data_bucket, defaults=defaults, log=log).run(batch, index)
    print(json_log_line({"event": "summary", "batch": batch.batch_id, "index": index, **summary.to_dict()}),
          file=sys.stdout, flush=True)
    return 0
