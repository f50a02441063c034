"""``satrec job reconcile --dataset D --run-id R --landing-bucket L --data-bucket B``: no upload is lost.

S3 events can be dropped (a DLQ that expired, a trigger deployed after the upload). Before a plan
is made, this job lists ``incoming/<dataset>/`` against the conversion ledger and converts every
convertible object whose ledger entry is missing or stale (the object's ETag changed, or the dataset's
``satrec.json`` settings did, e.g. after fixing an invalid file), with the same converter the upload
trigger runs (:class:`satrec.cloud.convert.SliceConverter`), so there is one implementation of conversion.
It then tallies the ledger (converted / rejected with reasons) into ``plans/<ds>/<run>/reconcile.json``,
which the plan and the report read: every input is accounted for, packed or rejected.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from satrec import layout
from satrec.pipeline.s3io import list_objects, put_json

READ_THREADS = 16


def reconcile(s3: Any, *, dataset: str, run_id: str, landing_bucket: str, data_bucket: str,
              defaults: dict[str, Any]) -> dict[str, Any]:
    from satrec.cloud.convert import SliceConverter
    from satrec.cloud.ledger import CONVERTED, REJECTED, LedgerEntry
    from satrec.cloud.uploads import Upload, select

    listed = [Upload(bucket=landing_bucket, key=obj["Key"], etag=str(obj.get("ETag", "")).strip('"') or None,
                     size=int(obj.get("Size", 0)))
              for obj in list_objects(s3, landing_bucket, layout.incoming_dataset_prefix(dataset))]
    uploads, dropped = select(listed)
    present = {obj["Key"] for obj in list_objects(s3, data_bucket, layout.ledger_prefix(dataset))}
    converter = SliceConverter(s3, data_bucket=data_bucket, defaults=defaults)

    def read(key: str) -> LedgerEntry:
        return LedgerEntry.from_json(s3.get_object(Bucket=data_bucket, Key=key)["Body"].read())

    def current(upload: Upload, entry: LedgerEntry) -> bool:
        return entry.is_current_for(version_id=None, etag=upload.etag,
                                    settings_digest=converter.settings_digest_for(upload))

    entry_key = {u.key: layout.ledger_key(dataset, u.key) for u in uploads}
    known = sorted(k for k in entry_key.values() if k in present)
    with ThreadPoolExecutor(READ_THREADS) as pool:
        existing = dict(zip(known, pool.map(read, known), strict=True))
    stale = [u for u in uploads if entry_key[u.key] not in existing or not current(u, existing[entry_key[u.key]])]
    converted_now = {"converted": 0, "rejected": 0, "skipped": 0}
    for upload in stale:
        outcome, _ = converter.convert(upload)
        converted_now[outcome] = converted_now.get(outcome, 0) + 1
        existing[entry_key[upload.key]] = read(entry_key[upload.key])
    entries = [existing[k] for k in sorted(entry_key.values())]
    rejects = [{"path": e.source_key, "reason": e.reason or "unknown", "detail": e.detail or ""}
               for e in entries if e.status == REJECTED]
    by_reason: dict[str, int] = {}
    for r in rejects:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
    report = {
        "dataset": dataset, "run_id": run_id, "landing_objects": len(listed), "dropped": dropped,
        "inputs": len(uploads), "converted_now": converted_now,
        "converted": sum(1 for e in entries if e.status == CONVERTED), "rejected": len(rejects),
        "rejects_by_reason": dict(sorted(by_reason.items())), "rejects": sorted(rejects, key=lambda r: r["path"]),
    }
    put_json(s3, data_bucket, layout.reconcile_report_key(dataset, run_id), report)
    return report


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("reconcile", help="convert landing objects an event missed; tally the ledger",
                                   description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--landing-bucket", required=True)
    parser.add_argument("--data-bucket", required=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import boto3

    from satrec.cloud.settings import ENV_DEFAULTS
    from satrec.errors import ConfigError

    layout.check_name(args.dataset, what="--dataset")
    try:
        defaults = json.loads(os.environ.get(ENV_DEFAULTS, "{}"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{ENV_DEFAULTS} is not valid JSON: {exc}") from None
    report = reconcile(boto3.client("s3"), dataset=args.dataset, run_id=args.run_id,
                       landing_bucket=args.landing_bucket, data_bucket=args.data_bucket, defaults=defaults)
    print(json.dumps({"event": "reconciled", **{k: report[k] for k in ("inputs", "converted", "rejected")},
                      "converted_now": report["converted_now"]}), file=sys.stdout, flush=True)
    return 0
