"""The main process packs pass-through batches itself while the pool's results are not ready."""

from __future__ import annotations

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


def _run(monkeypatch, delay: int, limit: int, n_batches: int = 20):
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
    for result in convert._helped(pool, batches(), ahead=2, limit=limit):
        out.append(int(result[0]))
        consumed += 1
    return out, pool, held_max


def test_results_come_back_in_batch_order_from_both_processes(monkeypatch):
    out, pool, _ = _run(monkeypatch, delay=3, limit=6)
    assert out == list(range(20))
    local = set(range(20)) - {b[0] for b in pool.batches}
    assert local and pool.batches   # both the pool and the main process packed batches


def test_the_main_process_only_waits_when_the_pool_is_quick(monkeypatch):
    out, pool, _ = _run(monkeypatch, delay=0, limit=6)
    assert out == list(range(20)) and len(pool.batches) == 20


def test_batches_held_at_once_stay_within_the_limit(monkeypatch):
    for limit in (3, 5, 8):
        out, _, held_max = _run(monkeypatch, delay=10, limit=limit)
        assert out == list(range(20))
        assert held_max <= limit
