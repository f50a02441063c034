"""Chip labels from an aligned label raster: majority class, purity limit, alignment checks."""

from __future__ import annotations

import numpy as np
import pytest

from satrec.errors import ImageRejected
from satrec.geo.chipper import plan_scene, resolve_recipe
from satrec.geo.options import make_options
from tests.unit.geo.geotiffs import label_raster, make_geotiff, ramp_bands

pytest.importorskip("rasterio")


@pytest.fixture
def scene(tmp_path):
    return make_geotiff(tmp_path / "s.tif", ramp_bands(4, 64, 64))


def _labels() -> np.ndarray:
    labels = np.full((64, 64), 2, dtype=np.uint8)     # top-left chip: class 2
    labels[:, 32:] = 5                                # right column of chips: class 5
    labels[32:, :32] = 255                            # bottom-left chip: unlabelled (nodata)
    labels[32:40, 32:] = 7                            # bottom-right chip: 75% class 5, 25% class 7
    return labels


def _plan(scene, raster, purity):
    recipe = resolve_recipe([str(scene)], make_options(chip=32, bands="4,3,2", min_purity=purity),
                            labels="raster")
    return plan_scene(str(scene), "s.tif", recipe, label_raster=str(raster))


def test_chip_label_is_the_majority_class(tmp_path, scene):
    plan = _plan(scene, label_raster(tmp_path / "l.tif", _labels()), 0.5)
    got = {(c.window.col, c.window.row): (c.label, c.provenance["label_purity"]) for c in plan.chips}
    assert got == {(0, 0): ("2", 1.0), (32, 0): ("5", 1.0), (32, 32): ("5", 0.75)}
    assert plan.skipped == {"unlabelled": 1}


def test_chips_below_min_purity_are_skipped(tmp_path, scene):
    plan = _plan(scene, label_raster(tmp_path / "l.tif", _labels()), 0.8)
    assert {(c.window.col, c.window.row) for c in plan.chips} == {(0, 0), (32, 0)}
    assert plan.skipped == {"unlabelled": 1, "impure": 1}


def test_a_label_raster_of_another_size_is_refused(tmp_path, scene):
    raster = label_raster(tmp_path / "l.tif", np.zeros((60, 64), dtype=np.uint8))
    with pytest.raises(ImageRejected, match="60 pixels") as info:
        _plan(scene, raster, 0.5)
    assert info.value.reason == "label_raster_misaligned"


def test_a_label_raster_on_another_grid_is_refused(tmp_path, scene):
    raster = label_raster(tmp_path / "l.tif", _labels(), pixel=20.0)
    with pytest.raises(ImageRejected, match="transform") as info:
        _plan(scene, raster, 0.5)
    assert info.value.reason == "label_raster_misaligned"


def test_label_ids_become_classes_only_in_a_sane_range(tmp_path, scene):
    from satrec.errors import UsageError
    from satrec.geo.options import make_options as opts
    from satrec.geo.scenes_source import expand_scenes
    from satrec.sources import InputItem, Source

    raster = make_geotiff(tmp_path / "l.tif", np.full((1, 64, 64), 5000, dtype=np.uint16))
    item = InputItem(relpath="s.tif", labels=(0.0,), location=str(scene), index=0)
    source = Source("folder", str(tmp_path), [item], [], 1)
    with pytest.raises(UsageError, match=r"0\.\.999"):
        expand_scenes(source, opts(chip=32, bands="4,3,2", label_raster=str(raster)))
