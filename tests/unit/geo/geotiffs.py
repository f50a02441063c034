"""Tiny synthetic GeoTIFFs for the scene tests (also used by tests/compat and bench)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

UTM33 = "EPSG:32633"
ORIGIN = (500_000.0, 5_000_000.0)   # a point in UTM zone 33N (north Italy / Austria)
PIXEL = 10.0                        # metres, like Sentinel-2's 10 m bands


def make_geotiff(path: Path, data: np.ndarray, *, crs: str | None = UTM33, nodata: float | None = None,
                 photometric: str | None = None, block: int = 32, alpha: bool = False,
                 origin: tuple[float, float] = ORIGIN, pixel: float = PIXEL, compress: str | None = None) -> Path:
    """Write ``data`` (bands, height, width) as a tiled GeoTIFF; ``crs=None`` writes no georeferencing."""
    import rasterio
    from rasterio.transform import from_origin

    count, height, width = data.shape
    profile: dict = {"driver": "GTiff", "width": width, "height": height, "count": count, "dtype": str(data.dtype),
                     "tiled": True, "blockxsize": block, "blockysize": block}
    if crs is not None:
        profile.update(crs=crs, transform=from_origin(origin[0], origin[1], pixel, pixel))
    if nodata is not None:
        profile["nodata"] = nodata
    if photometric:
        profile["photometric"] = photometric
    if alpha:
        profile["alpha"] = "YES"
    if compress:
        profile["compress"] = compress
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def ramp_bands(count: int, height: int, width: int, *, scale: int = 4095, dtype: str = "uint16",
               seed: int = 0) -> np.ndarray:
    """Band b holds a smooth 12-bit pattern offset by b (so every band is distinguishable)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    out = np.empty((count, height, width), dtype=dtype)
    for b in range(count):
        base = (xx + 2 * yy + 37 * b) % 97 / 96.0
        noise = rng.integers(0, 64, size=(height, width)) / 4095.0
        out[b] = np.clip((0.05 + 0.9 * base + noise) * scale, 1, scale).astype(dtype)
    return out


def constant_bands(values: list[int], height: int, width: int, dtype: str = "uint16") -> np.ndarray:
    return np.stack([np.full((height, width), v, dtype=dtype) for v in values])


def label_raster(path: Path, labels: np.ndarray, *, nodata: int | None = 255, crs: str | None = UTM33,
                 pixel: float = PIXEL) -> Path:
    return make_geotiff(path, labels[np.newaxis].astype("uint8"), crs=crs, nodata=nodata, pixel=pixel)


def scene_writer(path: Path, *, width: int, height: int, count: int, fill: Callable[[int, int, int], np.ndarray],
                 block: int = 512, dtype: str = "uint16") -> Path:
    """Write a large scene one block-row at a time: ``fill(row, rows, width)`` -> (count, rows, width)."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    profile = {"driver": "GTiff", "width": width, "height": height, "count": count, "dtype": dtype,
               "tiled": True, "blockxsize": block, "blockysize": block, "crs": UTM33, "nodata": 0,
               "transform": from_origin(ORIGIN[0], ORIGIN[1], PIXEL, PIXEL), "BIGTIFF": "IF_SAFER"}
    with rasterio.Env(GDAL_PAM_ENABLED="NO", GDAL_CACHEMAX=64 * 2**20), rasterio.open(path, "w", **profile) as dst:
        for row in range(0, height, block):
            rows = min(block, height - row)
            dst.write(fill(row, rows, width), window=Window(0, row, width, rows))
    return path
