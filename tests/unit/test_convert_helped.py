"""The main process packs pass-through batches itself while the pool's results are not ready."""

from __future__ import annotations

import pytest

from satrec import convert


class _SlowResult:
    """An AsyncResult that becomes ready only after the main process has asked ``delay`` times."""

    def __init__(self, value, delay: int) -> None:
        self.value, self.delay = value, delay

    def ready(self) -> bool:
        self.delay -= 1
        return self.delay < 0

    def get(self):
        return self.value


class _SlowPool:
    def __init__(self, delay: int) -> None:
        self.delay = delay
        self.batches: list[list] = []

    def apply_async(self, fn, args):
        self.batches.append(args[0])
        return _SlowResult(fn(*args), self.delay)


def _fake_batch(batch):
    # A BatchResult whose blob names the batch, so order can be checked.
    return (",".join(map(str, batch)).encode(), [1] * len(batch), [0] * len(batch), [0] * len(batch), [])


def _run(monkeypatch, delay: int, spare: int, n_batches: int = 20):
    monkeypatch.setattr(convert, "process_batch", _fake_batch)
    pool = _SlowPool(delay)
    drawn = 0
    consumed = 0
    held_max = 0

    def batches():
        nonlocal drawn, held_max
        for i in range(n_batches):
            drawn += 1
            held_max = max(held_max, drawn - consumed)
            yield [i]

    out = []
    for result in convert._helped(pool, batches(), convert._RecordSizes(), ahead=2, spare=spare):
        out.append(int(result[0]))
        consumed += 1
    return out, pool, held_max


def test_results_come_back_in_batch_order_from_both_processes(monkeypatch):
    out, pool, _ = _run(monkeypatch, delay=3, spare=3)
    assert out == list(range(20))
    local = set(range(20)) - {b[0] for b in pool.batches}
    assert local and pool.batches   # both the pool and the main process packed batches


def test_the_main_process_packs_only_the_first_batch_when_the_pool_is_quick(monkeypatch):
    out, pool, _ = _run(monkeypatch, delay=0, spare=3)
    assert out == list(range(20)) and [b[0] for b in pool.batches] == list(range(1, 20))


def test_batches_held_at_once_stay_within_the_pools_share_and_the_spare_ones(monkeypatch):
    for spare in (1, 3, 6):
        out, _, held_max = _run(monkeypatch, delay=10, spare=spare)
        assert out == list(range(20))
        assert held_max <= 2 + spare


def test_batch_sizes_learn_from_records_packed_here_before_their_turn(monkeypatch):
    sizes = convert._RecordSizes()
    monkeypatch.setattr(convert, "process_batch", _fake_batch)
    pool = _SlowPool(delay=100)
    results = convert._helped(pool, iter([[1], [2], [3], [4]]), sizes, ahead=2, spare=3)
    next(results)   # the first batch, packed here
    assert sizes.records == 1


def test_the_main_process_takes_simplejpeg_only_for_enough_proofs(monkeypatch):
    pytest.importorskip("simplejpeg")
    from satrec import imaging
    from satrec.imaging import ImageSettings

    settings = ImageSettings(pass_through=True)
    monkeypatch.setattr(imaging, "_simplejpeg", None)
    convert._import_decoders(settings, images=convert.PROOFS_TO_REPAY_NUMPY)
    assert imaging._simplejpeg is None          # Pillow's decoder core: no numpy on the critical path
    convert._import_decoders(settings, images=convert.PROOFS_TO_REPAY_NUMPY + 1)
    assert imaging._simplejpeg is not None
    monkeypatch.setattr(imaging, "_simplejpeg", None)
    convert._import_decoders(settings)           # a pool worker: always, its import overlaps the scan
    assert imaging._simplejpeg is not None
