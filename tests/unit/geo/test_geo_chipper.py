"""Scenes to chips: counts, windows, bounds, band choice, stretch recipe, nodata, split units."""

from __future__ import annotations

import io

import numpy as np
import pytest

from satrec.errors import ImageRejected, SourceError
from satrec.geo.chipper import chip_scene, chip_scene_file, plan_scene, resolve_recipe
from satrec.geo.options import make_options
from satrec.geo.recipe import Recipe
from tests.unit.geo.geotiffs import ORIGIN, PIXEL, constant_bands, make_geotiff, ramp_bands

rasterio = pytest.importorskip("rasterio")


def _decode(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_chip_counts_windows_and_bounds(tmp_path):
    scene = make_geotiff(tmp_path / "s.tif", ramp_bands(4, 100, 130), nodata=0)
    opts = make_options(chip=32, bands="3,2,1", stretch="0,4095")
    recipe = resolve_recipe([str(scene)], opts)
    plan = plan_scene(str(scene), "forest/s.tif", recipe, label="forest")
    # 130 wide: 0,32,64,96 + flush 98; 100 high: 0,32,64 + flush 68
    assert plan.windows == len(plan.chips) == 5 * 4
    cols = sorted({c.window.col for c in plan.chips})
    rows = sorted({c.window.row for c in plan.chips})
    assert cols == [0, 32, 64, 96, 98] and rows == [0, 32, 64, 68]
    first = plan.chips[0]
    assert first.key == "forest/s.tif#0,0" and first.label == "forest" and first.split_key == "forest/s.tif"
    prov = next(c.provenance for c in plan.chips if c.window.col == 64 and c.window.row == 32)
    assert prov["crs"] == "EPSG:32633"
    assert prov["window"] == {"col": 64, "row": 32, "width": 32, "height": 32}
    left, top = ORIGIN[0] + 64 * PIXEL, ORIGIN[1] - 32 * PIXEL
    assert prov["bounds"] == [left, top - 32 * PIXEL, left + 32 * PIXEL, top]
    with rasterio.open(scene) as src:
        expected = rasterio.windows.bounds(rasterio.windows.Window(64, 32, 32, 32), src.transform)
        lonlat = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *expected)
    assert prov["lonlat_bounds"] == pytest.approx(list(lonlat), abs=1e-6)
    assert 14.9 < prov["lonlat_bounds"][0] < 15.1 and 45.0 < prov["lonlat_bounds"][1] < 45.2


def test_thirteen_bands_select_true_colour_in_the_given_order(tmp_path):
    values = [100 * (b + 1) for b in range(13)]   # band b holds 100*b
    scene = make_geotiff(tmp_path / "s2.tif", constant_bands(values, 64, 64))
    opts = make_options(chip=32, bands="4,3,2", stretch="0,1000")
    recipe = resolve_recipe([str(scene)], opts)
    chips = list(chip_scene(str(scene), "s2.tif", recipe))
    assert len(chips) == 4
    pixel = _decode(chips[0].data)[0, 0]
    assert tuple(pixel) == (round(400 / 1000 * 255), round(300 / 1000 * 255), round(200 / 1000 * 255))


def test_multiband_without_bands_is_rejected_naming_the_option(tmp_path):
    scene = make_geotiff(tmp_path / "ms.tif", ramp_bands(4, 40, 40))
    rgb_recipe = Recipe(bands=(1, 2, 3), stretch=((0, 255),) * 3, stretch_method="fixed")
    with pytest.raises(ImageRejected, match="--bands") as info:
        plan_scene(str(scene), "ms.tif", rgb_recipe, bands_given=False)
    assert info.value.reason == "bands_required"
    with pytest.raises(SourceError, match="no readable scene"):   # nothing to build a recipe from
        resolve_recipe([str(scene)], make_options())


def test_plain_rgb_and_grey_scenes_need_no_bands(tmp_path):
    rgb = make_geotiff(tmp_path / "rgb.tif", ramp_bands(3, 40, 40, scale=255, dtype="uint8"), photometric="RGB")
    recipe = resolve_recipe([str(rgb)], make_options())
    assert recipe.bands == (1, 2, 3) and recipe.stretch == ((0.0, 255.0),) * 3 and recipe.chip is None
    (chip,) = list(chip_scene(str(rgb), "rgb.tif", recipe, bands_given=False, encoding="png"))
    with rasterio.open(rgb) as src:
        assert np.array_equal(_decode(chip.data), np.moveaxis(src.read(), 0, -1))   # 8-bit RGB kept exactly
    grey = make_geotiff(tmp_path / "grey.tif", ramp_bands(1, 40, 40))
    recipe = resolve_recipe([str(grey)], make_options())
    assert recipe.bands == (1,) and recipe.stretch_method == "percentile"
    (chip,) = list(chip_scene(str(grey), "grey.tif", recipe, bands_given=False))
    img = _decode(chip.data)
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])


def test_percentile_stretch_is_the_data_percentile_and_recorded(tmp_path):
    data = ramp_bands(4, 64, 64)
    data[:, :8, :] = 0    # nodata rows must not drag the low percentile to 0
    scene = make_geotiff(tmp_path / "s.tif", data, nodata=0)
    recipe = resolve_recipe([str(scene)], make_options(chip=32, bands="4,3,2", stretch="p2,p98"))
    assert recipe.stretch_method == "percentile" and recipe.percentiles == (2.0, 98.0)
    for (lo, hi), band in zip(recipe.stretch, (4, 3, 2), strict=True):
        valid = data[band - 1][8:].ravel()
        assert (lo, hi) == tuple(float(v) for v in np.percentile(valid, [2, 98], method="inverted_cdf"))
    assert recipe.sample["pixels"] == 56 * 64
    doc = recipe.to_dict()
    assert doc["stretch"]["per_band"] == [list(p) for p in recipe.stretch] and doc["bands"] == [4, 3, 2]


def test_percentiles_pool_over_all_scenes(tmp_path):
    a = make_geotiff(tmp_path / "a.tif", constant_bands([1000, 1000, 1000], 32, 32))
    b = make_geotiff(tmp_path / "b.tif", constant_bands([3000, 3000, 3000], 32, 32))
    recipe = resolve_recipe([str(a), str(b)], make_options(bands="1,2,3", stretch="p0,p100"))
    assert recipe.stretch == ((1000.0, 3000.0),) * 3 and recipe.sample["scenes"] == 2


def test_twelve_bit_data_is_scaled_not_truncated_or_saturated(tmp_path):
    data = ramp_bands(3, 64, 64)          # 1..4095
    scene = make_geotiff(tmp_path / "s.tif", data)
    recipe = resolve_recipe([str(scene)], make_options(chip=64, bands="1,2,3", stretch="0,4095"))
    (chip,) = list(chip_scene(str(scene), "s.tif", recipe))
    img = _decode(chip.data)
    expected = np.rint(np.moveaxis(data, 0, -1) / 4095 * 255).astype(np.uint8)
    assert np.array_equal(img, expected)
    assert (img == 255).mean() < 0.01 and img.std() > 40     # spread over the range, not clipped


def test_gamma_brightens_mid_tones(tmp_path):
    scene = make_geotiff(tmp_path / "s.tif", constant_bands([1000, 1000, 1000], 32, 32))
    flat = resolve_recipe([str(scene)], make_options(bands="1,2,3", stretch="0,4000"))
    bright = resolve_recipe([str(scene)], make_options(bands="1,2,3", stretch="0,4000", gamma=2.0))
    (a,), (b,) = list(chip_scene(str(scene), "s", flat)), list(chip_scene(str(scene), "s", bright))
    assert _decode(a.data)[0, 0, 0] == round(0.25 * 255)
    assert _decode(b.data)[0, 0, 0] == round(0.25 ** 0.5 * 255)


def test_chips_above_the_nodata_limit_are_skipped_and_counted(tmp_path):
    data = ramp_bands(4, 64, 64)
    data[:, :, :40] = 0                                   # left 40 columns empty
    scene = make_geotiff(tmp_path / "s.tif", data, nodata=0)
    recipe = resolve_recipe([str(scene)], make_options(chip=32, bands="1,2,3", nodata_max=0.5))
    result = chip_scene(str(scene), "s.tif", recipe)
    chips = list(result)
    assert {c.plan.window.col for c in chips} == {32}       # column 32: 8/32 empty; column 0: all empty
    assert result.skipped == {"nodata": 2} and result.produced == 2
    assert all(c.empty_fraction == 0.25 for c in chips)


def test_zero_filled_areas_count_as_empty_even_without_a_nodata_tag(tmp_path):
    data = ramp_bands(3, 32, 64)
    data[:, :, 32:] = 0
    scene = make_geotiff(tmp_path / "s.tif", data)       # no nodata value declared
    recipe = resolve_recipe([str(scene)], make_options(chip=32, bands="1,2,3", stretch="0,4095"))
    assert [c.plan.window.col for c in chip_scene(str(scene), "s.tif", recipe)] == [0]


def test_split_blocks_keep_neighbouring_chips_together(tmp_path):
    scene = make_geotiff(tmp_path / "s.tif", ramp_bands(3, 128, 128))
    recipe = resolve_recipe([str(scene)], make_options(chip=32, stride=16, bands="1,2,3", split_block=64))
    plan = plan_scene(str(scene), "a/s.tif", recipe, label="a")
    keys = {c.split_key for c in plan.chips}
    assert keys == {f"a/s.tif#block{x},{y}" for x in (0, 1) for y in (0, 1)}
    for chip in plan.chips:
        bx, by = (int(v) for v in chip.split_key.rsplit("block", 1)[1].split(","))
        w = chip.window
        assert bx * 64 <= w.col and w.col + 32 <= (bx + 1) * 64 and by * 64 <= w.row and w.row + 32 <= (by + 1) * 64
        assert chip.provenance["split_unit"] == "block"


def test_scenes_without_georeferencing_are_accepted_with_pixel_provenance(tmp_path):
    scene = make_geotiff(tmp_path / "plain.tif", ramp_bands(3, 32, 32), crs=None)
    recipe = resolve_recipe([str(scene)], make_options(chip=32, bands="1,2,3"))
    (chip,) = plan_scene(str(scene), "plain.tif", recipe).chips
    assert chip.provenance["crs"] is None and chip.provenance["bounds"] is None
    assert chip.provenance["window"] == {"col": 0, "row": 0, "width": 32, "height": 32}
    with pytest.raises(ImageRejected, match="georeferencing") as info:
        plan_scene(str(scene), "plain.tif", recipe, require_georef=True)
    assert info.value.reason == "not_georeferenced"


def test_the_cloud_entry_point_chips_one_downloaded_scene(tmp_path):
    scene = make_geotiff(tmp_path / "dl.tif", ramp_bands(4, 64, 64), nodata=0)
    recipe, chips = chip_scene_file(str(scene), "ds/forest/dl.tif", make_options(chip=32, bands="4,3,2"),
                                    label="forest", encoding="jpg")
    out = list(chips)
    assert len(out) == 4 and out[0].data[:2] == b"\xff\xd8" and recipe.stretch_method == "percentile"
    assert {c.plan.label for c in out} == {"forest"}


def test_workers_keep_a_few_scenes_open_and_render_the_same_pixels(tmp_path):
    from satrec.geo import chipper
    from satrec.geo.windows import Window

    paths = [make_geotiff(tmp_path / f"s{i}.tif", ramp_bands(3, 32, 32, seed=i)) for i in range(10)]
    recipe = resolve_recipe([str(p) for p in paths], make_options(bands="1,2,3", stretch="0,4095"))
    try:
        for _ in range(2):
            for p in paths:   # more scenes than stay open: least recently used ones are closed
                rgb = chipper.render_window(str(p), Window(0, 0, 32, 32), recipe)
                (chip,) = list(chip_scene(str(p), p.name, recipe))
                assert np.array_equal(rgb, _decode(chip.data))
                assert len(chipper._local.renderers) <= chipper.OPEN_SCENES_PER_THREAD
        assert list(chipper._local.renderers) == [str(p) for p in paths[-chipper.OPEN_SCENES_PER_THREAD:]]
    finally:
        chipper.close_cached()
    assert chipper._local.renderers == {}


def test_geographic_scenes_report_degrees_as_both_bounds(tmp_path):
    scene = make_geotiff(tmp_path / "wgs84.tif", ramp_bands(3, 64, 64), crs="EPSG:4326", origin=(10.0, 50.0),
                         pixel=0.001)
    recipe = resolve_recipe([str(scene)], make_options(chip=32, bands="1,2,3"))
    chip = next(c for c in plan_scene(str(scene), "w.tif", recipe).chips if c.window.col == 32 and c.window.row == 32)
    assert chip.provenance["crs"] == "EPSG:4326"
    assert chip.provenance["bounds"] == pytest.approx([10.032, 49.936, 10.064, 49.968])
    assert chip.provenance["lonlat_bounds"] == pytest.approx(chip.provenance["bounds"], abs=1e-7)
