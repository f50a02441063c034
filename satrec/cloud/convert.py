"""What one Batch array child does: convert its slice of a batch, one ledger entry per input.

For each upload: skip it if the ledger already accounts for this object version under the
dataset's current settings (or the event is older than the one recorded); else download that
exact version, ``satrec.imaging.normalise`` it, write the image under ``normalised/`` and then
the ledger entry (converted, or rejected with a reason code). The entry is written last, so a
child killed half-way leaves no entry and the retry redoes that input.

Clients are injected (``s3``: a boto3 S3 client or anything with the same four calls).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from satrec import __version__, layout
from satrec.cloud.batches import BatchDoc
from satrec.cloud.ledger import CONVERTED, REJECTED, LedgerEntry
from satrec.cloud.settings import parse_settings, settings_digest
from satrec.cloud.uploads import Upload, sequencer_is_older
from satrec.errors import ConfigError, ImageRejected, SatrecError
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


def _is_missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound")


def _extension(image: NormalisedImage, settings: ImageSettings) -> str:
    if image.passed_through:
        return "png" if image.data[:8] == b"\x89PNG\r\n\x1a\n" else "jpg"
    return settings.encoding.lstrip(".")


class SliceConverter:
    """Converts uploads into the data bucket; holds per-dataset settings for the slice's lifetime."""

    def __init__(self, s3: Any, *, data_bucket: str, defaults: dict[str, Any],
                 normaliser: Normaliser = normalise, log: Log | None = None) -> None:
        self._s3 = s3
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

    def convert(self, upload: Upload) -> tuple[str, str]:
        """Account for one upload; returns (converted | rejected | skipped, reason code or "")."""
        parsed = layout.parse_incoming_key(upload.key)
        if parsed is None:   # the trigger filters these; a hand-made batch may not
            raise ConfigError(f"{upload.key!r} is not under {layout.INCOMING_PREFIX}<dataset>/<class>/")
        dataset, class_name, _ = parsed
        ds = self._dataset_settings(upload.bucket, dataset)
        entry_key = layout.ledger_key(dataset, upload.key)
        previous = self._read_entry(entry_key)
        if previous is not None and (
                previous.is_current_for(version_id=upload.version_id, etag=upload.etag, settings_digest=ds.digest)
                or sequencer_is_older(upload.sequencer, previous.source_sequencer)):
            self._log({"event": "skipped", "dataset": dataset, "key": upload.key})
            return "skipped", ""

        base: dict[str, Any] = {"dataset": dataset, "class_name": class_name, "source_key": upload.key,
                "source_version_id": upload.version_id, "source_etag": upload.etag,
                "source_sequencer": upload.sequencer, "settings_digest": ds.digest, "satrec_version": __version__}
        if ds.settings is None:
            return self._reject(entry_key, base, REASON_INVALID_SETTINGS, ds.error)
        data, reject = self._download(upload)
        if reject:
            return self._reject(entry_key, base, *reject)
        try:
            image = self._normalise(data, ds.settings, name=upload.key)
        except ImageRejected as exc:
            return self._reject(entry_key, base, exc.reason, exc.detail)
        output_key = layout.normalised_key(upload.key, _extension(image, ds.settings))
        self._s3.put_object(Bucket=self._data_bucket, Key=output_key, Body=image.data,
                            ContentType="image/png" if output_key.endswith(".png") else "image/jpeg")
        entry = LedgerEntry(**base, status=CONVERTED, output_key=output_key, width=image.width,
                            height=image.height, passed_through=image.passed_through)
        self._write_entry(entry_key, entry)
        self._log({"event": CONVERTED, "dataset": dataset, "key": upload.key, "output": output_key})
        return CONVERTED, ""

    def _reject(self, entry_key: str, base: dict[str, Any], reason: str, detail: str) -> tuple[str, str]:
        self._write_entry(entry_key, LedgerEntry(**base, status=REJECTED, reason=reason, detail=detail))
        self._log({"event": REJECTED, "dataset": base["dataset"], "key": base["source_key"], "reason": reason,
                   "detail": detail})
        return REJECTED, reason

    def _download(self, upload: Upload) -> tuple[bytes, tuple[str, str] | None]:
        args: dict[str, Any] = {"Bucket": upload.bucket, "Key": upload.key}
        if upload.version_id:
            args["VersionId"] = upload.version_id
        try:
            response = self._s3.get_object(**args)
        except Exception as exc:
            if _is_missing(exc):
                return b"", (REASON_MISSING, f"{upload.key} (version {upload.version_id or 'latest'}) no longer exists")
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
            settings = parse_settings(raw, source=source, base=self._defaults)
            result = _DatasetSettings(settings, settings_digest(settings))
        except ConfigError as exc:
            # Every input of the dataset is rejected with the reason; fixing the file changes the
            # digest, so the reconcile step converts them again.
            result = _DatasetSettings(None, "invalid-" + hashlib.sha256(raw).hexdigest()[:16], str(exc))
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
