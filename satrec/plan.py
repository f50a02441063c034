"""The conversion plan: which split each input goes to, the record order, and where shards are cut.

Deterministic from the inputs and options alone: record order inside a split is a seeded hash
shuffle of the relative paths (so records of all classes are mixed inside every shard), or the input
order with ``--no-shuffle``. ``--shards N`` cuts a split into N runs of planned inputs (sizes differ
by at most one); ``--shard-size MB`` cuts while writing, before the record that would overflow.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from satrec.documents import SPLITS
from satrec.errors import UsageError
from satrec.sources import InputItem
from satrec.split import Ratios, split_all, unit_hash

MB = 1_000_000


@dataclass(frozen=True)
class ShardPolicy:
    """At most one of ``count`` (shards per split) and ``max_bytes`` (per .rec); neither: one shard."""

    count: int | None = None
    max_bytes: int | None = None

    @classmethod
    def from_options(cls, shards: int | None, shard_size_mb: float | None) -> ShardPolicy:
        if shards is not None and shard_size_mb is not None:
            raise UsageError("give --shards or --shard-size, not both")
        if shards is not None and shards < 1:
            raise UsageError(f"--shards {shards}: need at least 1")
        if shard_size_mb is not None and not shard_size_mb > 0:
            raise UsageError(f"--shard-size {shard_size_mb}: need a positive number of MB")
        return cls(count=shards, max_bytes=int(shard_size_mb * MB) if shard_size_mb is not None else None)

    def to_dict(self) -> dict[str, int | None]:
        return {"shards": self.count, "shard_bytes": self.max_bytes}


@dataclass(frozen=True)
class SplitPlan:
    split: str
    items: list[InputItem]           # in record order
    cuts: list[int]                  # start index of each shard after the first (count policy only)

    @property
    def shard_count(self) -> int | None:
        """Shards of a count policy (some may be empty when there are fewer records); None otherwise."""
        return len(self.cuts) + 1 if self.cuts else None

    def shard_of(self, position: int) -> int:
        return bisect.bisect_right(self.cuts, position)


def record_order(items: Sequence[InputItem], seed: int, *, shuffle: bool) -> list[InputItem]:
    if not shuffle:
        return sorted(items, key=lambda it: it.index)
    return sorted(items, key=lambda it: (unit_hash(seed, "order", it.relpath), it.index))


def even_cuts(n: int, shards: int) -> list[int]:
    """Start positions of shards 1..N-1 when n records go into N shards of near-equal size."""
    base, extra = divmod(n, shards)
    cuts = []
    pos = 0
    for i in range(shards - 1):
        pos += base + (1 if i < extra else 0)
        cuts.append(pos)
    return cuts


def make_plan(items: Sequence[InputItem], *, seed: int, ratios: Ratios, shuffle: bool = True,
              stratify: bool = False, policy: ShardPolicy = ShardPolicy()) -> list[SplitPlan]:
    """One ``SplitPlan`` per split with a non-zero ratio, in SPLITS order (empty ones included)."""
    strata = [it.cls for it in items] if stratify else None
    names = split_all([it.split_on for it in items], seed, ratios, strata=strata)
    buckets: dict[str, list[InputItem]] = {s: [] for s in SPLITS}
    for item, name in zip(items, names, strict=True):
        buckets[name].append(item)
    plans = []
    for split in SPLITS:
        if split not in ratios.used():
            continue
        ordered = record_order(buckets[split], seed, shuffle=shuffle)
        cuts = even_cuts(len(ordered), min(policy.count, len(ordered))) if policy.count and ordered else []
        plans.append(SplitPlan(split, ordered, cuts))
    return plans
