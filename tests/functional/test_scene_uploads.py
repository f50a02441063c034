"""GeoTIFF scenes through the upload path (moto): one upload -> N normalised chips + one ledger entry.

In-process with ``SliceConverter`` and, once, as Batch runs the container: a separate process
against a moto server (``AWS_ENDPOINT_URL``, ``AWS_BATCH_JOB_ARRAY_INDEX``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")
np = pytest.importorskip("numpy")
pytest.importorskip("rasterio")
Image = pytest.importorskip("PIL.Image")

from satrec import layout  # noqa: E402
from satrec.cloud import scenes  # noqa: E402
from satrec.cloud.batches import make_batch  # noqa: E402
from satrec.cloud.convert import SliceConverter  # noqa: E402
from satrec.cloud.dispatch import CONVERT_JOB_ARGS  # noqa: E402
from satrec.cloud.ledger import CONVERTED, REJECTED, LedgerEntry  # noqa: E402
from satrec.cloud.uploads import Upload  # noqa: E402
from tests.functional.conftest import REGION  # noqa: E402
from tests.unit.geo.geotiffs import make_geotiff, ramp_bands  # noqa: E402

shutil_usage = type(shutil.disk_usage("/"))   # the named tuple shutil.disk_usage returns
REPO = Path(__file__).resolve().parents[2]
LANDING, DATA = "landing", "data"
SCENE_KEY = "incoming/fields/Crop/tile 1.tif"
DEFAULTS = {"resize": 0, "min_size": 32}
SCENES = {"chip": 32, "bands": [3, 2, 1]}          # 96 x 64 px -> a 3 x 2 grid of 32 px chips


def scene_bytes(tmp_path: Path, *, count: int = 4, width: int = 96, height: int = 64, seed: int = 0) -> bytes:
    path = make_geotiff(tmp_path / f"scene-{count}-{width}-{seed}.tif", ramp_bands(count, height, width, seed=seed),
                        block=16)
    return path.read_bytes()


def versioned_buckets(client: Any) -> Any:
    for bucket in (LANDING, DATA):
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def s3(aws_env: None) -> Iterator[Any]:
    with moto.mock_aws():
        yield versioned_buckets(boto3.client("s3", region_name=REGION))


def upload(s3: Any, key: str, body: bytes) -> Upload:
    response = s3.put_object(Bucket=LANDING, Key=key, Body=body)
    return Upload(LANDING, key, version_id=response["VersionId"], etag=response["ETag"].strip('"'), size=len(body))


def settings(s3: Any, dataset: str = "fields", **values: Any) -> None:
    s3.put_object(Bucket=LANDING, Key=layout.dataset_settings_key(dataset), Body=json.dumps(values).encode())


def entry(s3: Any, key: str = SCENE_KEY) -> LedgerEntry:
    parsed = layout.parse_incoming_key(key)
    assert parsed is not None
    return LedgerEntry.from_json(s3.get_object(Bucket=DATA, Key=layout.ledger_key(parsed[0], key))["Body"].read())


def normalised(s3: Any, dataset: str = "fields") -> list[str]:
    listed = s3.list_objects_v2(Bucket=DATA, Prefix=layout.normalised_prefix(dataset)).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def data_versions(s3: Any) -> list[tuple[str, str]]:
    return sorted((v["Key"], v["VersionId"]) for v in s3.list_object_versions(Bucket=DATA).get("Versions", []))


def converter(s3: Any, tmp_path: Path) -> SliceConverter:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return SliceConverter(s3, data_bucket=DATA, defaults=DEFAULTS, scratch=str(scratch))


def test_a_scene_upload_becomes_one_normalised_image_per_chip_and_one_ledger_entry(s3: Any, tmp_path: Path) -> None:
    settings(s3, scenes={**SCENES, "stretch": "p2,p98"})
    up = upload(s3, SCENE_KEY, scene_bytes(tmp_path))
    assert converter(s3, tmp_path).convert(up) == (CONVERTED, "")

    e = entry(s3)
    keys = [o["key"] for o in e.outputs]
    assert len(keys) == 6 and normalised(s3) == sorted(keys) == sorted(e.output_keys)
    assert {layout.normalised_split_key(k) for k in keys} == {e.scene["split_key"]}   # one split unit
    assert all(k.startswith("normalised/fields/Crop/tile 1-") for k in keys)
    assert {(o["window"]["col"], o["window"]["row"]) for o in e.outputs} == {(c, r) for c in (0, 32, 64)
                                                                            for r in (0, 32)}
    assert e.output_key is None and e.scene["chips"] == 6 and e.scene["crs"] == "EPSG:32633"
    assert all(o["bounds"] and o["lonlat_bounds"] for o in e.outputs)
    # The recipe holds the stretch values this scene's percentiles gave: one (min, max) per band,
    # inside the data's 12-bit range, so inference can repeat them exactly.
    assert e.recipe is not None and e.recipe["bands"] == [3, 2, 1]
    stretch = e.recipe["stretch"]
    assert stretch["method"] == "percentile" and stretch["percentiles"] == [2.0, 98.0]
    assert len(stretch["per_band"]) == 3 and all(0 < lo < hi <= 4095 for lo, hi in stretch["per_band"])
    for o in e.outputs:
        with Image.open(io.BytesIO(s3.get_object(Bucket=DATA, Key=o["key"])["Body"].read())) as im:
            assert (im.mode, im.size, im.format) == ("RGB", (32, 32), "JPEG") == ("RGB", (o["width"], o["height"]),
                                                                                 "JPEG")
            pixels = np.asarray(im)
            assert 0 < pixels.mean() < 255 and pixels.std() > 10   # stretched, neither saturated nor flat


def test_rerunning_a_scene_changes_nothing_and_new_options_replace_its_chips(s3: Any, tmp_path: Path) -> None:
    settings(s3, scenes={**SCENES, "stretch": "0,4095"})
    up = upload(s3, SCENE_KEY, scene_bytes(tmp_path))
    assert converter(s3, tmp_path).convert(up) == (CONVERTED, "")
    before = data_versions(s3)
    assert converter(s3, tmp_path).convert(up) == ("skipped", "")
    assert data_versions(s3) == before

    # A different chip grid: the old chips are deleted, never left to be packed next to the new ones.
    settings(s3, scenes={**SCENES, "chip": 48, "stretch": "0,4095"})
    assert converter(s3, tmp_path).convert(up) == (CONVERTED, "")
    e = entry(s3)
    assert len(e.outputs) == 4 and normalised(s3) == sorted(o["key"] for o in e.outputs)   # 2 x 2, edges covered
    assert e.recipe is not None and e.recipe["stretch"]["per_band"] == [[0.0, 4095.0]] * 3


def test_a_truncated_tiff_is_one_rejected_entry_and_no_chip(s3: Any, tmp_path: Path) -> None:
    settings(s3, scenes=SCENES)
    data = scene_bytes(tmp_path)
    up = upload(s3, SCENE_KEY, data[: len(data) // 2])
    assert converter(s3, tmp_path).convert(up) == (REJECTED, "truncated_scene")
    e = entry(s3)
    assert e.status == REJECTED and e.outputs == [] and "truncated" in (e.detail or "")
    assert normalised(s3) == []


def test_a_multi_band_tiff_without_band_options_is_rejected_naming_the_option(s3: Any, tmp_path: Path) -> None:
    up = upload(s3, SCENE_KEY, scene_bytes(tmp_path))       # no satrec.json: no scene options at all
    assert converter(s3, tmp_path).convert(up) == (REJECTED, "bands_required")
    detail = entry(s3).detail or ""
    assert "--bands" in detail and '"scenes": {"bands"' in detail
    assert normalised(s3) == []


def test_a_plain_rgb_tiff_without_scene_options_is_still_one_image(s3: Any, tmp_path: Path) -> None:
    rgb = make_geotiff(tmp_path / "rgb.tif", ramp_bands(3, 40, 48, scale=255, dtype="uint8"), crs=None,
                       photometric="RGB")
    up = upload(s3, "incoming/fields/Crop/photo.tiff", rgb.read_bytes())
    assert converter(s3, tmp_path).convert(up) == (CONVERTED, "")
    e = entry(s3, up.key)
    assert e.output_key == layout.normalised_key(up.key, "jpg") and e.outputs == [] and e.scene is None
    assert normalised(s3) == [e.output_key]


def test_a_scene_that_cannot_fit_the_ephemeral_storage_is_rejected_unread(s3: Any, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    settings(s3, scenes=SCENES)
    up = upload(s3, SCENE_KEY, scene_bytes(tmp_path))
    monkeypatch.setattr(scenes.shutil, "disk_usage", lambda _path: shutil_usage(total=10**9, used=10**9 - 1024,
                                                                                   free=1024))
    fetched: list[str] = []
    conv = converter(s3, tmp_path)
    real = s3.download_fileobj
    monkeypatch.setattr(s3, "download_fileobj", lambda *a, **k: fetched.append(a[1]) or real(*a, **k))
    assert conv.convert(up) == (REJECTED, scenes.REASON_NO_SPACE)
    assert "job_ephemeral_gib" in (entry(s3).detail or "") and fetched == []


def test_a_scene_later_rejected_loses_the_chips_it_had(s3: Any, tmp_path: Path) -> None:
    settings(s3, scenes=SCENES)
    up = upload(s3, SCENE_KEY, scene_bytes(tmp_path))
    assert converter(s3, tmp_path).convert(up) == (CONVERTED, "")
    settings(s3, scenes={**SCENES, "bands": [9, 2, 1]})     # the scene has 4 bands
    assert converter(s3, tmp_path).convert(up) == (REJECTED, "band_out_of_range")
    assert normalised(s3) == []


def test_the_container_entry_point_chips_a_scene_as_batch_runs_it(moto_server: str, tmp_path: Path) -> None:
    s3 = versioned_buckets(boto3.client("s3", region_name=REGION, endpoint_url=moto_server))
    settings(s3, scenes=SCENES)
    ups = [upload(s3, SCENE_KEY, scene_bytes(tmp_path)),
           upload(s3, "incoming/fields/Crop/broken.tif", scene_bytes(tmp_path, seed=1)[:900])]
    batch = make_batch(ups, per_child=10)
    key = layout.batch_key(batch.batch_id)
    s3.put_object(Bucket=DATA, Key=key, Body=batch.to_json().encode())
    scratch = tmp_path / "ephemeral"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=moto_server, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AWS_BATCH_JOB_ARRAY_INDEX="0", SATREC_DEFAULT_SETTINGS=json.dumps(DEFAULTS),
               PYTHONPATH=str(REPO), **{scenes.SCRATCH_ENV: str(scratch)})

    def run() -> dict[str, Any]:
        result = subprocess.run([sys.executable, "-m", "satrec", *CONVERT_JOB_ARGS, f"s3://{DATA}/{key}"], env=env,
                                cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        return next(line for line in lines if line["event"] == "summary")

    first = run()
    assert (first["converted"], first["rejected"]) == (1, 1)
    assert sorted(o["key"] for o in entry(s3).outputs) == normalised(s3) and len(normalised(s3)) == 6
    assert entry(s3, "incoming/fields/Crop/broken.tif").status == REJECTED
    assert list(scratch.iterdir()) == []                 # the downloaded scene and staged chips are gone
    before = data_versions(s3)
    assert run()["skipped"] == 2 and data_versions(s3) == before


def test_the_upload_trigger_dispatches_tif_and_tiff_scenes_but_not_their_side_files(
        aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aws_lambda_powertools")
    from lambdas.upload_trigger.handler import handler
    from satrec.cloud.batches import BatchDoc
    from tests.functional.conftest import FakeLambdaContext, load_event, make_batch_queue

    template = load_event("sqs_batch_of_upload_events.json")["Records"][0]
    keys = ["incoming/geo/Crop/tile+1.tif", "incoming/geo/Crop/T33UUP.TIFF", "incoming/geo/Crop/tile+1.tif.aux.xml",
            "incoming/geo/Crop/tile+1.tfw", "incoming/geo/Crop/tile+2.tiff"]
    records = []
    for i, key in enumerate(keys):
        body = json.loads(template["body"])
        body["detail"]["object"].update(key=key, **{"version-id": f"v{i}"})
        records.append({**template, "messageId": f"m{i}", "body": json.dumps(body)})
    with moto.mock_aws(config={"batch": {"use_docker": False}}):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=DATA)
        queue = make_batch_queue(boto3.client("batch", region_name=REGION), boto3.client("iam", region_name=REGION),
                                 boto3.client("ec2", region_name=REGION))
        for name, value in (("DATA_BUCKET", DATA), ("JOB_QUEUE", queue.queue_arn),
                            ("JOB_DEFINITION", queue.job_definition_arn)):
            monkeypatch.setenv(name, value)
        assert handler({"Records": records}, FakeLambdaContext()) == {"batchItemFailures": []}
        [listed] = s3.list_objects_v2(Bucket=DATA, Prefix=layout.BATCHES_PREFIX)["Contents"]
        doc = BatchDoc.from_json(s3.get_object(Bucket=DATA, Key=listed["Key"])["Body"].read())
    assert [u.key for u in doc.items] == ["incoming/geo/Crop/tile 1.tif", "incoming/geo/Crop/T33UUP.TIFF",
                                          "incoming/geo/Crop/tile 2.tiff"]
