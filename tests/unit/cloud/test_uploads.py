"""Which uploads the trigger keeps, and how duplicates and stale events are recognised."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from satrec.cloud.uploads import Upload, drop_reason, select, sequencer_is_older, upload_event_pattern


@pytest.mark.parametrize(("key", "reason"), [
    ("incoming/eurosat/Forest/a.jpg", None),
    ("incoming/eurosat/Forest/sub dir/ÄÖ ü.JPEG", None),
    ("incoming/eurosat/Forest/scene.tif", None),
    ("incoming/eurosat/Forest/", "placeholder"),
    ("incoming/eurosat/", "placeholder"),
    ("incoming/eurosat/a.jpg", "outside-layout"),
    ("other/eurosat/Forest/a.jpg", "outside-layout"),
    ("incoming/eurosat/satrec.json", "outside-layout"),
    ("incoming/eurosat/_READY", "outside-layout"),
    ("incoming/eurosat/Forest/notes.txt", "not-an-image"),
    ("incoming/eurosat/Forest/.hidden.jpg", "hidden"),
    ("incoming/eurosat/__MACOSX/Forest/a.jpg", "hidden"),
    ("incoming/eurosat/Forest/__MACOSX/a.jpg", "hidden"),
])
def test_drop_reason_names_why_a_key_is_not_converted(key: str, reason: str | None) -> None:
    assert drop_reason(key) == reason


def test_select_keeps_first_of_each_object_version_and_counts_drops() -> None:
    a1 = Upload("landing", "incoming/d/c/a.jpg", version_id="v1", etag="e1")
    a1_again = Upload("landing", "incoming/d/c/a.jpg", version_id="v1", etag="e1", sequencer="02")
    a2 = Upload("landing", "incoming/d/c/a.jpg", version_id="v2", etag="e2")
    folder = Upload("landing", "incoming/d/c/")
    text = Upload("landing", "incoming/d/c/readme.md", version_id="v1")
    kept, dropped = select([a1, folder, a1_again, a2, text])
    assert kept == [a1, a2]
    assert dropped == {"duplicate": 1, "placeholder": 1, "not-an-image": 1}


def test_unversioned_uploads_are_told_apart_by_etag() -> None:
    kept, _ = select([Upload("b", "incoming/d/c/a.png", etag="x"), Upload("b", "incoming/d/c/a.png", etag="y"),
                      Upload("b", "incoming/d/c/a.png", etag="x")])
    assert [u.etag for u in kept] == ["x", "y"]


def test_sequencers_compare_as_padded_hex_and_missing_ones_never_count_as_older() -> None:
    assert sequencer_is_older("0A", "0B")
    assert sequencer_is_older("FF", "0100")      # shorter sequencers are left-padded before comparing
    assert not sequencer_is_older("0100", "FF")
    assert not sequencer_is_older("0B", "0B")
    assert not sequencer_is_older(None, "0B")
    assert not sequencer_is_older("0A", None)


@given(st.integers(0, 2**64), st.integers(0, 2**64))
def test_sequencer_order_matches_integer_order(a: int, b: int) -> None:
    assert sequencer_is_older(f"{a:X}", f"{b:X}") == (a < b)


def test_upload_round_trips_through_its_dict() -> None:
    upload = Upload("b", "incoming/d/c/ä b.jpg", version_id="v", etag="e", size=3, sequencer="01")
    assert Upload.from_dict(upload.to_dict()) == upload


def test_event_pattern_filters_the_landing_bucket_and_incoming_prefix() -> None:
    pattern = upload_event_pattern("my-landing")
    assert pattern["detail"]["bucket"]["name"] == ["my-landing"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "incoming/"}]
    assert pattern["detail-type"] == ["Object Created"]
