"""``SplitWriter.add_run``: writing a split in runs of any length gives the bytes of writing it record by
record, with shards cut at planned positions (``--shards``) or before the record that would overflow
(``--shard-size``), and rejected inputs taking neither a record nor a place in a size budget."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from satrec.convert import SplitWriter
from satrec.documents import SplitInfo
from satrec.plan import ShardPolicy, SplitPlan, even_cuts
from satrec.sources import InputItem
from satrec.storage import LocalStorage

CLASSES = ["a", "b"]


def inputs(n: int, seed: int) -> tuple[list[InputItem], list[bytes]]:
    """Items and their records; about one in eight is rejected (an empty record)."""
    rng = random.Random(seed)
    items, records = [], []
    for i in range(n):
        cls = CLASSES[rng.randrange(2)]
        items.append(InputItem(f"{cls}/{i}.jpg", (float(CLASSES.index(cls)),), f"/in/{cls}/{i}.jpg", i, cls=cls))
        records.append(b"" if rng.random() < 0.125 else bytes([i % 251]) * rng.randrange(8, 200))
    return items, records


def write(root: Path, policy: ShardPolicy, items: list[InputItem], records: list[bytes],
          runs: list[int]) -> tuple[dict[str, bytes], SplitInfo]:
    storage = LocalStorage(root)
    storage.prepare()
    plan = SplitPlan("train", items, even_cuts(len(items), min(policy.count, len(items))) if policy.count else [])
    writer = SplitWriter(storage, "ds", plan, policy, with_chips=False, classes=CLASSES,
                         labels_of=lambda item: item.labels)
    position = 0
    for size in runs:
        chunk = records[position:position + size]
        writer.add_run(position, items[position:position + size], [len(r) for r in chunk],
                       memoryview(b"".join(chunk)))
        position += size
    assert position == len(items)
    info = writer.finish()
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    return files, info


def random_runs(n: int, seed: int, longest: int) -> list[int]:
    rng = random.Random(seed)
    runs = []
    while sum(runs) < n:
        runs.append(min(n - sum(runs), rng.randrange(1, longest + 1)))
    return runs


@pytest.mark.parametrize("policy", [ShardPolicy(), ShardPolicy(count=4), ShardPolicy(max_bytes=900)],
                         ids=["one-shard", "shards-4", "shard-size"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_runs_of_any_length_write_the_bytes_of_record_by_record_writing(tmp_path, policy, seed):
    items, records = inputs(150, seed)
    one_by_one = write(tmp_path / "ones", policy, items, records, [1] * len(items))
    for name, runs in (("random", random_runs(len(items), seed, 40)), ("whole", [len(items)])):
        assert write(tmp_path / name, policy, items, records, runs) == one_by_one


def test_size_cuts_fall_before_the_record_that_would_overflow(tmp_path):
    items, records = inputs(150, 7)
    files, info = write(tmp_path / "out", ShardPolicy(max_bytes=900), items, records, random_runs(150, 7, 60))
    packed = [r for r in records if r]
    assert info.records == len(packed) and len(info.shards) > 3
    start = 0
    for shard in info.shards:
        rec = files[shard.rec]
        assert len(rec) <= 900
        start += shard.records
        if start < len(packed):   # the next shard's first record did not fit in this one
            assert len(rec) + len(packed[start]) > 900


def test_count_cuts_follow_planned_positions_even_where_inputs_were_rejected(tmp_path):
    items, records = inputs(40, 5)
    records[10:20] = [b""] * 10          # the second planned shard is all rejects: it exists, empty
    files, info = write(tmp_path / "out", ShardPolicy(count=4), items, records, [7, 23, 10])
    assert [s.records for s in info.shards] == [sum(1 for r in records[i:i + 10] if r) for i in (0, 10, 20, 30)]
    keys = [[int(line.split(b"\t")[0]) for line in files[s.idx].splitlines()] for s in info.shards]
    assert keys == [[i for i in range(start, start + 10) if records[i]] for start in (0, 10, 20, 30)]
