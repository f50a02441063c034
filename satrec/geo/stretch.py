"""Radiometric scaling: band values to 0..255, and the empty-pixel (nodata / zero) mask.

Percentiles are estimated from a grid of windows spread over each scene, pooled over
all scenes of a dataset so every chip shares one mapping: the same reflectance gives the same
pixel value in training and at inference. Integer data is pooled as exact histograms (constant
memory whatever the number of scenes); float data as bounded samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rasterio.io import DatasetReader

    from satrec.geo.scene import SceneInfo

_HIST_DTYPES = {"uint8": 0, "uint16": 0, "int16": 32768}   # dtype -> offset that makes values >= 0
_FLOAT_POOL_MAX = 4_000_000                                # values per band kept for float data
SAMPLE_GRID = 16                                           # sample windows per axis


def empty_mask(data: np.ndarray, info: SceneInfo, bands: tuple[int, ...], alpha: np.ndarray | None) -> np.ndarray:
    """True where a pixel holds no data: nodata (or NaN) in every selected band, zero in every
    selected band (unmarked fill, as in many Sentinel-2 products), or transparent in the alpha band."""
    zero = np.all(data == 0, axis=0)
    nodata_values = [info.nodata[b - 1] for b in bands]
    if all(v is not None for v in nodata_values):
        is_nodata = np.ones(data.shape[1:], dtype=bool)
        for plane, value in zip(data, nodata_values, strict=True):
            is_nodata &= np.isnan(plane) if value is not None and np.isnan(value) else plane == value
        zero |= is_nodata
    if data.dtype.kind == "f":
        zero |= np.any(np.isnan(data), axis=0)
    if alpha is not None:
        zero |= alpha == 0
    return zero


def sample_windows(width: int, height: int, side: int, grid: int = SAMPLE_GRID) -> list[tuple[int, int, int, int]]:
    """(col, row, width, height) windows spread evenly over the scene, about ``side``² pixels in all.

    The whole scene when it is no larger than ``side``. Plain windowed reads, because GDAL's
    decimated read (``out_shape``) of a DEFLATE-tiled file without overviews measured ~1000x
    slower than reading the same pixels at full resolution.
    """
    if max(width, height) <= side:
        return [(0, 0, width, height)]
    win = max(1, side // grid)
    win_w, win_h = min(win, width), min(win, height)
    cols = np.unique(np.linspace(0, width - win_w, grid).round().astype(int))
    rows = np.unique(np.linspace(0, height - win_h, grid).round().astype(int))
    return [(int(c), int(r), win_w, win_h) for r in rows for c in cols]


def read_sample(src: DatasetReader, info: SceneInfo, bands: tuple[int, ...], side: int) -> list[np.ndarray]:
    """Valid values of each selected band from windows covering about ``side``² pixels of the scene."""
    from rasterio.windows import Window

    unique = sorted(set(bands))
    values: list[list[np.ndarray]] = [[] for _ in bands]
    for col, row, w, h in sample_windows(info.width, info.height, side):
        window = Window(col, row, w, h)
        data = src.read(unique, window=window)
        planes = np.stack([data[unique.index(b)] for b in bands])
        alpha = src.read(info.alpha_band, window=window) if info.alpha_band is not None else None
        valid = ~empty_mask(planes, info, bands, alpha)
        for i, plane in enumerate(planes):
            values[i].append(plane[valid])
    return [np.concatenate(v) for v in values]


class PercentilePool:
    """Per-band value distributions pooled over scenes, then read off as percentiles."""

    def __init__(self, nbands: int, dtype: str) -> None:
        self.dtype = dtype
        self.offset = _HIST_DTYPES.get(dtype)
        self.hists: list[np.ndarray] = [np.zeros(65536, dtype=np.int64) for _ in range(nbands)] \
            if self.offset is not None else []
        self.samples: list[list[np.ndarray]] = [[] for _ in range(nbands)]
        self.pixels = 0

    def add(self, values: list[np.ndarray]) -> None:
        self.pixels += int(values[0].size) if values else 0
        for i, vals in enumerate(values):
            if self.offset is not None:
                self.hists[i] += np.bincount(vals.astype(np.int64) + self.offset, minlength=65536)[:65536]
            else:
                self.samples[i].append(vals.astype(np.float64))
                total = sum(s.size for s in self.samples[i])
                if total > _FLOAT_POOL_MAX:   # keep memory bounded: thin the pool deterministically
                    merged = np.concatenate(self.samples[i])
                    self.samples[i] = [merged[:: int(np.ceil(total / _FLOAT_POOL_MAX))]]

    def percentiles(self, low: float, high: float) -> list[tuple[float, float]]:
        """(value at ``low``%, value at ``high``%) per band; the inverted CDF, so values exist in the data."""
        result = []
        nbands = len(self.hists) if self.offset is not None else len(self.samples)
        for i in range(nbands):
            if self.offset is not None:
                hist = self.hists[i]
                total = int(hist.sum())
                if total == 0:
                    result.append((0.0, 1.0))
                    continue
                cdf = np.cumsum(hist)
                # smallest value whose cumulative count reaches q*N (at least one value: p0 is the minimum)
                lo = float(np.searchsorted(cdf, max(low / 100 * total, 1), side="left") - self.offset)
                hi = float(np.searchsorted(cdf, max(high / 100 * total, 1), side="left") - self.offset)
            else:
                vals = np.concatenate(self.samples[i]) if self.samples[i] else np.zeros(0)
                if vals.size == 0:
                    result.append((0.0, 1.0))
                    continue
                lo, hi = (float(v) for v in np.percentile(vals, [low, high], method="inverted_cdf"))
            result.append(widen(lo, hi))
        return result


def widen(lo: float, hi: float) -> tuple[float, float]:
    """A constant band would divide by zero: give it a range of one unit."""
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def apply_stretch(data: np.ndarray, stretch: tuple[tuple[float, float], ...], gamma: float,
                  empty: np.ndarray | None = None) -> np.ndarray:
    """(bands, h, w) raw values -> (h, w, 3) uint8: linear min..max to 0..255, then gamma; empty -> 0.

    Values outside min..max clip to 0 / 255 (by design of a percentile stretch); one band is
    replicated to grey RGB.
    """
    out = np.empty((data.shape[1], data.shape[2], 3), dtype=np.uint8)
    planes = []
    for plane, (lo, hi) in zip(data, stretch, strict=True):
        scaled = (plane.astype(np.float32) - np.float32(lo)) * np.float32(1.0 / (hi - lo))
        np.clip(scaled, 0.0, 1.0, out=scaled)
        if gamma != 1.0:
            np.power(scaled, np.float32(1.0 / gamma), out=scaled)
        scaled *= 255.0
        np.rint(scaled, out=scaled)
        planes.append(scaled.astype(np.uint8))
    if len(planes) == 1:
        planes = planes * 3
    for c, plane in enumerate(planes):
        if empty is not None:
            plane[empty] = 0
        out[..., c] = plane
    return out
