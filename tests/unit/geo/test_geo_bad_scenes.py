"""Damaged or unusable scenes are rejected with a stable reason, never half-chipped."""

from __future__ import annotations

import pytest

from satrec.errors import ImageRejected
from satrec.geo.chipper import chip_scene, plan_scene, resolve_recipe
from satrec.geo.options import make_options
from satrec.geo.recipe import Recipe
from tests.unit.geo.geotiffs import make_geotiff, ramp_bands

pytest.importorskip("rasterio")

RGB16 = Recipe(bands=(1, 2, 3), stretch=((0.0, 4095.0),) * 3, stretch_method="fixed", chip=32, stride=32)


def _reason(path, recipe=RGB16, **kwargs) -> str:
    with pytest.raises(ImageRejected) as info:
        list(chip_scene(str(path), path.name, recipe, **kwargs))
    return info.value.reason


def test_a_file_that_is_not_a_raster(tmp_path):
    bad = tmp_path / "junk.tif"
    bad.write_bytes(b"II*\x00garbage" * 10)
    assert _reason(bad) == "unreadable_scene"
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    assert _reason(empty) == "unreadable_scene"


def test_a_truncated_geotiff_is_rejected_before_any_chip(tmp_path):
    good = make_geotiff(tmp_path / "good.tif", ramp_bands(3, 96, 96))
    data = good.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: len(data) * 2 // 3])
    assert _reason(cut) == "truncated_scene"


def test_bands_beyond_the_scene(tmp_path):
    scene = make_geotiff(tmp_path / "s.tif", ramp_bands(3, 32, 32))
    recipe = Recipe(bands=(4, 3, 2), stretch=((0.0, 1.0),) * 3, stretch_method="fixed", chip=32)
    assert _reason(scene, recipe) == "band_out_of_range"


def test_a_scene_smaller_than_one_chip(tmp_path):
    scene = make_geotiff(tmp_path / "s.tif", ramp_bands(3, 20, 40))
    assert _reason(scene) == "scene_too_small"


def test_a_huge_scene_without_chip_size_is_refused_before_reading(tmp_path, monkeypatch):
    import satrec.geo.chipper as chipper

    monkeypatch.setattr(chipper, "WHOLE_SCENE_MAX_PIXELS", 1000)
    scene = make_geotiff(tmp_path / "s.tif", ramp_bands(3, 40, 40))
    whole = Recipe(bands=(1, 2, 3), stretch=((0.0, 4095.0),) * 3, stretch_method="fixed")
    assert _reason(scene, whole) == "scene_too_large"


def test_mixed_data_types_under_one_percentile_stretch(tmp_path):
    a = make_geotiff(tmp_path / "a.tif", ramp_bands(3, 32, 32))
    b = make_geotiff(tmp_path / "b.tif", ramp_bands(3, 32, 32).astype("float32"))
    recipe = resolve_recipe([str(a), str(b)], make_options(chip=32, bands="1,2,3"))
    plan_scene(str(a), "a.tif", recipe)
    with pytest.raises(ImageRejected) as info:
        plan_scene(str(b), "b.tif", recipe)
    assert info.value.reason == "dtype_mismatch"


def _corrupt_tile(path, x: int, y: int) -> None:
    import rasterio

    with rasterio.open(path) as src:
        offset = int(src.get_tag_item(f"BLOCK_OFFSET_{x}_{y}", "TIFF", bidx=1))
        size = int(src.get_tag_item(f"BLOCK_SIZE_{x}_{y}", "TIFF", bidx=1))
    data = bytearray(path.read_bytes())
    data[offset:offset + size] = b"\xff" * size
    path.write_bytes(bytes(data))


def test_a_tile_that_fails_to_decode_rejects_the_whole_scene_in_convert(tmp_path):
    from satrec.cli import main

    src = tmp_path / "src" / "a"
    src.mkdir(parents=True)
    scene = make_geotiff(src / "bad.tif", ramp_bands(3, 64, 64), compress="deflate")
    make_geotiff(src / "good.tif", ramp_bands(3, 64, 64), compress="deflate")
    _corrupt_tile(scene, 1, 1)
    with pytest.raises(ImageRejected) as info:
        list(chip_scene(str(scene), "bad.tif", RGB16))
    assert info.value.reason == "corrupt_scene"
    dst = tmp_path / "out"
    assert main(["convert", str(src.parent), str(dst), "--chip", "32", "--bands", "1,2,3", "--num-workers", "1",
                 "--no-progress", "--train-ratio", "1"]) == 2
    lst = (dst / "meta").glob("*.lst")
    paths = [line.split("\t")[-1] for p in lst for line in p.read_text().splitlines()]
    assert len(paths) == 4 and all(p.startswith("a/good.tif#") for p in paths)
    assert '"corrupt_scene"' in (dst / "meta" / "rejects.jsonl").read_text()
