"""``satrec job assemble --plan s3://...plan.json``: one ``.rec`` per channel from the packed parts.

RecordIO concatenates byte-wise, so the channel file is an S3 multipart upload whose parts are
server-side copies (``UploadPartCopy``) of the packed parts: no image bytes pass through the task.
S3 needs every part but the last to be at least 5 MiB; smaller packed parts (and the ends of
larger ones) are gathered into a buffer of at most 5 MiB and uploaded as ordinary parts, so the
bytes through the task stay small and bounded. The ``.idx`` offsets of each part are rebased by
the bytes before it; ``.lst`` files concatenate.

Written under the run's versioned prefix: ``train/<ds>-train-00000.rec`` (alone under the channel
prefix), ``meta/<ds>-train-00000.idx|.lst`` and ``meta/classes.json``. ``dataset.json`` is not
written here: validation writes it last, after checking what this job produced.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from satrec import layout
from satrec.errors import SatrecError
from satrec.pipeline.plan import CHANNEL_SPLITS, Plan, read_plan
from satrec.pipeline.s3io import get_bytes, get_json, put_json, split_uri
from satrec.recordio import format_index_line, parse_index

MIN_PART = 5 * 1024 * 1024          # S3's minimum size of every part but the last
MAX_COPY_PART = 5 * 1024 ** 3        # S3's maximum size of one part


@dataclass(frozen=True)
class Segment:
    key: str
    start: int
    end: int     # exclusive


def channel_keys(dataset: str, run_id: str, split: str) -> dict[str, str]:
    return {"rec": layout.run_dataset_key(dataset, run_id, layout.rec_path(dataset, split, 0)),
            "idx": layout.run_dataset_key(dataset, run_id, layout.idx_path(dataset, split, 0)),
            "lst": layout.run_dataset_key(dataset, run_id, layout.lst_path(dataset, split, 0))}


def part_plan(segments: list[Segment], *, min_part: int = MIN_PART, max_part: int = MAX_COPY_PART
              ) -> list[list[tuple[str, Segment]]]:
    """Group byte ranges into multipart parts: ``("copy", seg)`` alone, or ``("read", seg)`` pieces.

    Pure, so the rules (every part but the last >= min_part, copies <= max_part, reads < min_part
    per part) are tested without S3.
    """
    parts: list[list[tuple[str, Segment]]] = []
    buffer: list[tuple[str, Segment]] = []
    buffered = 0
    for seg in segments:
        pos = seg.start
        while pos < seg.end:
            remaining = seg.end - pos
            if not buffer and remaining >= min_part:
                take = min(remaining, max_part)
                if 0 < remaining - take < min_part:
                    take = remaining - min_part   # leave a copyable tail rather than a tiny one
                parts.append([("copy", Segment(seg.key, pos, pos + take))])
                pos += take
                continue
            take = min(remaining, min_part - buffered)
            buffer.append(("read", Segment(seg.key, pos, pos + take)))
            buffered += take
            pos += take
            if buffered >= min_part:
                parts.append(buffer)
                buffer, buffered = [], 0
    if buffer:
        parts.append(buffer)
    return parts


def concatenate(s3: Any, bucket: str, segments: list[Segment], dest: str, *, min_part: int = MIN_PART) -> int:
    """Write the segments, in order, as one object ``dest``; return its size."""
    total = sum(s.end - s.start for s in segments)
    if len(segments) == 1 and total <= MAX_COPY_PART and segments[0].start == 0:
        s3.copy_object(Bucket=bucket, Key=dest, CopySource={"Bucket": bucket, "Key": segments[0].key})
        return total
    upload = s3.create_multipart_upload(Bucket=bucket, Key=dest, ContentType="application/x-recordio")
    upload_id = upload["UploadId"]
    done = []
    try:
        for number, part in enumerate(part_plan(segments, min_part=min_part), start=1):
            if part[0][0] == "copy":
                seg = part[0][1]
                result = s3.upload_part_copy(Bucket=bucket, Key=dest, UploadId=upload_id, PartNumber=number,
                                             CopySource={"Bucket": bucket, "Key": seg.key},
                                             CopySourceRange=f"bytes={seg.start}-{seg.end - 1}")
                etag = result["CopyPartResult"]["ETag"]
            else:
                body = io.BytesIO()
                for _, seg in part:
                    body.write(_read_range(s3, bucket, seg))
                etag = s3.upload_part(Bucket=bucket, Key=dest, UploadId=upload_id, PartNumber=number,
                                      Body=body.getvalue())["ETag"]
            done.append({"PartNumber": number, "ETag": etag})
        s3.complete_multipart_upload(Bucket=bucket, Key=dest, UploadId=upload_id, MultipartUpload={"Parts": done})
    except Exception:
        s3.abort_multipart_upload(Bucket=bucket, Key=dest, UploadId=upload_id)
        raise
    return total


def _read_range(s3: Any, bucket: str, seg: Segment) -> bytes:
    data = s3.get_object(Bucket=bucket, Key=seg.key, Range=f"bytes={seg.start}-{seg.end - 1}")["Body"].read()
    if len(data) != seg.end - seg.start:
        raise SatrecError(f"s3://{bucket}/{seg.key}: read {len(data)} bytes of range {seg.start}-{seg.end - 1}")
    return bytes(data)


def _rebased_index(s3: Any, bucket: str, manifests: list[dict[str, Any]]) -> Iterator[str]:
    base = 0
    for manifest in manifests:
        text = get_bytes(s3, bucket, manifest["idx_key"]).decode()
        for key, offset in parse_index(text, source=manifest["idx_key"]):
            yield format_index_line(key, base + offset)
        base += int(manifest["bytes"])


def assemble(s3: Any, plan: Plan) -> dict[str, Any]:
    bucket = plan.bucket
    result: dict[str, Any] = {}
    for split in CHANNEL_SPLITS:
        manifests = [get_json(s3, bucket, shard.manifest_key) for shard in plan.shards_of(split)]
        keys = channel_keys(plan.dataset, plan.run_id, split)
        segments = [Segment(m["rec_key"], 0, int(m["bytes"])) for m in manifests if int(m["bytes"]) > 0]
        if not segments:
            raise SatrecError(f"the {split} channel of {plan.dataset!r} would be empty: every part has 0 records")
        size = concatenate(s3, bucket, segments, keys["rec"])
        s3.put_object(Bucket=bucket, Key=keys["idx"], Body="".join(_rebased_index(s3, bucket, manifests)).encode())
        lst = b"".join(get_bytes(s3, bucket, m["lst_key"]) for m in manifests)
        s3.put_object(Bucket=bucket, Key=keys["lst"], Body=lst)
        result[split] = {"rec_key": keys["rec"], "bytes": size, "parts": len(manifests),
                         "records": sum(int(m["records"]) for m in manifests)}
    put_json(s3, bucket, layout.run_dataset_key(plan.dataset, plan.run_id, layout.meta_path(layout.CLASSES_JSON)),
             {name: i for i, name in enumerate(plan.classes)})   # the local converter's classes.json
    return result


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("assemble", help="one .rec per channel from the packed parts (S3 multipart copy)",
                                   description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--plan", required=True, metavar="S3_URI", help="the plan.json the plan step wrote")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import boto3

    bucket, key = split_uri(args.plan)
    s3 = boto3.client("s3")
    result = assemble(s3, read_plan(s3, bucket, key))
    print(json.dumps({"event": "assembled", "channels": result}), file=sys.stdout, flush=True)
    return 0
