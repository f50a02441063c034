"""Assembling channels: the multipart part rules, and concatenation by server-side copy in moto."""

from __future__ import annotations

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from satrec.jobs.assemble import Segment, concatenate, part_plan


@given(st.lists(st.integers(1, 40), min_size=1, max_size=12), st.integers(3, 10))
def test_every_part_but_the_last_is_big_enough_and_bytes_keep_their_order(sizes: list[int], min_part: int) -> None:
    segments = [Segment(f"k{i}", 0, n) for i, n in enumerate(sizes)]
    parts = part_plan(segments, min_part=min_part, max_part=4 * min_part)
    for part in parts[:-1]:
        assert sum(seg.end - seg.start for _, seg in part) >= min_part
    for part in parts:
        if part[0][0] == "copy":
            assert len(part) == 1 and part[0][1].end - part[0][1].start <= 4 * min_part
        else:
            assert sum(seg.end - seg.start for _, seg in part) <= min_part
    flat = [(seg.key, b) for part in parts for _, seg in part for b in range(seg.start, seg.end)]
    assert flat == [(f"k{i}", b) for i, n in enumerate(sizes) for b in range(n)]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="bkt")
        yield client


def test_parts_concatenate_into_one_object_by_copy_and_small_reads(s3) -> None:  # type: ignore[no-untyped-def]
    mib = 1024 * 1024
    bodies = [bytes([i]) * n for i, n in enumerate([6 * mib, 100, 5 * mib + 3, 7])]
    for i, body in enumerate(bodies):
        s3.put_object(Bucket="bkt", Key=f"p{i}", Body=body)
    size = concatenate(s3, "bkt", [Segment(f"p{i}", 0, len(b)) for i, b in enumerate(bodies)], "out.rec")
    assert size == sum(map(len, bodies))
    assert s3.get_object(Bucket="bkt", Key="out.rec")["Body"].read() == b"".join(bodies)


def test_a_single_part_is_copied_whole(s3) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket="bkt", Key="p", Body=b"abc")
    assert concatenate(s3, "bkt", [Segment("p", 0, 3)], "out.rec") == 3
    assert s3.get_object(Bucket="bkt", Key="out.rec")["Body"].read() == b"abc"
