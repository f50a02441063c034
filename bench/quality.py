"""Output quality: PSNR of each stored image against a Lanczos downscale of its original.

The reference is what a careful person would make: Pillow's Lanczos filter from the full-resolution
original straight to the stored image's size (so rounding of the shorter-side rule cannot penalise a
tool). Records are found through the ``.idx`` (key -> offset) and the ``.lst`` (key -> path), the
files both im2rec and satrec write, and read with ``satrec.recordio`` (framing proven against MXNet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from satrec.recordio import parse_index, read_record_at, unpack_image_record


@dataclass(frozen=True)
class Packed:
    """One packed output: the .rec, its .idx and .lst, and the folder the .lst paths are relative to."""

    rec: Path
    idx: Path
    lst: Path
    root: Path


@dataclass(frozen=True)
class Quality:
    images: int
    mean_psnr: float
    min_psnr: float
    stored_size: str  # e.g. "224x224", the most common stored size


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio of two uint8 arrays of the same shape, in dB (inf when equal)."""
    import numpy as np

    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def read_lst(path: Path) -> dict[str, str]:
    """key -> image path, from an im2rec-style list (``key<TAB>label...<TAB>path``)."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            out[parts[0].strip()] = parts[-1]
    return out


def _even_sample(items: list, count: int) -> list:
    if len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def evaluate(outputs: list[Packed], *, sample: int = 50) -> Quality:
    """PSNR over an even sample of at most ``sample`` records across ``outputs``."""
    import io

    import numpy as np
    from PIL import Image

    entries: list[tuple[Packed, str, int, str]] = []
    for out in outputs:
        paths = read_lst(out.lst)
        for key, offset in parse_index(out.idx.read_text(), source=str(out.idx)):
            entries.append((out, key, offset, paths[key]))
    values: list[float] = []
    sizes: dict[str, int] = {}
    for out, _key, offset, rel in _even_sample(entries, sample):
        with open(out.rec, "rb") as stream:
            payload = read_record_at(stream, offset, source=str(out.rec)).payload
        _header, image = unpack_image_record(payload)
        stored = Image.open(io.BytesIO(image)).convert("RGB")
        with Image.open(out.root / rel) as original:
            reference = original.convert("RGB").resize(stored.size, Image.Resampling.LANCZOS)
        values.append(psnr(np.asarray(stored), np.asarray(reference)))
        size = f"{stored.size[0]}x{stored.size[1]}"
        sizes[size] = sizes.get(size, 0) + 1
    if not values:
        return Quality(0, math.nan, math.nan, "-")
    return Quality(len(values), sum(values) / len(values), min(values), max(sizes, key=sizes.__getitem__))
