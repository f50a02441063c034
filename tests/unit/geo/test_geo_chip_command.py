"""``satrec chip`` repeats a dataset's recipe on a new scene, chip for chip."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from satrec.cli import main
from satrec.geo.recipe import Recipe
from tests.unit.geo.geotiffs import make_geotiff, ramp_bands

pytest.importorskip("rasterio")


def _dataset_json(tmp_path, recipe: Recipe):
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({"format": "satrec.dataset", "version": 1, "recipe": recipe.to_dict()}))
    return path


RECIPE = Recipe(bands=(4, 3, 2), stretch=((0.0, 4095.0), (100.0, 3000.0), (0.0, 2000.0)),
                stretch_method="percentile", percentiles=(2.0, 98.0), chip=32, stride=32, nodata_max=0.5)


def test_chips_match_the_recipe_and_carry_provenance(tmp_path, capsys):
    data = ramp_bands(4, 64, 96)
    scene = make_geotiff(tmp_path / "new scene.tif", data)
    out = tmp_path / "chips"
    assert main(["chip", str(scene), str(out), "--recipe", str(_dataset_json(tmp_path, RECIPE)), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["chips"] == 6 and summary["largest_chip_bytes"] < 5_000_000
    lines = [json.loads(line) for line in (out / "chips.jsonl").read_text().splitlines()]
    assert [line["file"] for line in lines][:2] == ["new-scene-0-0.png", "new-scene-32-0.png"]
    assert lines[4]["window"] == {"col": 32, "row": 32, "width": 32, "height": 32} and lines[4]["crs"] == "EPSG:32633"
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO((out / "new-scene-32-32.png").read_bytes())))
    window = data[:, 32:64, 32:64]
    for channel, (band, (lo, hi)) in enumerate(zip(RECIPE.bands, RECIPE.stretch, strict=True)):
        expected = np.rint(np.clip((window[band - 1] - lo) / (hi - lo), 0, 1) * 255)
        assert np.abs(img[..., channel].astype(int) - expected).max() <= 1


def test_chips_over_the_payload_limit_step_down_to_jpeg(tmp_path, capsys):
    rng = np.random.default_rng(5)
    scene = make_geotiff(tmp_path / "s.tif", rng.integers(1, 4095, size=(4, 32, 32)).astype("uint16"))
    recipe = _dataset_json(tmp_path, RECIPE)
    assert main(["chip", str(scene), str(tmp_path / "a"), "--recipe", str(recipe)]) == 0
    png_size = (tmp_path / "a" / "s-0-0.png").stat().st_size
    limit = png_size - 1
    assert main(["chip", str(scene), str(tmp_path / "b"), "--recipe", str(recipe),
                 "--max-bytes", str(limit / 1e6)]) == 0
    (chip,) = [p for p in (tmp_path / "b").iterdir() if p.suffix != ".jsonl"]
    assert chip.name == "s-0-0.jpg" and chip.stat().st_size <= limit


def test_a_rejected_scene_exits_2_with_the_reason(tmp_path, capsys):
    scene = make_geotiff(tmp_path / "rgb.tif", ramp_bands(3, 32, 32))
    recipe = _dataset_json(tmp_path, RECIPE)
    assert main(["chip", str(scene), str(tmp_path / "o"), "--recipe", str(recipe)]) == 2
    assert "band_out_of_range" in capsys.readouterr().out


def test_a_dataset_without_a_recipe_is_a_usage_error(tmp_path, capsys):
    scene = make_geotiff(tmp_path / "s.tif", ramp_bands(4, 32, 32))
    plain = tmp_path / "dataset.json"
    plain.write_text(json.dumps({"format": "satrec.dataset", "recipe": None}))
    assert main(["chip", str(scene), str(tmp_path / "o"), "--recipe", str(plain)]) == 1
    assert "no chip recipe" in capsys.readouterr().err
