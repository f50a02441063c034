"""Validate the assembled channels against their ``.idx`` and the plan, then publish ``dataset.json``.

Each channel ``.rec`` is streamed from S3 once (bounded memory) and every record is checked:
framing, offset equal to its ``.idx`` line, record id and label as planned and in
``[0, num_classes)``, JPEG/PNG header readable. Counts per split and per class must equal the
plan, and a channel prefix must hold the ``.rec`` and nothing else (SageMaker streams every
object under it: a stray file fails training with "record header does not start with the magic
number"). Only when all of that holds is ``meta/dataset.json`` written, last, under the run's
prefix: a failed run never publishes a dataset.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from satrec import __version__, layout
from satrec.documents import DatasetDoc, ImageStats, Reject, ShardInfo, SplitInfo
from satrec.errors import RecordIOCorruptError, VerificationError
from satrec.pipeline.imagesize import image_size
from satrec.pipeline.plan import CHANNEL_SPLITS, Plan
from satrec.pipeline.s3io import get_bytes, list_objects
from satrec.recordio import iter_records, parse_index, unpack_image_record


class _HashingReader:
    """A read() view of an S3 body that hashes and counts what passes through."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def read(self, n: int = -1) -> bytes:
        data = self._body.read(n)
        self.sha256.update(data)
        self.bytes += len(data)
        return bytes(data)


def check_channel_prefix(s3: Any, bucket: str, prefix: str, rec_key: str) -> None:
    others = [obj["Key"] for obj in list_objects(s3, bucket, prefix) if obj["Key"] != rec_key]
    if others:
        raise VerificationError(f"channel prefix s3://{bucket}/{prefix} holds {len(others)} object(s) besides the "
                                f".rec, e.g. {others[0]}; SageMaker would stream them as records")


def check_split(s3: Any, plan: Plan, split: str) -> tuple[SplitInfo, dict[str, int]]:
    """Stream one channel; return its SplitInfo and the image size extremes of its records."""
    bucket = plan.bucket
    rec_rel, idx_rel, lst_rel = (layout.rec_path(plan.dataset, split, 0), layout.idx_path(plan.dataset, split, 0),
                                 layout.lst_path(plan.dataset, split, 0))
    rec_key = layout.run_dataset_key(plan.dataset, plan.run_id, rec_rel)
    check_channel_prefix(s3, bucket, layout.run_dataset_key(plan.dataset, plan.run_id, f"{layout.CHANNELS[split]}/"),
                         rec_key)
    index = parse_index(get_bytes(s3, bucket, layout.run_dataset_key(plan.dataset, plan.run_id, idx_rel)).decode(),
                        source=idx_rel)
    num_classes = len(plan.classes)
    reader = _HashingReader(s3.get_object(Bucket=bucket, Key=rec_key)["Body"])
    labels: Counter[int] = Counter()
    sizes = {"min_width": 1 << 30, "min_height": 1 << 30, "max_width": 0, "max_height": 0}
    count = 0
    for count, record in enumerate(iter_records(reader, source=rec_rel), start=1):  # type: ignore[arg-type]
        position = count - 1
        if position >= len(index):
            raise VerificationError(f"{rec_rel}: more records than its .idx lists ({len(index)})")
        key, offset = index[position]
        if offset != record.offset:
            raise VerificationError(f"{rec_rel}: record {position} starts at byte {record.offset}, "
                                    f"the .idx says {offset}")
        header, image = unpack_image_record(record.payload)
        if str(header.id) != key or header.id != position:
            raise VerificationError(f"{rec_rel}: record {position} has id {header.id}, .idx key {key!r}")
        label = header.label
        if label != int(label) or not 0 <= int(label) < num_classes:
            raise VerificationError(f"{rec_rel}: record {position} has label {label}, outside [0, {num_classes})")
        labels[int(label)] += 1
        size = image_size(image[:65536])
        if size is None:
            raise VerificationError(f"{rec_rel}: record {position} does not hold a readable JPEG/PNG header")
        sizes["min_width"] = min(sizes["min_width"], size[0])
        sizes["min_height"] = min(sizes["min_height"], size[1])
        sizes["max_width"] = max(sizes["max_width"], size[0])
        sizes["max_height"] = max(sizes["max_height"], size[1])
    if count != len(index):
        raise VerificationError(f"{rec_rel}: {count} records but its .idx lists {len(index)}")
    if count != plan.records(split):
        raise VerificationError(f"{rec_rel}: {count} records, the plan has {plan.records(split)} for {split}")
    if count == 0:
        raise VerificationError(f"{rec_rel} is empty; SageMaker fails on an empty channel")
    per_class = {plan.classes[i]: n for i, n in sorted(labels.items())}
    if per_class != {k: v for k, v in plan.per_split[split].items() if v}:
        raise VerificationError(f"{rec_rel}: records per class {per_class} differ from the plan "
                                f"{plan.per_split[split]}")
    shard = ShardInfo(split=split, rec=rec_rel, idx=idx_rel, lst=lst_rel, records=count, bytes=reader.bytes,
                      sha256=reader.sha256.hexdigest())
    return SplitInfo(records=count, per_class=per_class, shards=[shard]), sizes


def validate_and_publish(s3: Any, plan: Plan, *, settings: dict[str, Any]) -> DatasetDoc:
    """Check both channels; write meta/rejects.jsonl and then meta/dataset.json; return the document."""
    splits: dict[str, SplitInfo] = {}
    extremes: list[dict[str, int]] = []
    for split in CHANNEL_SPLITS:
        try:
            splits[split], sizes = check_split(s3, plan, split)
        except RecordIOCorruptError as exc:
            raise VerificationError(f"{split} channel: {exc}") from None
        extremes.append(sizes)
    image = ImageStats(min_width=min(e["min_width"] for e in extremes),
                       min_height=min(e["min_height"] for e in extremes),
                       max_width=max(e["max_width"] for e in extremes),
                       max_height=max(e["max_height"] for e in extremes))
    reconcile = plan.reconcile or {}
    rejects = [Reject.from_dict(r) for r in reconcile.get("rejects", [])]
    packed = sum(s.records for s in splits.values())
    doc = DatasetDoc(
        name=plan.dataset, classes=list(plan.classes), label_width=1, splits=splits, image=image,
        inputs={"total": packed + len(rejects), "packed": packed, "rejected": len(rejects), "skipped": 0},
        rejects_by_reason=dict(reconcile.get("rejects_by_reason", {})),
        settings={**settings, **plan.settings, "source": f"s3://{plan.bucket}/{layout.normalised_prefix(plan.dataset)}"},
        satrec_version=__version__,
        extra={"run_id": plan.run_id, "plan": f"s3://{plan.bucket}/{plan.key}"},
    )
    run_key = layout.run_dataset_key
    body = "".join(_jsonl(r.to_dict()) for r in rejects).encode()
    s3.put_object(Bucket=plan.bucket, Key=run_key(plan.dataset, plan.run_id, layout.meta_path(layout.REJECTS_JSONL)),
                  Body=body)
    s3.put_object(Bucket=plan.bucket, Key=run_key(plan.dataset, plan.run_id, layout.meta_path(layout.DATASET_JSON)),
                  Body=doc.to_json().encode(), ContentType="application/json")
    return doc


def _jsonl(item: dict[str, Any]) -> str:
    import json

    return json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n"
