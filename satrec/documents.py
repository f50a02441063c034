"""Documents that cross a process boundary: one dataclass each, with a version and to/from dict.

``dataset.json`` (``DatasetDoc``) is the contract between ``satrec convert``, ``satrec verify``,
``satrec train-local``, the hyperparameter builder and the cloud pipeline. It is written last, so
its presence means the dataset is complete. It holds no timestamps: the same inputs and options
give byte-identical output.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from satrec.errors import SatrecError

DATASET_FORMAT = "satrec.dataset"
DATASET_VERSION = 1
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Reject:
    """One input that was not packed. ``reason`` is a short stable code (see README)."""

    path: str
    reason: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reject:
        return cls(path=str(data["path"]), reason=str(data["reason"]), detail=str(data.get("detail", "")))


@dataclass(frozen=True)
class ShardInfo:
    """One ``.rec`` and its side files, paths relative to the dataset root (``/`` separated)."""

    split: str
    rec: str
    idx: str
    lst: str
    records: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardInfo:
        return cls(**{k: data[k] for k in ("split", "rec", "idx", "lst", "records", "bytes", "sha256")})


@dataclass(frozen=True)
class SplitInfo:
    records: int
    per_class: dict[str, int]
    shards: list[ShardInfo]

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "per_class": dict(self.per_class),
                "shards": [s.to_dict() for s in self.shards]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitInfo:
        return cls(records=int(data["records"]), per_class={k: int(v) for k, v in data["per_class"].items()},
                   shards=[ShardInfo.from_dict(s) for s in data["shards"]])


@dataclass(frozen=True)
class ImageStats:
    """Sizes of the images as stored in the records (after resize / crop / min-size)."""

    min_width: int
    min_height: int
    max_width: int
    max_height: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageStats:
        return cls(**{k: int(data[k]) for k in ("min_width", "min_height", "max_width", "max_height")})


@dataclass(frozen=True)
class DatasetDoc:
    """``meta/dataset.json``."""

    name: str
    classes: list[str]                 # index = class id
    label_width: int                   # 1, or N for multi-label records
    splits: dict[str, SplitInfo]       # keys from SPLITS; absent splits are omitted
    image: ImageStats | None           # None when no record was written
    inputs: dict[str, int]             # total, packed, rejected, skipped
    rejects_by_reason: dict[str, int]
    settings: dict[str, Any]           # the options used, as the CLI/pipeline resolved them
    satrec_version: str
    recipe: dict[str, Any] | None = None   # scene chipping recipe (bands, stretch), when used
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def records(self, split: str) -> int:
        info = self.splits.get(split)
        return info.records if info else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": DATASET_FORMAT,
            "version": DATASET_VERSION,
            "satrec_version": self.satrec_version,
            "name": self.name,
            "num_classes": self.num_classes,
            "classes": list(self.classes),
            "label_width": self.label_width,
            "splits": {k: v.to_dict() for k, v in self.splits.items()},
            "image": self.image.to_dict() if self.image else None,
            "inputs": dict(self.inputs),
            "rejects_by_reason": dict(sorted(self.rejects_by_reason.items())),
            "settings": self.settings,
            "recipe": self.recipe,
            "extra": self.extra,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetDoc:
        if data.get("format") != DATASET_FORMAT:
            raise SatrecError("not a satrec dataset.json (missing \"format\": \"satrec.dataset\")")
        if int(data.get("version", 0)) > DATASET_VERSION:
            raise SatrecError(f"dataset.json version {data['version']} is newer than this satrec understands "
                              f"({DATASET_VERSION}); upgrade satrec")
        image = data.get("image")
        return cls(
            name=str(data["name"]),
            classes=[str(c) for c in data["classes"]],
            label_width=int(data.get("label_width", 1)),
            splits={k: SplitInfo.from_dict(v) for k, v in data["splits"].items()},
            image=ImageStats.from_dict(image) if image else None,
            inputs={k: int(v) for k, v in data.get("inputs", {}).items()},
            rejects_by_reason={k: int(v) for k, v in data.get("rejects_by_reason", {}).items()},
            settings=dict(data.get("settings", {})),
            satrec_version=str(data.get("satrec_version", "")),
            recipe=data.get("recipe"),
            extra=dict(data.get("extra", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> DatasetDoc:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SatrecError(f"dataset.json is not valid JSON: {exc}") from None
        return cls.from_dict(data)
