"""Chip labels from a label raster aligned with the scene: the majority class of each window.

A label raster holds one class id per pixel (its nodata value = unlabelled). It must have the
scene's size and, when both are georeferenced, its CRS and transform: resampling labels
silently would put them on the wrong pixels.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from satrec.errors import ImageRejected
from satrec.geo.scene import SceneInfo, describe, gdal_env, raster_errors

if TYPE_CHECKING:
    from rasterio.io import DatasetReader

    from satrec.geo.windows import Window


@dataclass(frozen=True)
class WindowLabel:
    label: int | None     # None: no labelled pixel in the window
    purity: float         # majority pixels / labelled pixels
    labelled: float       # labelled pixels / window pixels


@contextmanager
def open_label_raster(path: str, scene: SceneInfo) -> Iterator[DatasetReader]:
    import rasterio

    with gdal_env():
        try:
            src = rasterio.open(path)
        except raster_errors() as exc:
            raise ImageRejected("unreadable_label_raster", f"{path}: {str(exc).strip()[:200]}") from None
        with src:
            check_aligned(describe(src, path), scene)
            if src.dtypes[0] not in ("uint8", "uint16", "int16", "uint32", "int32"):
                raise ImageRejected("bad_label_raster", f"{path}: class ids must be integers, not {src.dtypes[0]}")
            yield src


def check_aligned(labels: SceneInfo, scene: SceneInfo) -> None:
    if (labels.width, labels.height) != (scene.width, scene.height):
        raise ImageRejected("label_raster_misaligned", f"label raster is {labels.width}x{labels.height} pixels but "
                            f"the scene is {scene.width}x{scene.height}: resample it onto the scene's grid")
    if labels.transform is not None and scene.transform is not None:
        if labels.crs != scene.crs:
            raise ImageRejected("label_raster_misaligned", f"label raster CRS {labels.crs} differs from the "
                                f"scene's {scene.crs}: reproject it onto the scene's grid")
        pixel = max(abs(scene.transform[1]), abs(scene.transform[5]))
        if any(abs(a - b) > 0.01 * pixel for a, b in zip(labels.transform, scene.transform, strict=True)):
            raise ImageRejected("label_raster_misaligned", "label raster transform differs from the scene's "
                                f"({labels.transform} vs {scene.transform}): resample it onto the scene's grid")


def window_label(src: DatasetReader, window: Window) -> WindowLabel:
    from rasterio.windows import Window as RioWindow

    ids = src.read(1, window=RioWindow(window.col, window.row, window.width, window.height))
    nodata = src.nodatavals[0]
    values = ids[ids != nodata] if nodata is not None else ids.ravel()
    if values.size == 0:
        return WindowLabel(None, 0.0, 0.0)
    uniq, counts = np.unique(values, return_counts=True)
    best = int(np.argmax(counts))     # ties go to the smaller class id (np.unique sorts)
    return WindowLabel(int(uniq[best]), float(counts[best]) / values.size, float(values.size) / ids.size)
