"""The plan: stable class ids, a hash-stable split, shards of the target size mixing all classes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from satrec.pipeline.plan import (
    MIB,
    Plan,
    PlanError,
    PlannedImage,
    images_from_listing,
    make_plan,
    stable_classes,
)


def _images(per_class: dict[str, int], size: int = 1000) -> list[PlannedImage]:
    return [PlannedImage(key=f"normalised/ds/{c}/img{i:04d}-abc.jpg", cls=c, size=size)
            for c, n in per_class.items() for i in range(n)]


def _plan(images: list[PlannedImage], **kw: object) -> tuple[Plan, dict]:
    args: dict = dict(dataset="ds", run_id="r1", bucket="b", validation_fraction=0.2, shard_size_mb=1, seed=0)
    args.update(kw)
    return make_plan(images, **args)


def test_known_classes_keep_their_ids_and_new_ones_are_appended_sorted() -> None:
    assert stable_classes(["b", "a", "c"], []) == ["a", "b", "c"]
    assert stable_classes(["a", "zz", "b0"], ["c", "a"]) == ["c", "a", "b0", "zz"]


def test_the_listing_keeps_class_folders_and_skips_placeholders() -> None:
    listing = [{"Key": "normalised/ds/a/x.jpg", "Size": 5}, {"Key": "normalised/ds/a/", "Size": 0},
               {"Key": "normalised/ds/loose.jpg", "Size": 3}, {"Key": "normalised/ds/b/sub/y.png", "Size": 7}]
    assert images_from_listing("ds", listing) == [PlannedImage("normalised/ds/a/x.jpg", "a", 5),
                                                  PlannedImage("normalised/ds/b/sub/y.png", "b", 7)]


def test_every_image_is_planned_exactly_once_with_its_class_label() -> None:
    images = _images({"a": 30, "b": 20, "c": 10})
    plan, rows = _plan(images)
    planned = [r for shard in plan.shards for r in rows[shard.index]]
    assert sorted(r.key for r in planned) == sorted(im.key for im in images)
    by_key = {im.key: im.cls for im in images}
    assert all(plan.classes[r.label] == by_key[r.key] for r in planned)
    assert plan.records("train") + plan.records("validation") == 60
    assert plan.per_split["validation"] == {"a": 6, "b": 4, "c": 2}   # stratified: exact shares per class


def test_shards_respect_the_target_size_and_mix_classes() -> None:
    images = _images({"a": 300, "b": 300}, size=10_000)   # ~6 MB in all, 1 MiB shards
    plan, rows = _plan(images)
    train = plan.shards_of("train")
    assert len(train) >= 4
    for shard in train:
        assert shard.estimated_bytes <= MIB or shard.records == 1
        labels = {r.label for r in rows[shard.index]}
        assert labels == {0, 1}
        assert [r.id for r in rows[shard.index]] == list(range(shard.first_id, shard.first_id + shard.records))
    assert [s.index for s in plan.shards] == list(range(len(plan.shards)))


def test_the_split_is_stable_when_the_dataset_grows() -> None:
    small, small_rows = _plan(_images({"a": 50, "b": 50}))
    big, big_rows = _plan(_images({"a": 80, "b": 80}))

    def split_of(plan: Plan, rows: dict) -> dict[str, str]:
        return {r.key: s.split for s in plan.shards for r in rows[s.index]}

    before, after = split_of(small, small_rows), split_of(big, big_rows)
    moved = [k for k in before if before[k] != after[k]]
    assert len(moved) <= 4   # only keys at a stratum's cut can move


def test_one_class_or_an_empty_split_is_refused() -> None:
    with pytest.raises(PlanError, match="single class"):
        _plan(_images({"a": 10}))
    with pytest.raises(PlanError, match="no normalised images"):
        _plan([])
    with pytest.raises(PlanError, match="validation split"):
        _plan(_images({"a": 1, "b": 1}))


def test_the_plan_document_round_trips_and_its_summary_is_small() -> None:
    plan, _ = _plan(_images({"a": 5, "b": 5}))
    assert Plan.from_dict(plan.to_dict()) == plan
    assert plan.summary()["array_size"] == len(plan.shards) >= 2


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(5, 40), min_size=2),
       st.integers(0, 5))
def test_plans_are_deterministic(per_class: dict[str, int], seed: int) -> None:
    images = _images(per_class)
    first, first_rows = _plan(images, seed=seed)
    second, second_rows = _plan(list(reversed(images)), seed=seed)
    assert first == second and first_rows == second_rows
