"""A dataset written by ``satrec convert`` verifies clean, and verify catches damage done to it afterwards."""

from __future__ import annotations

from pathlib import Path

from satrec import layout
from satrec.cli import main
from satrec.documents import DatasetDoc
from satrec.verify import verify_dataset
from tests.unit.recfixture import jpeg


def make_source(root: Path) -> None:
    for c, cls in enumerate(("crops", "forest", "water")):
        folder = root / cls
        folder.mkdir(parents=True)
        for i in range(5):
            (folder / f"img {i}.jpg").write_bytes(jpeg(48, 40, seed=c * 10 + i))
    (root / "water" / "broken.jpg").write_bytes(b"not an image")


def test_a_converted_dataset_verifies_clean_and_damage_is_then_found(tmp_path, capsys):
    make_source(tmp_path / "src")
    dst = tmp_path / "out"
    assert main(["convert", str(tmp_path / "src"), str(dst), "--resize", "32", "--num-workers", "1"]) == 2
    report = verify_dataset(dst, min_size=32)
    assert report.ok, [str(p) for p in report.problems]
    doc = DatasetDoc.from_json((dst / layout.meta_path(layout.DATASET_JSON)).read_text())
    assert report.records == sum(doc.records(s) for s in doc.splits) == 15
    assert main(["verify", str(dst), "--min-size", "32"]) == 0
    shard = doc.splits["train"].shards[0]
    (dst / shard.rec).write_bytes((dst / shard.rec).read_bytes()[:-10])
    assert not verify_dataset(dst).ok
    capsys.readouterr()
