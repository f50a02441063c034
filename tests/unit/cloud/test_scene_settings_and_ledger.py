"""Scene uploads, the pure parts: ``scenes`` in satrec.json, chip keys and split units, ledger v2."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from satrec import layout
from satrec.cloud.ledger import CONVERTED, LEDGER_VERSION, LedgerEntry
from satrec.cloud.scenes import SPACE_MARGIN_BYTES, space_problem
from satrec.cloud.settings import parse_dataset_settings, scene_settings_digest, settings_digest
from satrec.errors import ConfigError
from satrec.pipeline.plan import PlannedImage, make_plan

SOURCE = "s3://landing/incoming/d/satrec.json"
SCENE = "incoming/d/Crop/2024/tile 1.tif"


def test_scene_options_in_satrec_json_are_validated_like_the_cli_options() -> None:
    parsed = parse_dataset_settings({"resize": 64, "scenes": {"chip": 256, "bands": [4, 3, 2], "stretch": "p2,p98"}},
                                    source=SOURCE)
    assert parsed.image.resize == 64
    assert parsed.scenes is not None and (parsed.scenes.chip, parsed.scenes.bands) == (256, (4, 3, 2))
    assert parsed.scenes.stretch is not None and parsed.scenes.stretch.percentiles == (2.0, 98.0)
    assert parse_dataset_settings("{}", source=SOURCE).scenes is None


@pytest.mark.parametrize(("scenes", "needle"), [
    ({"chip": 4}, "--chip"),
    ({"bands": "4,3"}, "--bands"),
    ({"stretch": "p98,p2"}, "--stretch"),
    ({"colour": 1}, "colour"),
    ({"chip": 64, "label_raster": "labels/"}, "label_raster"),
    ({"chip": 64, "split_block": 512}, "split_block"),
    ([256], '"scenes" must be an object'),
])
def test_bad_scene_options_name_the_file_and_the_option(scenes: object, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_dataset_settings({"scenes": scenes}, source=SOURCE)
    assert "incoming/d/satrec.json" in str(info.value) and needle in str(info.value)


def test_scene_options_change_only_the_digest_of_scene_uploads() -> None:
    plain = parse_dataset_settings({"resize": 64}, source=SOURCE)
    with_scenes = parse_dataset_settings({"resize": 64, "scenes": {"chip": 256, "bands": [4, 3, 2]}}, source=SOURCE)
    other_chip = parse_dataset_settings({"resize": 64, "scenes": {"chip": 128, "bands": [4, 3, 2]}}, source=SOURCE)
    assert settings_digest(plain.image) == settings_digest(with_scenes.image)       # JPEGs are not redone
    assert scene_settings_digest(plain) == settings_digest(plain.image)            # nor TIFFs without scenes
    digests = {scene_settings_digest(d) for d in (plain, with_scenes, other_chip)}
    assert len(digests) == 3


def test_chip_keys_derive_from_the_scene_key_and_window_and_share_one_split_key() -> None:
    a = layout.normalised_chip_key(SCENE, 0, 256, "jpg")
    b = layout.normalised_chip_key(SCENE, 256, 256, "jpg")
    assert a == layout.normalised_chip_key(SCENE, 0, 256, ".jpg")                  # reruns overwrite
    assert a.startswith("normalised/d/Crop/2024/tile 1-") and a.endswith("/chip-0-256.jpg") and a != b
    assert layout.normalised_split_key(a) == layout.normalised_split_key(b) == a.rsplit("/", 1)[0]
    other = layout.normalised_chip_key("incoming/d/Crop/2024/tile 2.tif", 0, 256, "jpg")
    assert layout.normalised_split_key(other) != layout.normalised_split_key(a)
    image = layout.normalised_key("incoming/d/Crop/pic.jpg", "jpg")
    assert layout.normalised_split_key(image) == image
    # Relative keys (what the pipeline plan splits on) work the same way.
    cut = len("normalised/d/")
    assert layout.normalised_split_key(a[cut:]) == layout.normalised_split_key(a)[cut:]


def test_the_pipeline_plan_keeps_every_scenes_chips_in_one_split() -> None:
    images = [PlannedImage(layout.normalised_chip_key(f"incoming/d/{cls}/scene-{s}.tif", col, 0, "jpg"), cls, 1000)
              for cls in ("Crop", "Forest") for s in range(6) for col in range(0, 256 * 8, 256)]
    plan, rows = make_plan(images, dataset="d", run_id="r1", bucket="data", validation_fraction=0.34,
                           shard_size_mb=1, seed=3)
    split_of_shard = {shard.index: shard.split for shard in plan.shards}
    splits: dict[str, set[str]] = defaultdict(set)
    for index, shard_rows in rows.items():
        for row in shard_rows:
            splits[layout.normalised_split_key(row.key)].add(split_of_shard[index])
    assert len(splits) == 12 and all(len(s) == 1 for s in splits.values())
    assert set().union(*splits.values()) == {"train", "validation"}


def test_space_check_asks_for_the_scene_plus_headroom(tmp_path: pytest.TempPathFactory) -> None:
    assert space_problem(1024, str(tmp_path)) is None
    problem = space_problem(10**15, str(tmp_path))
    assert problem is not None and "job_ephemeral_gib" in problem and str(SPACE_MARGIN_BYTES) in problem


def scene_entry() -> LedgerEntry:
    chip = layout.normalised_chip_key(SCENE, 0, 0, "jpg")
    return LedgerEntry(dataset="d", class_name="Crop", source_key=SCENE, source_version_id="v1", source_etag="e",
                       source_sequencer="01", settings_digest="s", status=CONVERTED,
                       outputs=[{"key": chip, "width": 256, "height": 256, "window": {"col": 0, "row": 0,
                                                                                      "width": 256, "height": 256}}],
                       scene={"chips": 1, "windows": 1}, recipe={"bands": [4, 3, 2]})


def test_a_scene_entry_lists_its_chips_and_round_trips() -> None:
    entry = scene_entry()
    data = json.loads(entry.to_json())
    assert data["version"] == LEDGER_VERSION == 2 and data["output_key"] is None
    assert LedgerEntry.from_json(entry.to_json()) == entry
    assert entry.output_keys == [layout.normalised_chip_key(SCENE, 0, 0, "jpg")]


def test_version_1_single_output_entries_still_read() -> None:
    v1 = {"format": "satrec.ledger", "version": 1, "dataset": "d", "class_name": "c",
          "source_key": "incoming/d/c/a.jpg",
          "source_version_id": "v", "source_etag": "e", "source_sequencer": None, "settings_digest": "s",
          "status": "converted", "output_key": "normalised/d/c/a-0123456789abcdef.jpg", "width": 8, "height": 8,
          "passed_through": False, "reason": None, "detail": None, "satrec_version": "0.1"}
    entry = LedgerEntry.from_json(json.dumps(v1))
    assert entry.outputs == [] and entry.scene is None and entry.recipe is None
    assert entry.output_keys == ["normalised/d/c/a-0123456789abcdef.jpg"]
    assert entry.is_current_for(version_id="v", etag="e", settings_digest="s")


def test_a_missing_scratch_mount_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from satrec.cloud.scenes import SCRATCH_ENV, scratch_dir

    monkeypatch.setenv(SCRATCH_ENV, str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match=SCRATCH_ENV):
        scratch_dir()
    monkeypatch.setenv(SCRATCH_ENV, str(tmp_path))
    assert scratch_dir() == str(tmp_path)
