"""MXNet 1.9.1 itself reads what `satrec convert` writes: MXIndexedRecordIO and ImageRecordIter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from satrec import recordio
from satrec.cli import main
from satrec.imaging import ImageSettings, normalise
from tests.convert_corpus import class_tree

mx = pytest.importorskip("mxnet")
pytestmark = pytest.mark.mxnet

SIZE = 16


def lst_lines(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("mxread")
    src = base / "tiles"
    class_tree(src, {"crop": 7, "forest": 6, "water": 5}, size=SIZE + 8)
    dst = base / "out"
    assert main(["convert", str(src), str(dst), "--resize", str(SIZE), "--train-ratio", "1", "--shards", "2",
                 "--num-workers", "2"]) == 0
    return src, dst


def test_mx_indexed_recordio_reads_every_record_with_the_expected_bytes(converted):
    src, dst = converted
    settings = ImageSettings(resize=SIZE)
    seen = 0
    for shard in range(2):
        base = f"tiles-train-{shard:05d}"
        reader = mx.recordio.MXIndexedRecordIO(str(dst / "meta" / f"{base}.idx"),
                                               str(dst / "train" / f"{base}.rec"), "r")
        for key, label, rel in lst_lines(dst / "meta" / f"{base}.lst"):
            header, image = mx.recordio.unpack(reader.read_idx(int(key)))
            assert header.id == int(key) and header.flag == 0 and header.label == float(label)
            assert image == normalise((src / rel).read_bytes(), settings).data
            seen += 1
        reader.close()
    assert seen == 18


@pytest.mark.parametrize("with_index", [False, True])
def test_image_record_iter_yields_every_image_with_its_label(converted, with_index):
    _, dst = converted
    for shard in range(2):
        base = f"tiles-train-{shard:05d}"
        expected = [float(row[1]) for row in lst_lines(dst / "meta" / f"{base}.lst")]
        kwargs = {"path_imgidx": str(dst / "meta" / f"{base}.idx")} if with_index else {}
        it = mx.io.ImageRecordIter(path_imgrec=str(dst / "train" / f"{base}.rec"), data_shape=(3, SIZE, SIZE),
                                   batch_size=1, shuffle=False, preprocess_threads=1, round_batch=False, **kwargs)
        labels = [float(batch.label[0].asnumpy()[0]) for batch in it]
        assert labels == expected


def test_image_record_iter_num_parts_2_covers_every_record_once(converted):
    _, dst = converted
    base = "tiles-train-00000"
    expected = [float(row[1]) for row in lst_lines(dst / "meta" / f"{base}.lst")]
    parts = []
    for part in range(2):
        it = mx.io.ImageRecordIter(path_imgrec=str(dst / "train" / f"{base}.rec"), data_shape=(3, SIZE, SIZE),
                                   batch_size=1, shuffle=False, preprocess_threads=1, round_batch=False,
                                   num_parts=2, part_index=part)
        parts.append([float(batch.label[0].asnumpy()[0]) for batch in it])
    assert all(parts) and parts[0] + parts[1] == expected


def test_image_record_iter_label_width_reads_multi_label_manifest_vectors(tmp_path):
    src = tmp_path / "imgs"
    rels = class_tree(src, {"a": 3, "b": 3}, size=SIZE)
    vectors = {rel: (float(i % 2), float(i % 3 == 0), 0.5 * i) for i, rel in enumerate(rels)}
    (src / "m.csv").write_text("path,cloud,water,score\n" + "".join(
        f"{rel},{v[0]},{v[1]},{v[2]}\n" for rel, v in vectors.items()))
    dst = tmp_path / "out"
    assert main(["convert", str(src / "m.csv"), str(dst), "--train-ratio", "1", "--num-workers", "1"]) == 0
    lst = lst_lines(dst / "meta" / "m-train-00000.lst")
    it = mx.io.ImageRecordIter(path_imgrec=str(dst / "train" / "m-train-00000.rec"), data_shape=(3, SIZE, SIZE),
                               batch_size=1, shuffle=False, preprocess_threads=1, round_batch=False, label_width=3)
    got = [tuple(batch.label[0].asnumpy()[0].tolist()) for batch in it]
    assert got == [vectors[row[-1]] for row in lst]
    with open(dst / "train" / "m-train-00000.rec", "rb") as stream:
        first = next(recordio.iter_records(stream)).payload
    header, _ = mx.recordio.unpack(first)
    assert header.flag == 3
    assert np.allclose(header.label, vectors[lst[0][-1]])
