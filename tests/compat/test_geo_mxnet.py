"""MXNet 1.9.1 decodes chipped scenes with the pixel statistics the recipe promises.

16-bit (12-bit range) multi-band scenes go through ``satrec convert``; MXNet's own readers
(``MXIndexedRecordIO`` + ``mx.image.imdecode``, and ``ImageRecordIter``) must see the stretched
values: spread over 0..255, not truncated (a raw uint16 -> uint8 cast) nor saturated.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from satrec.cli import main
from tests.unit.geo.geotiffs import make_geotiff, ramp_bands

mx = pytest.importorskip("mxnet")
pytest.importorskip("rasterio")
pytestmark = pytest.mark.mxnet


def _expected(data: np.ndarray, prov: dict, bands: list[int], stretch: list[list[float]]) -> np.ndarray:
    w = prov["window"]
    window = data[:, w["row"]:w["row"] + w["height"], w["col"]:w["col"] + w["width"]]
    planes = []
    for band, (lo, hi) in zip(bands, stretch, strict=True):
        scaled = np.clip((window[band - 1].astype(np.float32) - np.float32(lo)) * np.float32(1 / (hi - lo)), 0, 1)
        planes.append(np.rint(scaled * 255).astype(np.uint8))
    return np.stack(planes, axis=-1)


def _one_shard(dst: Path) -> tuple[Path, Path, list[dict], dict]:
    doc = json.loads((dst / "meta" / "dataset.json").read_text())
    (shard,) = doc["splits"]["train"]["shards"]
    chips = dst / "meta" / (Path(shard["rec"]).stem + ".chips.jsonl")
    return dst / shard["rec"], dst / shard["idx"], [json.loads(x) for x in chips.read_text().splitlines()], doc


def test_imdecode_reads_13_band_uint16_chips_exactly_as_stretched(tmp_path):
    data = ramp_bands(13, 64, 64)                          # 1..4095 in every band
    src = tmp_path / "src" / "crops"
    src.mkdir(parents=True)
    make_geotiff(src / "s2.tif", data)
    dst = tmp_path / "out"
    assert main(["convert", str(src.parent), str(dst), "--chip", "32", "--bands", "4,3,2", "--stretch", "0,4095",
                 "--encoding", "png", "--train-ratio", "1", "--num-workers", "1", "--no-progress"]) == 0
    rec, idx, chips, doc = _one_shard(dst)
    stretch = doc["recipe"]["stretch"]["per_band"]
    reader = mx.recordio.MXIndexedRecordIO(str(idx), str(rec), "r")
    assert len(reader.keys) == len(chips) == 4
    for chip in chips:
        header, payload = mx.recordio.unpack(reader.read_idx(chip["key"]))
        image = mx.image.imdecode(payload).asnumpy()       # RGB, HxWx3, uint8
        expected = _expected(data, chip, [4, 3, 2], stretch)
        assert np.array_equal(image, expected)
        assert header.label == 0.0
        # 12-bit data across the full 8-bit range: neither truncated nor clipped
        assert image.max() >= 240 and image.min() <= 15
        assert (image == 255).mean() < 0.01 and (image == 0).mean() < 0.01
    reader.close()


def test_image_record_iter_sees_percentile_stretched_jpeg_chips(tmp_path):
    src = tmp_path / "src"
    scenes = {}
    for i, cls in enumerate(["field", "lake"]):
        (src / cls).mkdir(parents=True)
        data = ramp_bands(4, 64, 64, seed=i)
        data[:, :4, :] = 0                                  # a nodata strip: left out of the percentiles
        make_geotiff(src / cls / f"t{i}.tif", data, nodata=0)
        scenes[f"{cls}/t{i}.tif"] = data
    dst = tmp_path / "out"
    assert main(["convert", str(src), str(dst), "--chip", "32", "--bands", "3,2,1", "--stretch", "p2,p98",
                 "--train-ratio", "1", "--num-workers", "1", "--no-progress", "--no-shuffle"]) == 0
    rec, idx, chips, doc = _one_shard(dst)
    stretch = doc["recipe"]["stretch"]["per_band"]
    assert all(lo > 4095 * 0.01 for lo, _ in stretch)       # nodata zeros did not pull the low end down
    it = mx.io.ImageRecordIter(path_imgrec=str(rec), path_imgidx=str(idx), data_shape=(3, 32, 32), batch_size=1,
                               shuffle=False, preprocess_threads=1, round_batch=False)
    seen = 0
    for batch, chip in zip(it, chips, strict=True):
        image = batch.data[0].asnumpy()[0]                 # CHW float32, RGB
        expected = _expected(scenes[chip["scene"]], chip, [3, 2, 1], stretch).astype(np.float32)
        assert float(batch.label[0].asnumpy()[0]) == doc["classes"].index(chip["scene"].split("/")[0])
        for c in range(3):
            # JPEG q95: means within 1.5 levels, and the same spread (not squashed, not clipped)
            assert abs(image[c].mean() - expected[..., c].mean()) < 1.5
            assert abs(image[c].std() - expected[..., c].std()) < 3
        assert (image >= 254.5).mean() < 0.05 and (image <= 0.5).mean() < 0.2
        seen += 1
    assert seen == len(chips) == 8
