"""The few S3 calls the pipeline core makes, on an injected boto3 client (moto in tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from satrec.errors import SourceError


def error_code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__))


def list_objects(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every object under ``prefix``, in key order (S3 lists lexicographically)."""
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def get_bytes(s3: Any, bucket: str, key: str) -> bytes:
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception as exc:
        raise SourceError(f"cannot read s3://{bucket}/{key}: {error_code(exc)}") from None


def get_json(s3: Any, bucket: str, key: str) -> Any:
    return json.loads(get_bytes(s3, bucket, key))


def get_json_or_none(s3: Any, bucket: str, key: str) -> Any:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception as exc:
        if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise SourceError(f"cannot read s3://{bucket}/{key}: {error_code(exc)}") from None


def put_json(s3: Any, bucket: str, key: str, document: Any) -> None:
    body = json.dumps(document, indent=1, sort_keys=False, ensure_ascii=False).encode() + b"\n"
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise SourceError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key
