"""`satrec convert` with S3 sources and destinations, under moto (no network, no AWS account)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

from satrec.convert import ConvertOptions, convert  # noqa: E402
from satrec.documents import DatasetDoc  # noqa: E402
from satrec.errors import DestinationError  # noqa: E402
from satrec.imaging import ImageSettings  # noqa: E402
from tests.convert_corpus import class_tree  # noqa: E402


@pytest.fixture
def s3(monkeypatch):
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="landing")
        client.create_bucket(Bucket="data")
        yield client


def upload_tree(client, root: Path, bucket: str, prefix: str) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), bucket, prefix + path.relative_to(root).as_posix())


def keys(client, bucket: str, prefix: str) -> dict[str, bytes]:
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"][len(prefix):]] = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("image", [ImageSettings(resize=16), ImageSettings(pass_through=True)],
                         ids=["resize", "pass-through"])
def test_s3_source_to_s3_destination_matches_a_local_conversion(s3, tmp_path, image):
    src = tmp_path / "eurosat"
    class_tree(src, {"Forest": 6, "River": 5})
    (src / "Forest" / "A-sub").mkdir()     # S3 lists it before Forest_*.jpg; a walk after
    (src / "Forest" / "Forest_000.jpg").rename(src / "Forest" / "A-sub" / "nested.jpg")
    (src / "River" / "empty.jpg").write_bytes(b"")
    (src / "__MACOSX").mkdir()
    (src / "__MACOSX" / "x.jpg").write_bytes(b"x")
    upload_tree(s3, src, "landing", "incoming/eurosat/")
    options = dict(name="eurosat", image=image, num_workers=2)
    result = convert(ConvertOptions(src="s3://landing/incoming/eurosat", dst="s3://data/datasets/eurosat/run1",
                                    **options), s3_client=s3)
    assert result.published and result.rejected == 1
    remote = keys(s3, "data", "datasets/eurosat/run1/")
    doc = DatasetDoc.from_json(remote["meta/dataset.json"].decode())
    assert doc.inputs == {"total": 13, "packed": 11, "rejected": 1, "skipped": 1}
    assert json.loads(remote["meta/rejects.jsonl"])["reason"] == "zero_byte"
    assert {k.split("/")[0] for k in remote} == {"train", "validation", "meta"}
    assert not any("satrec-tmp" in k for k in remote)

    local = tmp_path / "local"
    convert(ConvertOptions(src=str(src), dst=str(local), **options))
    local_files = tree_bytes(local)
    # Same records, same side files; only dataset.json's "source" setting differs.
    assert {k: v for k, v in remote.items() if k != "meta/dataset.json"} == \
        {k: v for k, v in local_files.items() if k != "meta/dataset.json"}


def test_rerun_to_s3_removes_stale_shards_and_keeps_one_dataset_json(s3, tmp_path):
    src = tmp_path / "tiles"
    class_tree(src, {"a": 6, "b": 6})
    dst = "s3://data/out"
    convert(ConvertOptions(src=str(src), dst=dst, shards=3, num_workers=1), s3_client=s3)
    assert len([k for k in keys(s3, "data", "out/train/")]) == 3
    convert(ConvertOptions(src=str(src), dst=dst, shards=1, num_workers=1), s3_client=s3)
    remote = keys(s3, "data", "out/")
    assert sorted(k for k in remote if k.startswith("train/")) == ["train/tiles-train-00000.rec"]
    assert "meta/tiles-train-00002.idx" not in remote
    assert DatasetDoc.from_json(remote["meta/dataset.json"].decode()).splits["train"].shards[0].records > 0


def test_missing_destination_bucket_is_a_fatal_destination_error(s3, tmp_path):
    src = tmp_path / "tiles"
    class_tree(src, {"a": 2})
    with pytest.raises(DestinationError, match="no-such-bucket"):
        convert(ConvertOptions(src=str(src), dst="s3://no-such-bucket/x", num_workers=1), s3_client=s3)
