"""Batch documents: stable ids, slicing into array children, version checks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from satrec.cloud.batches import MAX_ARRAY_SIZE, BatchDoc, make_batch
from satrec.cloud.uploads import Upload
from satrec.errors import SatrecError, UsageError


def uploads(n: int) -> list[Upload]:
    return [Upload("landing", f"incoming/d/c/{i}.jpg", version_id=f"v{i}") for i in range(n)]


@given(st.integers(1, 60), st.integers(1, 9))
def test_children_slices_cover_every_item_exactly_once(n: int, per_child: int) -> None:
    batch = make_batch(uploads(n), per_child=per_child)
    covered = [u for i in range(batch.children) for u in batch.slice(i)]
    assert covered == batch.items
    assert all(batch.slice(i) for i in range(batch.children))


def test_batch_id_depends_only_on_the_items() -> None:
    assert make_batch(uploads(3), per_child=2).batch_id == make_batch(uploads(3), per_child=2).batch_id
    assert make_batch(uploads(3), per_child=2).batch_id != make_batch(uploads(4), per_child=2).batch_id


def test_per_child_grows_so_the_array_never_exceeds_the_batch_limit() -> None:
    batch = make_batch(uploads(MAX_ARRAY_SIZE + 1), per_child=1)
    assert batch.children <= MAX_ARRAY_SIZE


def test_index_outside_the_array_is_a_usage_error() -> None:
    batch = make_batch(uploads(3), per_child=2)
    with pytest.raises(UsageError, match="outside"):
        batch.slice(2)


def test_round_trip_and_refusal_of_other_documents() -> None:
    batch = make_batch(uploads(2), per_child=1)
    assert BatchDoc.from_json(batch.to_json()) == batch
    with pytest.raises(SatrecError, match="not a satrec batch"):
        BatchDoc.from_json(json.dumps({"format": "x"}))
    with pytest.raises(SatrecError, match="newer"):
        BatchDoc.from_json(json.dumps({**batch.to_dict(), "version": 99}))
