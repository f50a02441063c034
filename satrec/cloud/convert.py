"""What one Batch array child does: convert its slice of a batch, one ledger entry per input.

For each upload: skip it if the ledger already accounts for this object version under the
dataset's current settings (or the event is older than the one recorded); else download that
exact version, ``satrec.imaging.normalise`` it, write the image under ``normalised/`` and then
the ledger entry (converted, or rejected with a reason code). The entry is written last, so a
child killed half-way leaves no entry and the retry redoes that input.

A GeoTIFF scene (``.tif``/``.tiff``) is streamed to the task's ephemeral storage and cut into
chips (``satrec.cloud.scenes``): one normalised image per chip, one ledger entry listing them all.
Outputs of the previous entry for the same landing key that the new entry no longer lists (a
different chip grid or encoding, or an input now rejected) are deleted before the entry is
written, so ``normalised/`` holds exactly what the ledger accounts for.

Clients are injected (``s3``: a boto3 S3 client or anything with the same calls: get_object,
put_object, head_object, download_fileobj, delete_object).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satrec import __version__, layout
from satrec.cloud.batches import BatchDoc
from satrec.cloud.ledger import CONVERTED, REJECTED, LedgerEntry
from satrec.cloud.scenes import (
    REASON_NO_SPACE,
    chip_scene_upload,
    is_out_of_space,
    output_extension,
    plain_decoding_suffices,
    scratch_dir,
    space_problem,
)
from satrec.cloud.settings import parse_dataset_settings, scene_settings_digest, settings_digest
from satrec.cloud.uploads import Upload, sequencer_is_older
from satrec.errors import ConfigError, ImageRejected, SatrecError
from satrec.geo import is_scene_path
from satrec.geo.options import ChipOptions
from satrec.imaging import ImageSettings, NormalisedImage, normalise

# Landing objects larger than this are rejected unread: one child holds one image in memory.
MAX_INPUT_BYTES = 512 * 1024 * 1024
REASON_MISSING = "missing"                    # the object version is gone (deleted before conversion)
REASON_INVALID_SETTINGS = "invalid_settings"  # incoming/<ds>/satrec.json cannot be used
REASON_TOO_LARGE_FILE = "file_too_large"

Normaliser = Callable[..., NormalisedImage]
Log = Callable[[dict[str, Any]], None]


@dataclass
class SliceSummary:
    converted: int = 0
    rejected: int = 0
    skipped: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"converted": self.converted, "rejected": self.rejected, "skipped": self.skipped,
                "by_reason": dict(sorted(self.by_reason.items()))}


@dataclass(frozen=True)
class _DatasetSettings:
    settings: ImageSettings | None   # None: satrec.json is invalid
    digest: str
    error: str = ""
    scenes: ChipOptions | None = None
    scene_digest: str = ""           # for .tif/.tiff uploads: also covers the scene options


def _is_missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound")


class SliceConverter:
    """Converts uploads into the data bucket; holds per-dataset settings for the slice's lifetime."""

    def __init__(self, s3: Any, *, data_bucket: str, defaults: dict[str, Any],
                 normaliser: Normaliser = normalise, log: Log | None = None, scratch: str | None = None) -> None:
        self._s3 = s3
        self._scratch = scratch
        self._data_bucket = data_bucket
        self._defaults = defaults
        self._normalise = normaliser
        self._log = log or (lambda _event: None)
        self._settings: dict[tuple[str, str], _DatasetSettings] = {}

    def run(self, batch: BatchDoc, index: int) -> SliceSummary:
        summary = SliceSummary()
        for upload in batch.slice(index):
            outcome, reason = self.convert(upload)
            if outcome == CONVERTED:
                summary.converted += 1
            elif outcome == REJECTED:
                summary.rejected += 1
                summary.by_reason[reason] = summary.by_reason.get(reason, 0) + 1
            else:
                summary.skipped += 1
        return summary

    # ------------------------------------------------------------------ one input

    def settings_digest_for(self, upload: Upload) -> str:
        """The digest a current ledger entry for this upload must carry (dataset settings, image or scene)."""
        parsed = layout.parse_incoming_key(upload.key)
        if parsed is None:
            raise ConfigError(f"{upload.key!r} is not under {layout.INCOMING_PREFIX}<dataset>/<class>/")
        ds = self._dataset_settings(upload.bucket, parsed[0])
        return ds.scene_digest if is_scene_path(upload.key) else ds.digest

    def convert(self, upload: Upload) -> tuple[str, str]:
        """Account for one upload; returns (converted | rejected | skipped, reason code or "")."""
        parsed = layout.parse_incoming_key(upload.key)
        if parsed is None:   # the trigger filters these; a hand-made batch may not
            raise ConfigError(f"{upload.key!r} is not under {layout.INCOMING_PREFIX}<dataset>/<class>/")
        dataset, class_name, _ = parsed
        ds = self._dataset_settings(upload.bucket, dataset)
        scene = is_scene_path(upload.key)
        digest = ds.scene_digest if scene else ds.digest
        entry_key = layout.ledger_key(dataset, upload.key)
        previous = self._read_entry(entry_key)
        if previous is not None and (
                previous.is_current_for(version_id=upload.version_id, etag=upload.etag, settings_digest=digest)
                or sequencer_is_older(upload.sequencer, previous.source_sequencer)):
            self._log({"event": "skipped", "dataset": dataset, "key": upload.key})
            return "skipped", ""

        base: dict[str, Any] = {"dataset": dataset, "class_name": class_name, "source_key": upload.key,
                "source_version_id": upload.version_id, "source_etag": upload.etag,
                "source_sequencer": upload.sequencer, "settings_digest": digest, "satrec_version": __version__}
        if ds.settings is None:
            return self._reject(entry_key, base, REASON_INVALID_SETTINGS, ds.error, previous)
        if scene:
            return self._convert_scene(upload, ds.settings, ds.scenes, entry_key, base, previous)
        data, reject = self._download(upload)
        if reject:
            return self._reject(entry_key, base, *reject, previous)
        return self._convert_image(data, upload, ds.settings, entry_key, base, previous)

    def _convert_image(self, data: bytes, upload: Upload, settings: ImageSettings, entry_key: str,
                       base: dict[str, Any], previous: LedgerEntry | None) -> tuple[str, str]:
        try:
            image = self._normalise(data, settings, name=upload.key)
        except ImageRejected as exc:
            return self._reject(entry_key, base, exc.reason, exc.detail, previous)
        output_key = layout.normalised_key(upload.key, output_extension(image, settings))
        self._s3.put_object(Bucket=self._data_bucket, Key=output_key, Body=image.data,
                            ContentType="image/png" if output_key.endswith(".png") else "image/jpeg")
        entry = LedgerEntry(**base, status=CONVERTED, output_key=output_key, width=image.width,
                            height=image.height, passed_through=image.passed_through)
        self._commit(entry_key, entry, previous)
        self._log({"event": CONVERTED, "dataset": base["dataset"], "key": upload.key, "output": output_key})
        return CONVERTED, ""

    def _convert_scene(self, upload: Upload, settings: ImageSettings, options: ChipOptions | None,
                       entry_key: str, base: dict[str, Any], previous: LedgerEntry | None) -> tuple[str, str]:
        """Stream the scene to ephemeral storage, chip it, stage and upload the chips, one entry."""
        size, reject = self._size(upload)
        if reject:
            return self._reject(entry_key, base, *reject, previous)
        directory = self._scratch or scratch_dir()
        problem = space_problem(size, directory)
        if problem:
            return self._reject(entry_key, base, REASON_NO_SPACE, problem, previous)
        with tempfile.TemporaryDirectory(prefix="satrec-scene-", dir=directory) as tmp:
            path = f"{tmp}/scene.tif"
            try:
                reject = self._download_to(upload, path)
                if reject:
                    return self._reject(entry_key, base, *reject, previous)
                if options is None and plain_decoding_suffices(path):
                    if size > MAX_INPUT_BYTES:
                        return self._reject(entry_key, base, REASON_TOO_LARGE_FILE, f"{size} bytes is over the "
                                            f"converter's limit of {MAX_INPUT_BYTES} for one image: give scene "
                                            "options (satrec.json \"scenes\": {\"chip\": 256}) to cut it into "
                                            "chips", previous)
                    with open(path, "rb") as f:
                        data = f.read()
                    return self._convert_image(data, upload, settings, entry_key, base, previous)
                chipped = chip_scene_upload(path, upload.key, base["class_name"], options, settings,
                                            self._normalise, Path(tmp) / "chips")
            except ImageRejected as exc:
                return self._reject(entry_key, base, exc.reason, exc.detail, previous)
            except OSError as exc:
                if not is_out_of_space(exc):
                    raise
                return self._reject(entry_key, base, REASON_NO_SPACE, f"the task's ephemeral storage filled up "
                                    f"while chipping ({exc.strerror}): raise the context key job_ephemeral_gib",
                                    previous)
            for chip in chipped.chips:
                with open(chip.path, "rb") as body:
                    self._s3.put_object(Bucket=self._data_bucket, Key=chip.key, Body=body,
                                        ContentType=chip.content_type)
        entry = LedgerEntry(**base, status=CONVERTED, outputs=[c.record for c in chipped.chips],
                            scene=chipped.scene, recipe=chipped.recipe)
        self._commit(entry_key, entry, previous)
        self._log({"event": CONVERTED, "dataset": base["dataset"], "key": upload.key, "chips": len(chipped.chips),
                   "skipped": chipped.skipped})
        return CONVERTED, ""

    def _reject(self, entry_key: str, base: dict[str, Any], reason: str, detail: str,
                previous: LedgerEntry | None = None) -> tuple[str, str]:
        self._commit(entry_key, LedgerEntry(**base, status=REJECTED, reason=reason, detail=detail), previous)
        self._log({"event": REJECTED, "dataset": base["dataset"], "key": base["source_key"], "reason": reason,
                   "detail": detail})
        return REJECTED, reason

    def _commit(self, entry_key: str, entry: LedgerEntry, previous: LedgerEntry | None) -> None:
        """Delete what the previous entry listed and this one does not, then write the entry.

        Deleting first: a child killed in between leaves the old entry, which the retry replaces
        (deleting a missing key is not an error). Only keys derived from this landing key are
        touched, so a damaged entry can never make the converter delete someone else's image.
        """
        if previous is not None:
            keep = set(entry.output_keys)
            owned = layout.normalised_key(entry.source_key, "x").rsplit(".", 1)[0]
            for key in previous.output_keys:
                if key not in keep and (key.startswith(owned + ".") or key.startswith(owned + "/")):
                    self._s3.delete_object(Bucket=self._data_bucket, Key=key)
        self._write_entry(entry_key, entry)

    def _version_args(self, upload: Upload) -> dict[str, Any]:
        return {"VersionId": upload.version_id} if upload.version_id else {}

    def _missing(self, upload: Upload) -> tuple[str, str]:
        return REASON_MISSING, f"{upload.key} (version {upload.version_id or 'latest'}) no longer exists"

    def _size(self, upload: Upload) -> tuple[int, tuple[str, str] | None]:
        try:
            head = self._s3.head_object(Bucket=upload.bucket, Key=upload.key, **self._version_args(upload))
        except Exception as exc:
            if _is_missing(exc):
                return 0, self._missing(upload)
            raise
        return int(head.get("ContentLength") or 0), None

    def _download_to(self, upload: Upload, path: str) -> tuple[str, str] | None:
        """Stream the object version to ``path`` (ranged, parallel parts: s3transfer)."""
        try:
            with open(path, "wb") as f:
                self._s3.download_fileobj(upload.bucket, upload.key, f, ExtraArgs=self._version_args(upload) or None)
        except Exception as exc:
            if _is_missing(exc):
                return self._missing(upload)
            raise
        return None

    def _download(self, upload: Upload) -> tuple[bytes, tuple[str, str] | None]:
        args: dict[str, Any] = {"Bucket": upload.bucket, "Key": upload.key}
        if upload.version_id:
            args["VersionId"] = upload.version_id
        try:
            response = self._s3.get_object(**args)
        except Exception as exc:
            if _is_missing(exc):
                return b"", self._missing(upload)
            raise
        size = int(response.get("ContentLength") or 0)
        if size > MAX_INPUT_BYTES:
            response["Body"].close()
            return b"", (REASON_TOO_LARGE_FILE, f"{size} bytes is over the converter's limit of {MAX_INPUT_BYTES}")
        return response["Body"].read(), None

    # ------------------------------------------------------------------ documents

    def _dataset_settings(self, bucket: str, dataset: str) -> _DatasetSettings:
        cached = self._settings.get((bucket, dataset))
        if cached is not None:
            return cached
        key = layout.dataset_settings_key(dataset)
        source = f"s3://{bucket}/{key}"
        try:
            raw = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            if not _is_missing(exc):
                raise
            raw = b"{}"
        try:
            parsed = parse_dataset_settings(raw, source=source, base=self._defaults)
            result = _DatasetSettings(parsed.image, settings_digest(parsed.image), scenes=parsed.scenes,
                                      scene_digest=scene_settings_digest(parsed))
        except ConfigError as exc:
            # Every input of the dataset is rejected with the reason; fixing the file changes the
            # digest, so the reconcile step converts them again.
            invalid = "invalid-" + hashlib.sha256(raw).hexdigest()[:16]
            result = _DatasetSettings(None, invalid, str(exc), scene_digest=invalid)
        self._settings[(bucket, dataset)] = result
        return result

    def _read_entry(self, key: str) -> LedgerEntry | None:
        try:
            body = self._s3.get_object(Bucket=self._data_bucket, Key=key)["Body"].read()
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise
        try:
            return LedgerEntry.from_json(body)
        except SatrecError as exc:
            # A damaged entry accounts for nothing: convert again and overwrite it.
            self._log({"event": "damaged-ledger-entry", "key": key, "detail": str(exc)})
            return None

    def _write_entry(self, key: str, entry: LedgerEntry) -> None:
        self._s3.put_object(Bucket=self._data_bucket, Key=key, Body=entry.to_json().encode("utf-8"),
                            ContentType="application/json")


def read_batch(s3: Any, uri: str) -> tuple[str, BatchDoc]:
    """``s3://<data bucket>/batches/<id>.json`` -> (data bucket, batch)."""
    bucket, key = split_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        if _is_missing(exc):
            raise ConfigError(f"batch document {uri} does not exist") from None
        raise
    return bucket, BatchDoc.from_json(body)


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:] or uri.endswith("/"):
        raise ConfigError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def json_log_line(event: dict[str, Any]) -> str:
    """One JSON object per line: CloudWatch metric filters count conversions per dataset from these."""
    return json.dumps(event, ensure_ascii=False, sort_keys=True)
