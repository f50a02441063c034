"""satrec sample-data: deterministic, EuroSAT-shaped, and genuinely different per class."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from satrec.cli import main
from satrec.errors import DestinationError, UsageError
from satrec.sample_data import CLASSES, generate, render_chip


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.jpg"))}


def test_writes_the_ten_eurosat_classes_as_folders_of_named_jpeg_chips(tmp_path):
    summary = generate(tmp_path / "s", count=2, size=32, seed=1)
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted(CLASSES)
    assert summary.images == 20
    for name in CLASSES:
        files = sorted(p.name for p in (tmp_path / "s" / name).iterdir())
        assert files == [f"{name}_1.jpg", f"{name}_2.jpg"]
        with Image.open(tmp_path / "s" / name / files[0]) as im:
            assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (32, 32))


def test_the_same_seed_gives_byte_identical_files(tmp_path):
    generate(tmp_path / "a", count=2, size=32, seed=7)
    generate(tmp_path / "b", count=2, size=32, seed=7)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")


def test_another_seed_gives_other_images(tmp_path):
    generate(tmp_path / "a", count=1, size=32, seed=1)
    generate(tmp_path / "b", count=1, size=32, seed=2)
    assert set(_digests(tmp_path / "a").values()).isdisjoint(_digests(tmp_path / "b").values())


def test_growing_count_keeps_the_images_already_there(tmp_path):
    generate(tmp_path / "small", count=2, size=32, seed=3)
    generate(tmp_path / "large", count=4, size=32, seed=3)
    small, large = _digests(tmp_path / "small"), _digests(tmp_path / "large")
    assert all(large[k] == v for k, v in small.items())


def test_images_of_one_class_vary():
    chips = [render_chip("Forest", seed=0, index=i, size=48) for i in range(4)]
    assert len({c.tobytes() for c in chips}) == 4


def test_classes_differ_the_way_the_land_covers_do():
    def mean(name: str) -> np.ndarray:
        return np.mean([render_chip(name, seed=0, index=i).reshape(-1, 3).mean(axis=0) for i in range(12)], axis=0)

    def detail(name: str) -> float:
        # Mean absolute difference between neighbouring pixels: edges and texture, not colour.
        chips = [render_chip(name, seed=0, index=i).astype(float).mean(axis=2) for i in range(12)]
        return float(np.mean([np.abs(np.diff(c, axis=1)).mean() for c in chips]))

    sea, forest, pasture = mean("SeaLake"), mean("Forest"), mean("Pasture")
    assert sea[2] > sea[0] and sea[2] > sea[1]                 # water is blue
    assert forest.sum() < pasture.sum()                        # forest is darker than pasture
    assert forest[1] > forest[0] and forest[1] > forest[2]     # and green
    assert detail("SeaLake") < detail("AnnualCrop")            # water is smooth, fields are striped
    assert detail("Pasture") < detail("Residential")           # towns are busy


def test_a_non_empty_folder_is_refused_unless_overwrite(tmp_path):
    dest = tmp_path / "s"
    generate(dest, count=3, size=32)
    with pytest.raises(DestinationError, match="--overwrite"):
        generate(dest, count=1, size=32)
    generate(dest, count=1, size=32, overwrite=True)
    assert sorted(p.name for p in (dest / "River").iterdir()) == ["River_1.jpg"]   # stale images gone


@pytest.mark.parametrize(("count", "size"), [(0, 64), (1, 8), (1, 5000)])
def test_bad_count_or_size_is_a_usage_error(tmp_path, count, size):
    with pytest.raises(UsageError):
        generate(tmp_path / "s", count=count, size=size)


def test_cli_writes_the_tree_and_reports_it(tmp_path, capsys):
    assert main(["sample-data", str(tmp_path / "s"), "--count", "1", "--size", "32", "--seed", "5"]) == 0
    assert "wrote 10 images" in capsys.readouterr().out
    assert len(list((tmp_path / "s").rglob("*.jpg"))) == 10


def test_cli_refusal_is_one_line_and_exit_code_1(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep.txt").write_text("mine")
    assert main(["sample-data", str(tmp_path / "s"), "--count", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty" in err
    assert (tmp_path / "s" / "keep.txt").read_text() == "mine"
