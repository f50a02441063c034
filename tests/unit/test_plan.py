"""Record order and shard cuts: deterministic, mixed across classes, input order with --no-shuffle."""

from __future__ import annotations

import pytest

from satrec.errors import UsageError
from satrec.plan import ShardPolicy, even_cuts, make_plan, record_order
from satrec.sources import InputItem
from satrec.split import Ratios


def items(n: int, classes: int = 3) -> list[InputItem]:
    return [InputItem(relpath=f"c{i % classes}/{i:04d}.jpg", labels=(float(i % classes),), location=f"/x/{i}",
                      index=i, cls=f"c{i % classes}") for i in range(n)]


def test_shuffled_order_is_deterministic_and_mixes_classes():
    data = sorted(items(60), key=lambda it: it.cls or "")      # grouped by class, like a folder walk
    first = record_order(data, 5, shuffle=True)
    assert [it.index for it in first] == [it.index for it in record_order(list(reversed(data)), 5, shuffle=True)]
    labels = [it.cls for it in first[:15]]
    assert len(set(labels)) == 3
    assert record_order(data, 6, shuffle=True) != first


def test_no_shuffle_keeps_input_order():
    data = items(10)
    assert [it.index for it in record_order(list(reversed(data)), 0, shuffle=False)] == list(range(10))


@pytest.mark.parametrize(("n", "shards", "cuts"), [(10, 3, [4, 7]), (9, 3, [3, 6]), (5, 1, []), (2, 2, [1])])
def test_even_cuts_make_shards_that_differ_by_at_most_one(n, shards, cuts):
    assert even_cuts(n, shards) == cuts


def test_plan_has_one_entry_per_used_split_and_never_more_shards_than_records():
    plans = make_plan(items(7), seed=0, ratios=Ratios.resolve(0.5, None, 0.2), policy=ShardPolicy(count=20))
    assert [p.split for p in plans] == ["train", "validation", "test"]
    assert sum(len(p.items) for p in plans) == 7
    for plan in plans:
        assert (plan.shard_count or 1) <= max(1, len(plan.items))
        assert [plan.shard_of(i) for i in range(len(plan.items))] == list(range(len(plan.items)))


def test_shard_policy_accepts_one_of_count_or_size():
    assert ShardPolicy.from_options(None, 1.5).max_bytes == 1_500_000
    with pytest.raises(UsageError):
        ShardPolicy.from_options(2, 1.0)
    with pytest.raises(UsageError):
        ShardPolicy.from_options(0, None)
    with pytest.raises(UsageError):
        ShardPolicy.from_options(None, 0)
