"""Satellite scenes (GeoTIFF / COG, multi-band, 16-bit) cut into 8-bit RGB chips.

Pure modules (importable without rasterio or numpy): ``options`` (parsing and validating the
chipping options), ``windows`` (the chip grid), ``recipe`` (the document stored in
``dataset.json``'s ``recipe`` field). The modules that touch pixels (``scene``, ``stretch``,
``labels``, ``chipper``) import numpy and rasterio and are imported only by the code paths that
chip scenes.

The entry points for other parts of satrec are in ``satrec.geo.chipper``:
``resolve_recipe`` (fix percentile stretches from a sample of the scenes), ``plan_scene`` (the
chips of one scene with labels, split keys and provenance, no pixel reads except the label
raster), ``render_chip`` (one chip's 8-bit RGB pixels) and ``chip_scene`` (both, streaming, for
one downloaded scene file: ``satrec chip`` and the conversion container use it).
"""

SCENE_EXTS = (".tif", ".tiff")


def is_scene_path(name: str) -> bool:
    """Files that go through scene chipping rather than plain image decoding."""
    return name.lower().endswith(SCENE_EXTS)
