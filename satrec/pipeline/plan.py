"""The pipeline's plan: classes, the split, and the shards that Batch array children pack.

Built from a listing of the dataset's normalised images (``normalised/<dataset>/<class>/...``),
so it needs no image bytes. Stored in S3 because Step Functions payloads stop at 256 KiB:
``plan.json`` holds the summary and one small document per shard, so each array child reads only
its own slice (memory does not grow with the dataset).

- Classes have stable ids: the first run numbers them in sorted order and persists the list
  (``datasets/<dataset>/classes.json``); later runs keep every known id and append new classes,
  so a label never changes meaning between runs and models.
- The split is the core's hash-stable, per-class stratified split (:mod:`satrec.split`).
- Record order inside a split is a seeded hash shuffle, so every shard mixes all classes; shards
  are cut at the target size. Array index = position in ``shards`` (train shards first).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from satrec import layout
from satrec.errors import SatrecError
from satrec.recordio import HEADER_SIZE
from satrec.split import Ratios, split_all, unit_hash

PLAN_FORMAT = "satrec.plan"
PLAN_VERSION = 1
CHANNEL_SPLITS = ("train", "validation")
MIB = 1 << 20
_FRAME_OVERHEAD = 8 + HEADER_SIZE + 3   # frame header + image header + worst-case padding


class PlanError(SatrecError):
    """The normalised images cannot make a trainable dataset (no images, one class, empty split)."""


@dataclass(frozen=True)
class PlannedImage:
    key: str        # the normalised object's key in the data bucket
    cls: str
    size: int


@dataclass(frozen=True)
class PlanRecord:
    key: str
    label: int
    id: int         # record id inside its split (the IRHeader id and the .idx key)
    size: int

    def to_list(self) -> list[Any]:
        return [self.key, self.label, self.id, self.size]

    @classmethod
    def from_list(cls, row: Sequence[Any]) -> PlanRecord:
        return cls(key=str(row[0]), label=int(row[1]), id=int(row[2]), size=int(row[3]))


@dataclass(frozen=True)
class PlanShard:
    index: int          # the Batch array index
    split: str
    part: int           # position inside its split
    records: int
    first_id: int
    estimated_bytes: int
    shard_key: str      # the shard's record list (data bucket)
    rec_key: str        # where the packed part goes (under plans/, never under a channel prefix)
    idx_key: str
    lst_key: str
    manifest_key: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanShard:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Plan:
    dataset: str
    run_id: str
    bucket: str
    classes: list[str]
    settings: dict[str, Any]
    shards: list[PlanShard]
    per_split: dict[str, dict[str, int]]     # split -> class -> records
    reconcile: dict[str, Any] | None = None  # what the reconcile job reported, when it ran

    @property
    def key(self) -> str:
        return layout.plan_key(self.dataset, self.run_id)

    def records(self, split: str) -> int:
        return sum(self.per_split.get(split, {}).values())

    def shards_of(self, split: str) -> list[PlanShard]:
        return [s for s in self.shards if s.split == split]

    def to_dict(self) -> dict[str, Any]:
        return {"format": PLAN_FORMAT, "version": PLAN_VERSION, "dataset": self.dataset, "run_id": self.run_id,
                "bucket": self.bucket, "classes": list(self.classes), "settings": dict(self.settings),
                "per_split": self.per_split, "reconcile": self.reconcile,
                "shards": [s.to_dict() for s in self.shards]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        if data.get("format") != PLAN_FORMAT:
            raise SatrecError("not a satrec plan document (missing \"format\": \"satrec.plan\")")
        if int(data.get("version", 0)) > PLAN_VERSION:
            raise SatrecError(f"plan version {data['version']} is newer than this satrec understands; upgrade")
        return cls(dataset=data["dataset"], run_id=data["run_id"], bucket=data["bucket"],
                   classes=list(data["classes"]), settings=dict(data["settings"]),
                   shards=[PlanShard.from_dict(s) for s in data["shards"]],
                   per_split={k: dict(v) for k, v in data["per_split"].items()},
                   reconcile=data.get("reconcile"))

    def summary(self) -> dict[str, Any]:
        """What the state machine carries forward (small, whatever the dataset size)."""
        return {"plan_key": self.key, "plan_uri": f"s3://{self.bucket}/{self.key}",
                "array_size": len(self.shards), "num_classes": len(self.classes),
                "records": {s: self.records(s) for s in CHANNEL_SPLITS}}


def stable_classes(found: Iterable[str], known: Sequence[str]) -> list[str]:
    """Known classes keep their ids; new ones are appended in sorted order."""
    known_list = list(known)
    seen = set(known_list)
    return known_list + sorted(set(found) - seen)


def images_from_listing(dataset: str, objects: Iterable[dict[str, Any]]) -> list[PlannedImage]:
    """``list_objects_v2`` entries under ``normalised/<dataset>/`` -> images with their class folder."""
    prefix = layout.normalised_prefix(dataset)
    images = []
    for obj in objects:
        key = str(obj["Key"])
        rest = key[len(prefix):] if key.startswith(prefix) else ""
        cls, sep, name = rest.partition("/")
        if not sep or not name or key.endswith("/"):
            continue   # a folder placeholder or something outside the class layout
        images.append(PlannedImage(key=key, cls=cls, size=int(obj["Size"])))
    return images


def make_plan(images: Sequence[PlannedImage], *, dataset: str, run_id: str, bucket: str,
              validation_fraction: float, shard_size_mb: int, seed: int,
              known_classes: Sequence[str] = (), reconcile: dict[str, Any] | None = None,
              ) -> tuple[Plan, dict[int, list[PlanRecord]]]:
    """The plan and each shard's records (by array index), which ``write_plan`` stores apart."""
    if not images:
        raise PlanError(f"no normalised images under s3://{bucket}/{layout.normalised_prefix(dataset)}: upload "
                        f"class folders to incoming/{dataset}/ and let conversion finish (or check the rejects)")
    classes = stable_classes((im.cls for im in images), known_classes)
    if len(classes) < 2:
        raise PlanError(f"dataset {dataset!r} has a single class ({classes[0]!r}); a classifier needs at least two "
                        "class folders")
    label = {name: i for i, name in enumerate(classes)}
    ordered = sorted(images, key=lambda im: im.key)
    relkeys = [im.key[len(layout.normalised_prefix(dataset)):] for im in ordered]
    ratios = Ratios(train=1.0 - validation_fraction, validation=validation_fraction, test=0.0)
    # A scene's chips share one split key (their scene folder): neighbours never straddle splits.
    names = split_all([layout.normalised_split_key(k) for k in relkeys], seed, ratios,
                      strata=[im.cls for im in ordered])
    target = shard_size_mb * MIB
    shards: list[PlanShard] = []
    per_split: dict[str, dict[str, int]] = {}
    shard_rows: dict[int, list[PlanRecord]] = {}
    for split in CHANNEL_SPLITS:
        members = [(rel, im) for rel, im, name in zip(relkeys, ordered, names, strict=True) if name == split]
        if not members:
            raise PlanError(f"the {split} split of {dataset!r} is empty ({len(ordered)} images, validation_fraction "
                            f"{validation_fraction}); add images or change validation_fraction")
        members.sort(key=lambda m: (unit_hash(seed, "order", m[0]), m[0]))
        per_split[split] = dict(sorted(Counter(im.cls for _, im in members).items()))
        rows: list[PlanRecord] = []
        size = 0
        first = len(shards)
        for record_id, (_, im) in enumerate(members):
            cost = im.size + _FRAME_OVERHEAD
            if rows and size + cost > target:
                shards.append(_shard(dataset, run_id, len(shards), len(shards) - first, split, rows, size))
                shard_rows[shards[-1].index] = rows
                rows, size = [], 0
            rows.append(PlanRecord(im.key, label[im.cls], record_id, im.size))
            size += cost
        shards.append(_shard(dataset, run_id, len(shards), len(shards) - first, split, rows, size))
        shard_rows[shards[-1].index] = rows
    plan = Plan(dataset=dataset, run_id=run_id, bucket=bucket, classes=classes,
                settings={"validation_fraction": validation_fraction, "shard_size_mb": shard_size_mb, "seed": seed},
                shards=shards, per_split=per_split, reconcile=reconcile)
    return plan, shard_rows


def _shard(dataset: str, run_id: str, index: int, part: int, split: str, rows: list[PlanRecord],
           size: int) -> PlanShard:
    return PlanShard(index=index, split=split, part=part, records=len(rows), first_id=rows[0].id,
                     estimated_bytes=size, shard_key=layout.plan_shard_key(dataset, run_id, index),
                     rec_key=layout.plan_part_key(dataset, run_id, split, index, "rec"),
                     idx_key=layout.plan_part_key(dataset, run_id, split, index, "idx"),
                     lst_key=layout.plan_part_key(dataset, run_id, split, index, "lst"),
                     manifest_key=layout.plan_part_key(dataset, run_id, split, index, "json"))


def shard_document(plan: Plan, shard: PlanShard, rows: Sequence[PlanRecord]) -> dict[str, Any]:
    return {"format": PLAN_FORMAT + ".shard", "version": PLAN_VERSION, "dataset": plan.dataset,
            "run_id": plan.run_id, "bucket": plan.bucket, "shard": shard.to_dict(),
            "num_classes": len(plan.classes), "records": [r.to_list() for r in rows]}


def write_plan(s3: Any, plan: Plan, rows: dict[int, list[PlanRecord]]) -> None:
    """Shard documents first, the plan last: a plan.json in S3 always has all its shards."""
    from satrec.pipeline.s3io import put_json

    for shard in plan.shards:
        put_json(s3, plan.bucket, shard.shard_key, shard_document(plan, shard, rows[shard.index]))
    put_json(s3, plan.bucket, layout.classes_registry_key(plan.dataset), {"classes": plan.classes})
    put_json(s3, plan.bucket, plan.key, plan.to_dict())


def read_plan(s3: Any, bucket: str, key: str) -> Plan:
    from satrec.pipeline.s3io import get_json

    return Plan.from_dict(get_json(s3, bucket, key))


def known_classes(s3: Any, bucket: str, dataset: str) -> list[str]:
    from satrec.pipeline.s3io import get_json_or_none

    doc = get_json_or_none(s3, bucket, layout.classes_registry_key(dataset))
    return [str(c) for c in doc["classes"]] if doc else []


def plan_dataset(s3: Any, *, bucket: str, dataset: str, run_id: str, validation_fraction: float,
                 shard_size_mb: int, seed: int) -> Plan:
    """List, plan, persist. The one call the plan Lambda makes."""
    from satrec.pipeline.s3io import get_json_or_none, list_objects

    images = images_from_listing(dataset, list_objects(s3, bucket, layout.normalised_prefix(dataset)))
    reconcile = get_json_or_none(s3, bucket, layout.reconcile_report_key(dataset, run_id))
    plan, rows = make_plan(images, dataset=dataset, run_id=run_id, bucket=bucket,
                           validation_fraction=validation_fraction, shard_size_mb=shard_size_mb, seed=seed,
                           known_classes=known_classes(s3, bucket, dataset), reconcile=reconcile)
    write_plan(s3, plan, rows)
    return plan
