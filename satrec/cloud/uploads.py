"""Which uploads are worth converting, and one record per distinct object version.

Pure functions over ``Upload`` values; the Lambda handler builds them from EventBridge events,
the reconcile job (pipeline) from S3 listings, and both apply the same rules here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from satrec import layout

# Lower-case suffixes the converter can decode (Pillow's common formats plus TIFF for scenes).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Upload:
    """One object version in the landing bucket, as an event or a listing reports it."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    sequencer: str | None = None

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes two reports the same upload: the version id where the bucket has one, else the ETag."""
        return (self.bucket, self.key, self.version_id or self.etag or "")

    def to_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "version_id": self.version_id, "etag": self.etag,
                "size": self.size, "sequencer": self.sequencer}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Upload:
        size = data.get("size")
        return cls(bucket=str(data["bucket"]), key=str(data["key"]), version_id=data.get("version_id"),
                   etag=data.get("etag"), size=None if size is None else int(size), sequencer=data.get("sequencer"))


def drop_reason(key: str) -> str | None:
    """Why an uploaded key is not an image to convert, or None when it is one.

    Codes: ``placeholder`` (a console "folder"), ``outside-layout`` (not incoming/<ds>/<class>/<file>),
    ``hidden`` (dot files, ``__MACOSX``), ``not-an-image`` (by suffix; satrec.json, _READY, .txt ...).
    """
    if key.endswith("/"):
        return "placeholder"
    parsed = layout.parse_incoming_key(key)
    if parsed is None:
        return "outside-layout"
    _, class_name, rest = parsed
    parts = [class_name, *rest.split("/")]
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return "hidden"
    if not key.lower().endswith(IMAGE_SUFFIXES):
        return "not-an-image"
    return None


def select(uploads: Iterable[Upload]) -> tuple[list[Upload], dict[str, int]]:
    """Convertible uploads, deduplicated on (bucket, key, version/ETag) in first-seen order,
    and the count of everything dropped by reason (``duplicate`` included)."""
    kept: list[Upload] = []
    seen: set[tuple[str, str, str]] = set()
    dropped: dict[str, int] = {}
    for upload in uploads:
        reason = drop_reason(upload.key)
        if reason is None and upload.identity in seen:
            reason = "duplicate"
        if reason is not None:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        seen.add(upload.identity)
        kept.append(upload)
    return kept, dropped


def sequencer_is_older(candidate: str | None, recorded: str | None) -> bool:
    """S3 sequencers order events for one key: compare as hex after left-padding to equal length
    (AWS documents exactly this). Missing sequencers (listings) never count as older."""
    if not candidate or not recorded:
        return False
    width = max(len(candidate), len(recorded))
    return int(candidate.rjust(width, "0"), 16) < int(recorded.rjust(width, "0"), 16)


def upload_event_pattern(landing_bucket: str) -> dict[str, Any]:
    """The EventBridge pattern for uploads worth a look: Object Created under incoming/.

    The stack's rule and the moto tests both use this, so they cannot drift.
    """
    return {"source": ["aws.s3"], "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [landing_bucket]},
                       "object": {"key": [{"prefix": layout.INCOMING_PREFIX}]}}}
