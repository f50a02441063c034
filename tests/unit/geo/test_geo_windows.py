"""The chip grid: counts, edge policy, overlap, and blocks that no chip crosses."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from satrec.geo.windows import Window, axis_offsets, chip_grid, count_grid


def test_cover_adds_one_window_flush_with_the_edge():
    assert axis_offsets(100, 32, 32, "cover") == [0, 32, 64, 68]
    assert axis_offsets(100, 32, 32, "drop") == [0, 32, 64]
    assert axis_offsets(96, 32, 32, "cover") == [0, 32, 64]
    assert axis_offsets(31, 32, 32, "cover") == []


def test_sentinel2_tile_into_256_px_chips():
    assert count_grid(10980, 10980, 256) == 43 * 43
    assert count_grid(10980, 10980, 256, edge="drop") == 42 * 42


def test_stride_below_chip_overlaps():
    windows = [g.window for g in chip_grid(64, 32, 32, 16, edge="drop")]
    assert [w.col for w in windows] == [0, 16, 32]
    assert all(w.row == 0 for w in windows)


def test_no_chip_means_the_whole_scene():
    assert list(chip_grid(70, 50, None)) == [(Window(0, 0, 70, 50), None)]


@settings(max_examples=60, deadline=None)
@given(width=st.integers(1, 300), height=st.integers(1, 300), size=st.integers(8, 64),
       stride_frac=st.sampled_from([0.5, 1.0]), block_mult=st.integers(1, 4))
def test_blocks_hold_whole_chips_and_cover_every_pixel(width, height, size, stride_frac, block_mult):
    stride = max(1, int(size * stride_frac))
    block = size * block_mult
    covered = np.zeros((height, width), dtype=bool)
    for window, (bx, by) in chip_grid(width, height, size, stride, block=block):
        # inside the scene and inside exactly one block
        assert window.col + window.width <= width and window.row + window.height <= height
        assert window.col // block == bx == (window.col + window.width - 1) // block
        assert window.row // block == by == (window.row + window.height - 1) // block
        covered[window.row:window.row + size, window.col:window.col + size] = True
    # every pixel of every block that can hold a chip is covered
    for top in range(0, height, block):
        for left in range(0, width, block):
            bh, bw = min(block, height - top), min(block, width - left)
            if bh >= size and bw >= size:
                assert covered[top:top + bh, left:left + bw].all()
