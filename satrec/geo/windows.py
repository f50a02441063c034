"""The chip grid: which pixel windows of a scene become chips, and which split block each is in.

Pure. Windows step by ``stride`` from the top-left corner. With the ``cover`` edge policy a last
window is added flush with the right / bottom edge when the grid would leave a strip uncovered,
so every pixel lies in at least one chip (inference needs that; the extra overlap stays inside
one split unit). ``drop`` keeps only the regular grid.

With a split block size the scene is first cut into blocks of that many pixels and each block is
gridded on its own, so no chip ever crosses a block boundary: neighbouring chips that share
pixels are always in the same block, hence in the same split.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple


class Window(NamedTuple):
    col: int
    row: int
    width: int
    height: int

    def to_dict(self) -> dict[str, int]:
        return {"col": self.col, "row": self.row, "width": self.width, "height": self.height}


class GridChip(NamedTuple):
    window: Window
    block: tuple[int, int] | None   # (block column, block row), or None when the scene is the unit


def axis_offsets(length: int, size: int, stride: int, edge: str = "cover") -> list[int]:
    """Start offsets along one axis of ``length`` pixels; empty when a chip does not fit."""
    if size > length:
        return []
    offsets = list(range(0, length - size + 1, stride))
    if edge == "cover" and offsets[-1] + size < length:
        offsets.append(length - size)
    return offsets


def chip_grid(width: int, height: int, size: int | None, stride: int | None = None, *,
              edge: str = "cover", block: int | None = None) -> Iterator[GridChip]:
    """Row-major windows (blocks row-major, then windows row-major inside each block)."""
    if size is None:
        yield GridChip(Window(0, 0, width, height), None)
        return
    step = stride or size
    if block is None:
        for row in axis_offsets(height, size, step, edge):
            for col in axis_offsets(width, size, step, edge):
                yield GridChip(Window(col, row, size, size), None)
        return
    for block_row, top in enumerate(range(0, height, block)):
        block_height = min(block, height - top)
        for block_col, left in enumerate(range(0, width, block)):
            block_width = min(block, width - left)
            for row in axis_offsets(block_height, size, step, edge):
                for col in axis_offsets(block_width, size, step, edge):
                    yield GridChip(Window(left + col, top + row, size, size), (block_col, block_row))


def count_grid(width: int, height: int, size: int | None, stride: int | None = None, *,
               edge: str = "cover", block: int | None = None) -> int:
    return sum(1 for _ in chip_grid(width, height, size, stride, edge=edge, block=block))
