"""Local and S3 storage: staged writes become visible only when committed, listing, deleting."""

from __future__ import annotations

from pathlib import Path

import pytest

from satrec.errors import DestinationError, UsageError
from satrec.storage import STAGING_PREFIX, LocalStorage, S3Storage, open_storage, parse_s3_uri


def test_parse_s3_uri_normalises_the_prefix():
    assert parse_s3_uri("s3://b") == ("b", "")
    assert parse_s3_uri("s3://b/x/y/") == ("b", "x/y/")
    assert parse_s3_uri("s3://b/x") == ("b", "x/")
    with pytest.raises(UsageError):
        parse_s3_uri("s3:///x")
    with pytest.raises(UsageError):
        open_storage("gs://bucket/x")


def test_local_staged_file_appears_under_its_name_only_on_commit(tmp_path):
    store = LocalStorage(tmp_path / "ds")
    store.prepare()
    staged = store.staging_path("train/a.rec")
    Path(staged).write_bytes(b"data")
    assert not store.exists("train/a.rec") and Path(staged).name.startswith(STAGING_PREFIX)
    store.commit(staged, "train/a.rec")
    assert store.read_bytes("train/a.rec") == b"data" and not Path(staged).exists()
    store.write_bytes("meta/x.json", b"{}")
    assert list(store.list()) == [("meta/x.json", 2), ("train/a.rec", 4)]
    assert list(store.list("meta/")) == [("meta/x.json", 2)]
    store.delete("meta/x.json")
    store.delete("meta/x.json")           # deleting twice is fine
    assert not store.exists("meta/x.json")


def test_local_destination_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(DestinationError, match="not a folder"):
        LocalStorage(tmp_path / "f").prepare()


def test_s3_storage_round_trip_under_moto(tmp_path, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="bkt")
        store = S3Storage("bkt", "ds/run", client=client)
        store.prepare()
        staged = store.staging_path("train/a.rec")
        Path(staged).write_bytes(b"x" * 10)
        assert not store.exists("train/a.rec")
        store.commit(staged, "train/a.rec")
        assert not Path(staged).exists()
        store.write_bytes("meta/dataset.json", b"{}")
        assert list(store.list()) == [("meta/dataset.json", 2), ("train/a.rec", 10)]
        assert store.read_bytes("train/a.rec") == b"x" * 10
        assert client.head_object(Bucket="bkt", Key="ds/run/train/a.rec")["ContentLength"] == 10
        store.delete("train/a.rec")
        assert not store.exists("train/a.rec")
        store.close()
        with pytest.raises(DestinationError):
            S3Storage("missing-bucket", client=client).prepare()
