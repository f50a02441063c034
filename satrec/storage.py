"""Where a dataset is read from and written to: a local folder or an S3 prefix, behind one interface.

Paths given to a storage are relative to its root and ``/`` separated (the layout in
``satrec.layout``). Large outputs are written to a local staging file first and then committed
with one atomic step: ``os.replace`` locally, one PUT (boto3's transfer manager, multipart for big
shards) on S3, so a reader never sees half a file under its final name.

Nothing is created at import time; an S3 client is injected, or made on first use (after moto's
``mock_aws`` has started, in tests).
"""

# Staging paths are plain str: they cross into boto3 and os.replace.
# ruff: noqa: PTH105, PTH108, PTH118
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import tempfile

from satrec.errors import DestinationError, SourceError, UsageError

STAGING_PREFIX = ".satrec-tmp-"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (bucket, ``some/prefix/``); the prefix ends with ``/`` or is empty."""
    if not uri.startswith("s3://"):
        raise UsageError(f"{uri!r} is not an s3:// URI")
    bucket, _, prefix = uri[5:].partition("/")
    if not bucket:
        raise UsageError(f"{uri!r} names no bucket; use s3://bucket/prefix")
    prefix = prefix.strip("/")
    return bucket, (prefix + "/" if prefix else "")


class Storage(Protocol):
    uri: str

    def list(self, prefix: str = "") -> Iterator[tuple[str, int]]: ...
    def read_bytes(self, relpath: str) -> bytes: ...
    def write_bytes(self, relpath: str, data: bytes) -> None: ...
    def staging_path(self, relpath: str) -> str: ...
    def commit(self, staged: str, relpath: str) -> None: ...
    def discard(self, staged: str) -> None: ...
    def delete(self, relpath: str) -> None: ...
    def exists(self, relpath: str) -> bool: ...
    def prepare(self) -> None: ...


class LocalStorage:
    """A folder. Staging files sit next to their final name (same file system: rename is atomic)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.uri = str(root)

    def _path(self, relpath: str) -> Path:
        return self.root / relpath

    def prepare(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise DestinationError(f"destination {self.uri!r} exists and is not a folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f"{STAGING_PREFIX}probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise DestinationError(f"cannot write to destination {self.uri!r}: {exc.strerror or exc}") from None

    def list(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                full = Path(dirpath) / name
                rel = full.relative_to(self.root).as_posix()
                with contextlib.suppress(OSError):
                    yield rel, full.stat().st_size

    def read_bytes(self, relpath: str) -> bytes:
        try:
            return self._path(relpath).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read {str(self._path(relpath))!r}: {exc.strerror or exc}") from None

    def staging_path(self, relpath: str) -> str:
        final = self._path(relpath)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DestinationError(f"cannot create {str(final.parent)!r}: {exc.strerror or exc}") from None
        return str(final.parent / f"{STAGING_PREFIX}{final.name}")

    def commit(self, staged: str, relpath: str) -> None:
        # Atomic against a killed process (the rename), not against power loss: no fsync, which
        # costs more than the whole pass-through packing of a shard of small chips.
        try:
            os.replace(staged, self._path(relpath))
        except OSError as exc:
            raise DestinationError(f"cannot publish {relpath!r} in {self.uri!r}: {exc.strerror or exc}") from None

    def discard(self, staged: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)

    def write_bytes(self, relpath: str, data: bytes) -> None:
        staged = self.staging_path(relpath)
        try:
            with open(staged, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise DestinationError(f"cannot write {relpath!r} in {self.uri!r}: {exc.strerror or exc}") from None
        self.commit(staged, relpath)

    def delete(self, relpath: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(relpath).unlink()

    def exists(self, relpath: str) -> bool:
        return self._path(relpath).is_file()


class S3Storage:
    """A prefix in a bucket. Staging files live in a private local temp folder until uploaded."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.uri = f"s3://{bucket}/{self.prefix}"
        self._client = client
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def key(self, relpath: str) -> str:
        return self.prefix + relpath

    def _error(self, exc: Exception, what: str, cls: type[Exception] = DestinationError) -> Exception:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        return cls(f"cannot {what} {self.uri!r}: {code}: {exc}")

    def prepare(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise self._error(exc, "reach destination bucket") from None

    def list(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key(prefix)):
                for obj in page.get("Contents", []):
                    yield obj["Key"][len(self.prefix):], int(obj["Size"])
        except Exception as exc:
            raise self._error(exc, "list", SourceError) from None

    def read_bytes(self, relpath: str) -> bytes:
        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=self.key(relpath))["Body"].read())
        except Exception as exc:
            raise self._error(exc, f"read {relpath!r} from", SourceError) from None

    def _tmpdir(self) -> str:
        if self._tmp is None:
            import tempfile  # S3 only; a local conversion need not pay its import (random, shutil)

            self._tmp = tempfile.TemporaryDirectory(prefix="satrec-s3-")
        return self._tmp.name

    def staging_path(self, relpath: str) -> str:
        return os.path.join(self._tmpdir(), relpath.replace("/", "__"))

    def commit(self, staged: str, relpath: str) -> None:
        try:
            # upload_file uses the transfer manager: multipart and concurrent for large shards.
            self.client.upload_file(staged, self.bucket, self.key(relpath))
        except Exception as exc:
            raise self._error(exc, f"upload {relpath!r} to") from None
        finally:
            self.discard(staged)

    def discard(self, staged: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)

    def write_bytes(self, relpath: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(relpath), Body=data)
        except Exception as exc:
            raise self._error(exc, f"write {relpath!r} to") from None

    def delete(self, relpath: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(relpath))
        except Exception as exc:
            raise self._error(exc, f"delete {relpath!r} from") from None

    def exists(self, relpath: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(relpath))
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._error(exc, f"check {relpath!r} in") from None
        return True

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def open_storage(uri: str, *, s3_client: Any = None) -> LocalStorage | S3Storage:
    if uri.startswith("s3://"):
        bucket, prefix = parse_s3_uri(uri)
        return S3Storage(bucket, prefix, client=s3_client)
    if "://" in uri:
        raise UsageError(f"{uri!r}: only local folders and s3:// are supported")
    return LocalStorage(uri)
