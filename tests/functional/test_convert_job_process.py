"""The converter container's entry point run as Batch runs it: a separate process, one per array
child (AWS_BATCH_JOB_ARRAY_INDEX), against a moto server reached through AWS_ENDPOINT_URL."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")
Image = pytest.importorskip("PIL.Image")

from satrec import layout  # noqa: E402
from satrec.cloud.batches import make_batch  # noqa: E402
from satrec.cloud.dispatch import CONVERT_JOB_ARGS  # noqa: E402
from satrec.cloud.ledger import CONVERTED, REJECTED, LedgerEntry  # noqa: E402
from satrec.cloud.uploads import Upload, select  # noqa: E402
from tests.functional.conftest import REGION  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LANDING, DATA = "landing", "data"
DEFAULTS = {"resize": 48, "min_size": 48}


def image_bytes(fmt: str, size: tuple[int, int], mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 40, 255)[: len(mode)] if mode != "L" else 128).save(out, format=fmt)
    return out.getvalue()


UPLOADS: dict[str, bytes | str] = {
    "incoming/eurosat/Forest/forest 1.jpg": image_bytes("JPEG", (64, 64)),
    "incoming/eurosat/Küste/bild ä.png": image_bytes("PNG", (40, 30), "RGBA"),
    "incoming/eurosat/River/gray.png": image_bytes("PNG", (100, 60), "L"),
    "incoming/eurosat/River/truncated.jpg": image_bytes("JPEG", (64, 64))[:200],
    "incoming/eurosat/River/empty.jpg": b"",
    "incoming/eurosat/River/text.jpg": b"this is not an image at all",
    "incoming/tiny/A/a.jpg": image_bytes("JPEG", (80, 80)),
    "incoming/tiny/satrec.json": json.dumps({"resize": 32, "min_size": 32, "encoding": ".png"}),
    "incoming/broken/A/a.jpg": image_bytes("JPEG", (80, 80)),
    "incoming/broken/satrec.json": '{"resize": "big"}',
}
EXPECTED_REJECTS = {
    "incoming/eurosat/River/truncated.jpg": ("truncated", "corrupt"),
    "incoming/eurosat/River/empty.jpg": ("empty",),
    "incoming/eurosat/River/text.jpg": ("not_image",),
    "incoming/broken/A/a.jpg": ("invalid_settings",),
}


@pytest.fixture
def s3(moto_server: str) -> Any:
    client = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    for bucket in (LANDING, DATA):
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key, body in UPLOADS.items():
        client.put_object(Bucket=LANDING, Key=key, Body=body.encode() if isinstance(body, str) else body)
    return client


def write_batch(s3: Any, *, per_child: int) -> tuple[str, int, list[Upload]]:
    """What the trigger Lambda does with the events of these uploads."""
    reported = []
    for key in UPLOADS:
        head = s3.head_object(Bucket=LANDING, Key=key)
        reported.append(Upload(LANDING, key, version_id=head["VersionId"], etag=head["ETag"].strip('"'),
                               size=head["ContentLength"]))
    kept, _ = select(reported)
    batch = make_batch(kept, per_child=per_child)
    key = layout.batch_key(batch.batch_id)
    s3.put_object(Bucket=DATA, Key=key, Body=batch.to_json().encode())
    return f"s3://{DATA}/{key}", batch.children, kept


def run_child(endpoint: str, uri: str, index: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AWS_BATCH_JOB_ARRAY_INDEX=str(index),
               SATREC_DEFAULT_SETTINGS=json.dumps(DEFAULTS), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "satrec", *CONVERT_JOB_ARGS, uri], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)


def ledger(s3: Any) -> dict[str, LedgerEntry]:
    listed = s3.list_objects_v2(Bucket=DATA, Prefix=layout.LEDGER_PREFIX).get("Contents", [])
    entries = [LedgerEntry.from_json(s3.get_object(Bucket=DATA, Key=o["Key"])["Body"].read()) for o in listed]
    return {e.source_key: e for e in entries}


def data_versions(s3: Any) -> list[tuple[str, str]]:
    listed = s3.list_object_versions(Bucket=DATA).get("Versions", [])
    return sorted((v["Key"], v["VersionId"]) for v in listed)


def summaries(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"] == "summary"]


def test_array_children_account_for_every_upload_once_and_a_rerun_changes_nothing(moto_server: str, s3: Any) -> None:
    uri, children, kept = write_batch(s3, per_child=3)
    assert children == 3

    for index in range(children):
        result = run_child(moto_server, uri, index)
        assert result.returncode == 0, result.stderr

    entries = ledger(s3)
    assert sorted(entries) == sorted(u.key for u in kept)            # one entry per input, none extra
    for key, entry in entries.items():
        if key in EXPECTED_REJECTS:
            assert entry.status == REJECTED and entry.reason in EXPECTED_REJECTS[key], entry
            assert entry.output_key is None
            continue
        assert entry.status == CONVERTED, entry
        assert entry.source_version_id == s3.head_object(Bucket=LANDING, Key=key)["VersionId"]
        stored = s3.get_object(Bucket=DATA, Key=entry.output_key)["Body"].read()
        with Image.open(io.BytesIO(stored)) as im:
            assert im.mode == "RGB"
            assert (im.width, im.height) == (entry.width, entry.height)
            minimum = 32 if key.startswith("incoming/tiny/") else 48
            assert min(im.size) >= minimum
            assert im.format == ("PNG" if key.startswith("incoming/tiny/") else "JPEG")

    before = data_versions(s3)
    for index in range(children):
        again = run_child(moto_server, uri, index)
        assert again.returncode == 0, again.stderr
        [summary] = summaries(again)
        assert (summary["converted"], summary["rejected"]) == (0, 0)
        assert summary["skipped"] == len(kept[index * 3:(index + 1) * 3])
    assert data_versions(s3) == before


def test_a_missing_batch_document_fails_the_child_with_one_line(moto_server: str, s3: Any) -> None:
    result = run_child(moto_server, f"s3://{DATA}/batches/nope.json", 0)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"satrec job: error: batch document s3://{DATA}/batches/nope.json does not exist"]
