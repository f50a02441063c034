"""Scenes uploaded to the landing bucket, through the whole pipeline (moto, in-process): reconcile
chips them, the plan keeps every scene's chips in one split, the channels hold one record per chip."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from satrec import layout
from tests.functional.pipeline.conftest import Cloud

pytest.importorskip("rasterio")

from tests.unit.geo.geotiffs import make_geotiff, ramp_bands

DATASET = "fields"
pytestmark = [pytest.mark.cdk, pytest.mark.slow]


def test_uploaded_scenes_are_chipped_and_no_scene_straddles_train_and_validation(
        cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The jobs run in this process with the job definition's environment; its /scratch is a mount
    # that exists only in the task: stand in a temporary folder for it.
    import satrec.cloud.convert

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(satrec.cloud.convert, "scratch_dir", lambda: str(scratch))
    cloud.s3.put_object(Bucket=cloud.landing, Key=layout.dataset_settings_key(DATASET), Body=json.dumps(
        {"resize": 32, "min_size": 32, "scenes": {"chip": 32, "bands": [3, 2, 1], "stretch": "0,4095"}}).encode())
    scene_keys = []
    for cls in ("Crop", "Forest"):
        for i in range(3):
            path = make_geotiff(tmp_path / f"{cls}-{i}.tif", ramp_bands(4, 64, 64, seed=i), block=16)
            key = f"incoming/{DATASET}/{cls}/scene {i}.tif"
            cloud.s3.put_object(Bucket=cloud.landing, Key=key, Body=path.read_bytes())
            scene_keys.append(key)
    # No events were delivered: the pipeline's reconcile step converts what the ledger lacks.
    execution = cloud.start("run-s", {"dataset": DATASET, "hyperparameters": {"epochs": 1}})
    assert execution["status"] == "SUCCEEDED", [n["Message"] for n in cloud.notices()]

    splits: dict[str, set[str]] = defaultdict(set)
    records = 0
    for split in ("train", "validation"):
        lst_key = layout.run_dataset_key(DATASET, "run-s", layout.lst_path(DATASET, split, 0))
        lines = cloud.s3.get_object(Bucket=cloud.data, Key=lst_key)["Body"].read().decode().splitlines()
        for line in lines:
            key = line.split("\t")[2]
            assert "/chip-" in key
            splits[layout.normalised_split_key(key)].add(split)
        records += len(lines)
    assert records == 6 * 4                                   # 64 px scenes, 32 px chips
    assert len(splits) == 6 and all(len(s) == 1 for s in splits.values())
    assert set().union(*splits.values()) == {"train", "validation"}
