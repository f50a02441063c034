"""SliceConverter in-process under moto: what makes it redo, skip or reject an upload."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")
Image = pytest.importorskip("PIL.Image")

from satrec import layout  # noqa: E402
from satrec.cloud.convert import SliceConverter  # noqa: E402
from satrec.cloud.ledger import LedgerEntry  # noqa: E402
from satrec.cloud.uploads import Upload  # noqa: E402
from tests.functional.conftest import REGION  # noqa: E402

KEY = "incoming/d/cls/pic.jpg"


def jpeg(size: tuple[int, int], colour: tuple[int, int, int] = (10, 200, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def s3(aws_env: None) -> Iterator[Any]:
    with moto.mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in ("landing", "data"):
            client.create_bucket(Bucket=bucket)
            client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        yield client


def put(s3: Any, key: str, body: bytes, sequencer: str | None = None) -> Upload:
    response = s3.put_object(Bucket="landing", Key=key, Body=body)
    return Upload("landing", key, version_id=response["VersionId"], etag=response["ETag"].strip('"'),
                  sequencer=sequencer)


def entry(s3: Any, key: str = KEY) -> LedgerEntry:
    body = s3.get_object(Bucket="data", Key=layout.ledger_key("d", key))["Body"].read()
    return LedgerEntry.from_json(body)


def converter(s3: Any, **defaults: Any) -> SliceConverter:
    return SliceConverter(s3, data_bucket="data", defaults={"resize": 32, "min_size": 32, **defaults})


def test_a_new_version_is_converted_again_and_a_late_older_event_is_skipped(s3: Any) -> None:
    first = put(s3, KEY, jpeg((64, 64)), sequencer="0A")
    second = put(s3, KEY, jpeg((96, 64)), sequencer="0B")
    assert converter(s3).convert(second) == ("converted", "")
    assert converter(s3).convert(first) == ("skipped", "")            # arrived late: older sequencer
    recorded = entry(s3)
    assert recorded.source_version_id == second.version_id
    assert (recorded.width, recorded.height) == (48, 32)


def test_changed_dataset_settings_redo_a_converted_upload(s3: Any) -> None:
    upload = put(s3, KEY, jpeg((64, 64)))
    assert converter(s3).convert(upload) == ("converted", "")
    assert converter(s3).convert(upload) == ("skipped", "")
    s3.put_object(Bucket="landing", Key=layout.dataset_settings_key("d"), Body=b'{"resize": 40, "min_size": 40}')
    assert converter(s3).convert(upload) == ("converted", "")
    assert entry(s3).width == 40


def test_invalid_settings_reject_with_the_reason_and_fixing_them_converts(s3: Any) -> None:
    upload = put(s3, KEY, jpeg((64, 64)))
    s3.put_object(Bucket="landing", Key=layout.dataset_settings_key("d"), Body=b'{"quality": 0}')
    assert converter(s3).convert(upload) == ("rejected", "invalid_settings")
    assert "satrec.json" in (entry(s3).detail or "")
    s3.put_object(Bucket="landing", Key=layout.dataset_settings_key("d"), Body=b'{"quality": 80}')
    assert converter(s3).convert(upload) == ("converted", "")


def test_a_deleted_version_is_rejected_as_missing(s3: Any) -> None:
    upload = put(s3, KEY, jpeg((64, 64)))
    s3.delete_object(Bucket="landing", Key=KEY, VersionId=upload.version_id)
    assert converter(s3).convert(upload) == ("rejected", "missing")


def test_pass_through_keeps_the_original_bytes_and_extension(s3: Any) -> None:
    original = jpeg((64, 64))
    upload = put(s3, "incoming/d/cls/keep.jpeg", original)
    assert converter(s3, resize=0, min_size=0, pass_through=True).convert(upload) == ("converted", "")
    recorded = entry(s3, "incoming/d/cls/keep.jpeg")
    assert recorded.passed_through and recorded.output_key.endswith(".jpg")
    assert s3.get_object(Bucket="data", Key=recorded.output_key)["Body"].read() == original


def test_a_damaged_ledger_entry_is_replaced_by_converting_again(s3: Any) -> None:
    upload = put(s3, KEY, jpeg((64, 64)))
    s3.put_object(Bucket="data", Key=layout.ledger_key("d", KEY), Body=b"{not json")
    assert converter(s3).convert(upload) == ("converted", "")
    assert entry(s3).source_version_id == upload.version_id
