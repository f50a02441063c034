"""``satrec job pack --plan s3://<data>/plans/<ds>/<run>/plan.json``: one Batch array child packs one shard.

Byte-level packing: the normalised images are already what the algorithm reads (decoded, oriented,
RGB, sized and re-encoded once, at conversion), so each is framed as it is, behind MXNet's image
header, with :mod:`satrec.recordio`; no pixel is decoded a second time. The width and height come
from the JPEG/PNG header bytes, for the manifest that validation checks against ``image_shape``.

Outputs go to ``plans/<ds>/<run>/parts/`` (never under a channel prefix): ``.rec``, ``.idx``,
``.lst`` and, last, the manifest JSON, so a manifest means a complete part. Running a child twice
writes the same bytes to the same keys.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from satrec.errors import ConfigError, SatrecError
from satrec.pipeline.imagesize import image_size
from satrec.pipeline.plan import PlanRecord, PlanShard, read_plan
from satrec.pipeline.s3io import get_bytes, get_json, put_json, split_uri
from satrec.recordio import RecordWriter, pack_image_record

ARRAY_INDEX_ENV = "AWS_BATCH_JOB_ARRAY_INDEX"
FETCH_THREADS = 8
FETCH_WINDOW = 64   # images in flight: bounds memory whatever the shard size


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("pack", help="pack one planned shard into RecordIO (Batch array child)",
                                   description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--plan", required=True, metavar="S3_URI", help="the plan.json the plan step wrote")
    parser.add_argument("--index", type=int, default=None,
                        help=f"shard to pack (default: ${ARRAY_INDEX_ENV}, else 0)")
    parser.set_defaults(run=run)


def array_index(explicit: int | None) -> int:
    if explicit is not None:
        return explicit
    raw = os.environ.get(ARRAY_INDEX_ENV, "0")
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{ARRAY_INDEX_ENV}={raw!r} is not a whole number") from None


class _HashingFile:
    """Counts and hashes what RecordWriter writes, on its way to a local file."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return int(self._stream.write(data))


def _fetch(s3: Any, bucket: str, rows: Sequence[PlanRecord]) -> Iterator[tuple[PlanRecord, bytes]]:
    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        for start in range(0, len(rows), FETCH_WINDOW):
            window = rows[start:start + FETCH_WINDOW]
            yield from zip(window, pool.map(lambda r: get_bytes(s3, bucket, r.key), window), strict=True)


def pack_shard(s3: Any, bucket: str, shard_doc: dict[str, Any]) -> dict[str, Any]:
    """Pack the shard's records; upload the part and its manifest; return the manifest."""
    shard = PlanShard.from_dict(shard_doc["shard"])
    num_classes = int(shard_doc["num_classes"])
    rows = [PlanRecord.from_list(r) for r in shard_doc["records"]]
    per_class: dict[str, int] = {}
    widths: list[int] = []
    heights: list[int] = []
    unreadable: list[str] = []
    with tempfile.TemporaryDirectory(prefix="satrec-pack-") as tmp:
        rec_path, idx_path, lst_path = (str(Path(tmp) / f"part.{ext}") for ext in ("rec", "idx", "lst"))
        with open(rec_path, "wb") as rec_file, open(idx_path, "wb") as idx_file, open(lst_path, "w") as lst_file:
            hashed = _HashingFile(rec_file)
            writer = RecordWriter(hashed, idx_file)  # type: ignore[arg-type]
            for row, body in _fetch(s3, bucket, rows):
                if not 0 <= row.label < num_classes:
                    raise SatrecError(f"shard {shard.index}: label {row.label} of {row.key} is outside "
                                      f"[0, {num_classes})")
                size = image_size(body)
                if size is None:
                    unreadable.append(row.key)
                else:
                    widths.append(size[0])
                    heights.append(size[1])
                writer.write(pack_image_record([float(row.label)], body, id=row.id), key=row.id)
                lst_file.write(f"{row.id}\t{float(row.label)}\t{row.key}\n")
                per_class[str(row.label)] = per_class.get(str(row.label), 0) + 1
        if unreadable:
            # Conversion writes JPEG or PNG only; anything else here means the normalised area was tampered with.
            raise SatrecError(f"shard {shard.index}: {len(unreadable)} normalised object(s) are not JPEG/PNG, "
                              f"e.g. s3://{bucket}/{unreadable[0]}; re-run conversion for them")
        s3.upload_file(rec_path, bucket, shard.rec_key)
        s3.upload_file(idx_path, bucket, shard.idx_key)
        s3.upload_file(lst_path, bucket, shard.lst_key)
    manifest = {
        "index": shard.index, "split": shard.split, "part": shard.part, "records": writer.count,
        "bytes": writer.offset, "sha256": hashed.sha256.hexdigest(), "per_label": per_class,
        "min_width": min(widths, default=0), "min_height": min(heights, default=0),
        "max_width": max(widths, default=0), "max_height": max(heights, default=0),
        "rec_key": shard.rec_key, "idx_key": shard.idx_key, "lst_key": shard.lst_key,
    }
    put_json(s3, bucket, shard.manifest_key, manifest)
    return manifest


def run(args: argparse.Namespace) -> int:
    import boto3

    bucket, key = split_uri(args.plan)
    s3 = boto3.client("s3")   # honours AWS_ENDPOINT_URL (a moto server in tests)
    plan = read_plan(s3, bucket, key)
    index = array_index(args.index)
    if not 0 <= index < len(plan.shards):
        raise ConfigError(f"array index {index} is outside the plan's {len(plan.shards)} shards")
    manifest = pack_shard(s3, bucket, get_json(s3, bucket, plan.shards[index].shard_key))
    print(json.dumps({"event": "packed", **{k: manifest[k] for k in ("index", "split", "records", "bytes")}}),
          file=sys.stdout, flush=True)
    return 0
