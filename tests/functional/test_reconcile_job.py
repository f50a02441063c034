"""The reconcile job converts what the ledger lacks or holds stale, and nothing else (moto)."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from satrec import layout
from satrec.jobs.reconcile import reconcile

LANDING, DATA, DATASET = "landing", "data", "eurosat"


def jpeg(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 40), colour).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=LANDING)
        client.create_bucket(Bucket=DATA)
        yield client


def run(s3, run_id: str = "r1") -> dict:
    return reconcile(s3, dataset=DATASET, run_id=run_id, landing_bucket=LANDING, data_bucket=DATA, defaults={})


def put(s3, key: str, body: bytes) -> None:
    s3.put_object(Bucket=LANDING, Key=f"{layout.incoming_dataset_prefix(DATASET)}{key}", Body=body)


def test_missed_uploads_are_converted_once_and_a_second_run_changes_nothing(s3):
    put(s3, "Forest/a.jpg", jpeg((10, 80, 10)))
    put(s3, "SeaLake/b.jpg", jpeg((10, 10, 90)))
    first = run(s3)
    assert first["converted_now"]["converted"] == 2 and first["converted"] == 2
    second = run(s3, "r2")
    assert second["converted_now"] == {"converted": 0, "rejected": 0, "skipped": 0}
    assert second["converted"] == 2


def test_an_upload_replaced_without_an_event_is_converted_again(s3):
    put(s3, "Forest/a.jpg", jpeg((10, 80, 10)))
    run(s3)
    put(s3, "Forest/a.jpg", jpeg((200, 200, 10)))      # new content, new ETag; its event was lost
    again = run(s3, "r2")
    assert again["converted_now"]["converted"] == 1
    entry = json.loads(s3.get_object(Bucket=DATA, Key=layout.ledger_key(DATASET, f"incoming/{DATASET}/Forest/a.jpg"))
                       ["Body"].read())
    head = s3.head_object(Bucket=LANDING, Key=f"incoming/{DATASET}/Forest/a.jpg")
    assert entry["source_etag"] == head["ETag"].strip('"')


def test_fixing_an_invalid_settings_file_reconverts_the_rejected_inputs(s3):
    put(s3, "Forest/a.jpg", jpeg((10, 80, 10)))
    put(s3, layout.DATASET_SETTINGS_FILE, b'{"quality": 500}')
    first = run(s3)
    assert first["rejected"] == 1 and first["converted"] == 0
    put(s3, layout.DATASET_SETTINGS_FILE, b'{"quality": 90}')
    fixed = run(s3, "r2")
    assert fixed["converted_now"]["converted"] == 1
    assert fixed["converted"] == 1 and fixed["rejected"] == 0
