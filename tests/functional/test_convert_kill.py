"""A conversion SIGKILLed at any moment leaves no dataset.json; rerunning gives the uninterrupted bytes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.convert_corpus import class_tree

pytestmark = pytest.mark.slow


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def published_since(dst: Path, started: float) -> bool:
    return any(p.stat().st_mtime >= started for p in dst.glob("train/*.rec"))


def command(src: Path, dst: Path) -> list[str]:
    # Upscaling to 96 px makes every image cost a little, so kills land mid-run; small shards mean
    # some shards are already published when the kill comes.
    return [sys.executable, "-m", "satrec", "convert", str(src), str(dst), "--resize", "96", "--num-workers", "2",
            "--shard-size", "0.2", "--test-ratio", "0.1", "--no-progress"]


def test_sigkill_at_random_moments_leaves_no_dataset_json_and_rerun_is_byte_identical(tmp_path):
    src = tmp_path / "src"
    class_tree(src, {"a": 120, "b": 100, "c": 80}, size=32)
    reference = tmp_path / "reference"
    started = time.perf_counter()
    subprocess.run(command(src, reference), check=True, capture_output=True, timeout=300)
    full = time.perf_counter() - started
    expected = tree_bytes(reference)
    assert "meta/dataset.json" in expected

    dst = tmp_path / "dst"
    rng = random.Random(7)
    mid_run = 0
    for attempt in range(6):
        started = time.time()
        proc = subprocess.Popen(command(src, dst), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        if attempt % 2 == 0:
            time.sleep(rng.uniform(0.05, full * 0.9))       # any moment, startup included
        else:
            # Right after this run published a shard: the dataset is half rewritten.
            deadline = started + 3 * full + 5
            while time.time() < deadline and proc.poll() is None and not published_since(dst, started):
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.05))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.returncode == 0:       # finished before the kill: nothing to prove this round
            continue
        assert not (dst / "meta" / "dataset.json").exists(), f"attempt {attempt}: dataset.json after SIGKILL"
        mid_run += published_since(dst, started)
    assert mid_run, "no kill landed after a shard was published; the test proved nothing"
    subprocess.run(command(src, dst), check=True, capture_output=True, timeout=300)
    assert tree_bytes(dst) == expected
