"""``satrec convert`` with scenes: chips become records, scenes never straddle splits, rejects accounted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from satrec.cli import main
from satrec.recordio import iter_records, unpack_image_record
from tests.unit.geo.geotiffs import label_raster, make_geotiff, ramp_bands

pytest.importorskip("rasterio")


def _convert(src: Path, dst: Path, *extra: str) -> tuple[int, dict]:
    code = main(["convert", str(src), str(dst), "--num-workers", "1", "--no-progress", *extra])
    return code, json.loads((dst / "meta" / "dataset.json").read_text())


def _chips_lines(dst: Path) -> list[dict]:
    return [json.loads(line) for p in sorted((dst / "meta").glob("*.chips.jsonl"))
            for line in p.read_text().splitlines()]


def _lst_paths(dst: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in sorted((dst / "meta").glob("*.lst")):
        split = p.name.split("-")[-2]
        out.setdefault(split, []).extend(line.split("\t")[-1] for line in p.read_text().splitlines())
    return out


@pytest.fixture
def scenes(tmp_path):
    src = tmp_path / "src"
    for i, cls in enumerate(["forest", "forest", "water", "water", "water", "urban"]):
        (src / cls).mkdir(parents=True, exist_ok=True)
        data = ramp_bands(4, 64, 96, seed=i)
        if i == 0:
            data[:, :, :32] = 0                     # one column of empty chips
        make_geotiff(src / cls / f"scene{i}.tif", data, nodata=0)
    return src


def test_class_folder_scenes_become_labelled_chips_with_provenance(tmp_path, scenes):
    dst = tmp_path / "out"
    code, doc = _convert(scenes, dst, "--chip", "32", "--bands", "4,3,2", "--stretch", "p2,p98")
    assert code == 0
    assert doc["classes"] == ["forest", "urban", "water"]
    total = sum(s["records"] for s in doc["splits"].values())
    assert total == 6 * 6 - 2 and doc["extra"]["skipped_by_reason"] == {"chip_nodata": 2}
    recipe = doc["recipe"]
    assert recipe["bands"] == [4, 3, 2] and recipe["stretch"]["method"] == "percentile"
    assert recipe["chip"] == 32 and recipe["split_unit"] == "scene" and len(recipe["stretch"]["per_band"]) == 3
    assert doc["settings"]["scenes"]["stretch"] == "p2,p98"
    lines = _chips_lines(dst)
    assert len(lines) == total
    line = next(x for x in lines if x["path"] == "water/scene3.tif#32,32")
    assert line["window"] == {"col": 32, "row": 32, "width": 32, "height": 32} and line["crs"] == "EPSG:32633"
    assert line["scene"] == "water/scene3.tif" and len(line["lonlat_bounds"]) == 4
    # keyed like the .idx: every chips.jsonl key is a record key of the same shard
    for chips in (dst / "meta").glob("*.chips.jsonl"):
        idx = chips.with_name(chips.name.replace(".chips.jsonl", ".idx"))
        assert [json.loads(x)["key"] for x in chips.read_text().splitlines()] == \
               [int(x.split("\t")[0]) for x in idx.read_text().splitlines()]


def test_no_scene_straddles_splits(tmp_path, scenes):
    dst = tmp_path / "out"
    _convert(scenes, dst, "--chip", "32", "--bands", "4,3,2", "--val-ratio", "0.5", "--train-ratio", "0.5")
    split_of_scene: dict[str, set[str]] = {}
    for split, paths in _lst_paths(dst).items():
        for p in paths:
            split_of_scene.setdefault(p.split("#")[0], set()).add(split)
    assert len(split_of_scene) == 6 and all(len(s) == 1 for s in split_of_scene.values())
    assert {next(iter(s)) for s in split_of_scene.values()} == {"train", "validation"}


def test_split_blocks_are_the_unit_when_asked(tmp_path):
    src = tmp_path / "src" / "fields"
    src.mkdir(parents=True)
    make_geotiff(src / "big.tif", ramp_bands(4, 128, 128))
    dst = tmp_path / "out"
    code, doc = _convert(src.parent, dst, "--chip", "32", "--stride", "16", "--bands", "4,3,2",
                         "--split-block", "64", "--train-ratio", "0.5", "--val-ratio", "0.5", "--seed", "3")
    assert code == 0 and doc["recipe"]["split_unit"] == "block"
    blocks: dict[str, set[str]] = {}
    for split, paths in _lst_paths(dst).items():
        for p in paths:
            line = next(x for x in _chips_lines(dst) if x["path"] == p)
            blocks.setdefault(line["split_key"], set()).add(split)
    assert len(blocks) == 4 and all(len(s) == 1 for s in blocks.values())


def test_multiband_tiff_without_scene_options_is_rejected_naming_bands(tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    make_geotiff(src / "a" / "ms.tif", ramp_bands(5, 32, 32))
    make_geotiff(src / "a" / "rgb.tif", ramp_bands(3, 32, 32, scale=255, dtype="uint8"), photometric="RGB")
    dst = tmp_path / "out"
    code, doc = _convert(src, dst)
    assert code == 2 and doc["rejects_by_reason"] == {"bands_required": 1}
    (reject,) = [json.loads(x) for x in (dst / "meta" / "rejects.jsonl").read_text().splitlines()]
    assert reject["path"] == "a/ms.tif" and "--bands" in reject["detail"]
    assert doc["recipe"] is None   # the plain RGB TIFF went through ordinary image decoding
    assert _lst_paths(dst)["train"] == ["a/rgb.tif"] or _lst_paths(dst).get("validation") == ["a/rgb.tif"]


def test_corrupt_and_truncated_scenes_are_rejects_not_crashes(tmp_path, scenes):
    good = (scenes / "urban" / "scene5.tif").read_bytes()
    (scenes / "urban" / "cut.tif").write_bytes(good[: len(good) // 2])
    (scenes / "urban" / "junk.tif").write_bytes(b"not a tiff at all")
    dst = tmp_path / "out"
    code, doc = _convert(scenes, dst, "--chip", "32", "--bands", "4,3,2")
    assert code == 2
    assert doc["rejects_by_reason"] == {"truncated_scene": 1, "unreadable_scene": 1}
    assert sum(s["records"] for s in doc["splits"].values()) == 6 * 6 - 2


def test_bad_scene_option_values_are_one_line_errors(tmp_path, scenes, capsys):
    for args, option in ((["--chip", "32", "--stretch", "p98,p2"], "--stretch"),
                         (["--bands", "0,1,2"], "--bands"),
                         (["--stride", "16"], "--stride"),
                         (["--chip", "32", "--nodata-max", "2"], "--nodata-max")):
        assert main(["convert", str(scenes), str(tmp_path / "o"), *args]) == 1
        err = capsys.readouterr().err.strip()
        assert option in err and len(err.splitlines()) == 1


def test_label_raster_labels_chips_by_majority(tmp_path):
    src = tmp_path / "src" / "scenes"
    src.mkdir(parents=True)
    make_geotiff(src / "s.tif", ramp_bands(4, 64, 64))
    labels = np.full((64, 64), 3, dtype=np.uint8)
    labels[:, 32:] = 1
    labels[32:40, 32:] = 3                            # 75% class 1
    lab_dir = tmp_path / "labels" / "scenes"
    lab_dir.mkdir(parents=True)
    label_raster(lab_dir / "s.tif", labels)
    dst = tmp_path / "out"
    code, doc = _convert(src.parent, dst, "--chip", "32", "--bands", "4,3,2", "--label-raster",
                         str(tmp_path / "labels"), "--min-purity", "0.8", "--train-ratio", "1")
    assert code == 0
    assert doc["classes"] == ["0", "1", "2", "3"] and doc["recipe"]["labels"] == "raster"
    assert doc["extra"]["skipped_by_reason"] == {"chip_impure": 1}
    got = {}
    with open(dst / "train" / f"{doc['name']}-train-00000.rec", "rb") as rec:
        lst = (dst / "meta" / f"{doc['name']}-train-00000.lst").read_text().splitlines()
        for record, line in zip(iter_records(rec), lst, strict=True):
            header, _ = unpack_image_record(record.payload)
            got[line.split("\t")[-1]] = header.label
    assert got == {"scenes/s.tif#0,0": 3.0, "scenes/s.tif#32,0": 1.0, "scenes/s.tif#0,32": 3.0}


def test_eurosat_ms_style_tiles_are_one_record_each_without_chip(tmp_path):
    src = tmp_path / "src"
    for i, cls in enumerate(["Forest", "River", "Forest"]):
        (src / cls).mkdir(parents=True, exist_ok=True)
        make_geotiff(src / cls / f"{cls}_{i}.tif", ramp_bands(13, 64, 64, seed=i))
    dst = tmp_path / "out"
    code, doc = _convert(src, dst, "--bands", "4,3,2", "--train-ratio", "1")
    assert code == 0 and doc["splits"]["train"]["records"] == 3
    assert doc["recipe"]["chip"] is None and doc["image"]["max_width"] == 64
    assert sorted(_lst_paths(dst)["train"]) == ["Forest/Forest_0.tif#0,0", "Forest/Forest_2.tif#0,0",
                                                 "River/River_1.tif#0,0"]


def test_chip_datasets_are_byte_identical_whatever_the_worker_count(tmp_path, scenes):
    outs = []
    for workers in ("1", "2"):
        dst = tmp_path / f"w{workers}"
        assert main(["convert", str(scenes), str(dst), "--chip", "32", "--stride", "24", "--bands", "4,3,2",
                     "--num-workers", workers, "--no-progress"]) == 0
        outs.append({p.relative_to(dst).as_posix(): p.read_bytes() for p in sorted(dst.rglob("*")) if p.is_file()})
    assert outs[0].keys() == outs[1].keys() and outs[0] == outs[1]
