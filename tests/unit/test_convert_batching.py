"""How ``satrec convert`` groups images into worker messages: few messages, bounded bytes, even finish."""

from __future__ import annotations

import threading

from satrec.convert import BATCH_BYTES, FIRST_BATCH, _batched, _RecordSizes


def tasks(n: int, data: bytes | None = None) -> list[tuple[str, None, bytes | None, bytes]]:
    return [(f"/in/{i}.jpg", None, data, b"h") for i in range(n)]


def drain(batches, sizes: _RecordSizes, record_bytes: int) -> list[int]:
    """Consume every batch as the main process would, reporting records of ``record_bytes`` back."""
    out = []
    for batch in batches:
        out.append(len(batch))
        sizes.bytes += record_bytes * len(batch)
        sizes.records += len(batch)
    return out


def test_batches_cover_every_task_in_order_and_shrink_towards_the_end():
    items = tasks(1000)
    gate = threading.Semaphore(1 << 20)
    sizes = _RecordSizes()
    seen = []
    lengths = []
    for batch in _batched(iter(items), 64, gate, sizes, total=len(items), workers=2):
        seen.extend(batch)
        lengths.append(len(batch))
        sizes.bytes += 13_000 * len(batch)
        sizes.records += len(batch)
    assert seen == items
    assert lengths[0] == FIRST_BATCH          # nothing known yet about record sizes
    assert max(lengths) == 64                 # the cap, while much is left
    assert lengths[-3:] == sorted(lengths[-3:], reverse=True) and lengths[-1] <= 2   # an even finish


def test_batch_size_follows_the_record_bytes_seen_so_far():
    sizes = _RecordSizes()
    sizes.bytes, sizes.records = 10 * (2 << 20), 10     # 2 MiB records: big pass-through files
    assert sizes.per_batch(256) == BATCH_BYTES // (2 << 20)
    sizes.bytes, sizes.records = 10 * 2000, 10          # 2 KB chips
    assert sizes.per_batch(256) == 256


def test_pre_read_inputs_end_a_batch_at_the_byte_limit():
    big = b"x" * (BATCH_BYTES // 3 + 1)
    sizes = _RecordSizes()
    sizes.bytes, sizes.records = 100, 100
    gate = threading.Semaphore(1 << 20)
    lengths = drain(_batched(iter(tasks(9, big)), 64, gate, sizes, total=10_000, workers=1), sizes, 1)
    assert lengths == [3, 3, 3]


def test_at_most_the_gate_count_of_batches_is_handed_out_before_results_come_back():
    gate = threading.Semaphore(2)
    batches = _batched(iter(tasks(100)), 4, gate, _RecordSizes(), total=100, workers=1)
    next(batches)
    next(batches)
    blocked = threading.Event()

    def third() -> None:
        next(batches)
        blocked.set()

    thread = threading.Thread(target=third, daemon=True)
    thread.start()
    assert not blocked.wait(0.2)
    gate.release()                      # a batch's results were consumed
    assert blocked.wait(2)
