"""`satrec convert` end to end on tiny corpora: layout, accounting, determinism, exit codes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from satrec import recordio
from satrec.cli import main
from satrec.documents import DatasetDoc
from tests.convert_corpus import BOMB_MAX_PIXELS, class_tree, hostile_corpus


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def load_doc(dst: Path) -> DatasetDoc:
    return DatasetDoc.from_json((dst / "meta/dataset.json").read_text())


def lst_rows(dst: Path) -> list[list[str]]:
    rows = []
    for lst in sorted((dst / "meta").glob("*.lst")):
        rows += [line.split("\t") for line in lst.read_text().splitlines()]
    return rows


@pytest.fixture
def small_tree(tmp_path: Path) -> Path:
    src = tmp_path / "eurosat"
    class_tree(src, {"Forest": 12, "River": 10, "Highway": 8})
    return src


def test_folder_converts_to_sagemaker_layout_with_meta_side_files(small_tree, tmp_path, capsys):
    dst = tmp_path / "out"
    assert main(["convert", str(small_tree), str(dst), "--num-workers", "1"]) == 0
    files = set(tree_bytes(dst))
    assert "train/eurosat-train-00000.rec" in files
    assert "validation/eurosat-validation-00000.rec" in files
    # A channel prefix holds RecordIO only; everything else lives under meta/.
    assert {f.split("/")[0] for f in files} == {"train", "validation", "meta"}
    assert all(f.endswith(".rec") for f in files if not f.startswith("meta/"))
    for base in ("eurosat-train-00000", "eurosat-validation-00000"):
        assert {f"meta/{base}.idx", f"meta/{base}.lst"} <= files
    assert json.loads((dst / "meta/classes.json").read_text()) == {"Forest": 0, "Highway": 1, "River": 2}
    doc = load_doc(dst)
    assert doc.inputs == {"total": 30, "packed": 30, "rejected": 0, "skipped": 0}
    assert doc.records("train") + doc.records("validation") == 30
    assert sum(doc.splits["train"].per_class.values()) == doc.records("train")
    for info in doc.splits.values():
        for shard in info.shards:
            data = (dst / shard.rec).read_bytes()
            assert shard.bytes == len(data) and shard.sha256 == hashlib.sha256(data).hexdigest()
            assert recordio.count_records(dst / shard.rec) == shard.records
    assert (dst / "meta/rejects.jsonl").read_text() == ""
    assert "packed 30 of 30" in capsys.readouterr().out


def test_records_carry_class_label_key_and_lst_counts_only_packed_images(small_tree, tmp_path):
    (small_tree / "River" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    dst = tmp_path / "out"
    assert main(["convert", str(small_tree), str(dst), "--num-workers", "1"]) == 2
    rows = lst_rows(dst)
    assert len(rows) == 30 and not any(r[2] == "River/broken.jpg" for r in rows)
    classes = json.loads((dst / "meta/classes.json").read_text())
    for split in ("train", "validation"):
        rec = dst / split / f"eurosat-{split}-00000.rec"
        lst = dst / "meta" / f"eurosat-{split}-00000.lst"
        idx = recordio.parse_index((dst / "meta" / f"eurosat-{split}-00000.idx").read_text())
        with open(rec, "rb") as stream:
            records = list(recordio.iter_records(stream))
        lines = [line.split("\t") for line in lst.read_text().splitlines()]
        assert len(records) == len(lines) == len(idx)
        for record, line, (key, offset) in zip(records, lines, idx, strict=True):
            header, _ = recordio.unpack_image_record(record.payload)
            assert record.offset == offset and str(header.id) == key == line[0]
            assert header.label == float(line[1]) == classes[line[2].split("/")[0]]
    doc = load_doc(dst)
    assert doc.inputs["rejected"] == 1 and doc.rejects_by_reason
    assert doc.records("train") + doc.records("validation") == 30


def test_hostile_corpus_converts_and_every_file_is_accounted_for_once(tmp_path):
    src = tmp_path / "hostile"
    expected = hostile_corpus(src, tmp_path / "outside")
    dst = tmp_path / "out"
    code = main(["convert", str(src), str(dst), "--max-pixels", str(BOMB_MAX_PIXELS), "--num-workers", "2",
                 "--json"])
    assert code == 2
    packed = [row[-1] for row in lst_rows(dst)]
    rejects = [json.loads(line) for line in (dst / "meta/rejects.jsonl").read_text().splitlines()]
    assert sorted(packed) == sorted(expected.packed)           # each packed once, nothing extra
    assert len(rejects) == len({r["path"] for r in rejects}) == len(expected.rejected)
    for reject in rejects:
        assert reject["reason"] in expected.rejected[reject["path"]].split("|"), reject
    doc = load_doc(dst)
    assert doc.inputs == {"total": expected.total, "packed": len(expected.packed),
                          "rejected": len(expected.rejected), "skipped": expected.skipped}
    assert doc.image is not None and doc.image.max_width == 1200 and doc.image.min_height == 1


def test_same_output_bytes_for_one_and_two_workers(small_tree, tmp_path):
    outs = []
    for workers in ("1", "2"):
        dst = tmp_path / f"out{workers}"
        assert main(["convert", str(small_tree), str(dst), "--num-workers", workers, "--resize", "16",
                     "--shards", "2", "--train-ratio", "0.6", "--test-ratio", "0.2"]) == 0
        outs.append(tree_bytes(dst))
    assert outs[0] == outs[1]
    assert sum(1 for f in outs[0] if f.endswith(".rec")) == 6


@pytest.mark.parametrize("workers", ["2", "3"])
def test_pass_through_of_a_hostile_corpus_gives_the_same_bytes_with_the_main_process_packing_too(tmp_path, workers):
    # Pass-through runs N-1 worker processes and packs in the main process as well; records,
    # index, lists and rejects must still be exactly those of a single process.
    src = tmp_path / "hostile"
    hostile_corpus(src, tmp_path / "outside")
    class_tree(src, {"Forest": 40, "River": 30})   # enough images for batches on both sides
    outs = []
    for n in ("1", workers):
        dst = tmp_path / f"out{n}"
        assert main(["convert", str(src), str(dst), "--pass-through", "--max-pixels", str(BOMB_MAX_PIXELS),
                     "--num-workers", n, "--train-ratio", "0.7"]) == 2
        outs.append(tree_bytes(dst))
    assert outs[0] == outs[1]


def test_split_of_existing_files_is_stable_when_the_dataset_grows(small_tree, tmp_path):
    def splits(dst: Path) -> dict[str, str]:
        out = {}
        for lst in (dst / "meta").glob("*.lst"):
            split = lst.name.split("-")[-2]
            out.update({line.split("\t")[-1]: split for line in lst.read_text().splitlines()})
        return out

    assert main(["convert", str(small_tree), str(tmp_path / "a"), "--num-workers", "1"]) == 0
    class_tree(small_tree, {"Forest": 20, "Lake": 5})
    assert main(["convert", str(small_tree), str(tmp_path / "b"), "--num-workers", "1"]) == 0
    before, after = splits(tmp_path / "a"), splits(tmp_path / "b")
    assert len(after) == 43     # 8 more Forest, 5 Lake
    assert {k: after[k] for k in before} == before


def test_records_of_classes_are_shuffled_together_within_a_shard(small_tree, tmp_path):
    dst = tmp_path / "out"
    assert main(["convert", str(small_tree), str(dst), "--train-ratio", "1", "--num-workers", "1"]) == 0
    labels = [row[1] for row in lst_rows(dst)]
    assert labels != sorted(labels)
    assert main(["convert", str(small_tree), str(tmp_path / "ordered"), "--train-ratio", "1", "--no-shuffle",
                 "--num-workers", "1"]) == 0
    paths = [row[-1] for row in lst_rows(tmp_path / "ordered")]
    assert paths == sorted(paths)    # input (walk) order kept


def test_shard_size_cuts_shards_below_the_limit(small_tree, tmp_path):
    dst = tmp_path / "out"
    assert main(["convert", str(small_tree), str(dst), "--train-ratio", "1", "--shard-size", "0.004",
                 "--num-workers", "1"]) == 0
    doc = load_doc(dst)
    shards = doc.splits["train"].shards
    assert len(shards) > 2
    assert all(s.bytes <= 4000 for s in shards)
    assert sum(s.records for s in shards) == 30
    assert [s.rec for s in shards] == [f"train/eurosat-train-{i:05d}.rec" for i in range(len(shards))]


def test_rerun_with_fewer_shards_removes_stale_shards_of_the_same_name(small_tree, tmp_path, capsys):
    dst = tmp_path / "out"
    assert main(["convert", str(small_tree), str(dst), "--shards", "4", "--num-workers", "1"]) == 0
    (dst / "train" / "other-train-00000.rec").write_bytes(b"")     # another dataset's file: left alone
    assert main(["convert", str(small_tree), str(dst), "--shards", "1", "--num-workers", "1"]) == 0
    files = set(tree_bytes(dst))
    assert "train/eurosat-train-00001.rec" not in files and "meta/eurosat-train-00003.idx" not in files
    assert "train/other-train-00000.rec" in files
    assert not any(".satrec-tmp-" in f for f in files)
    assert "channel folders (train/other-train-00000.rec)" in capsys.readouterr().out


def test_stratify_gives_exact_per_class_ratios(tmp_path):
    src = tmp_path / "s"
    class_tree(src, {"a": 10, "b": 20})
    dst = tmp_path / "out"
    assert main(["convert", str(src), str(dst), "--stratify", "--train-ratio", "0.7", "--num-workers", "1"]) == 0
    doc = load_doc(dst)
    assert doc.splits["train"].per_class == {"a": 7, "b": 14}
    assert doc.splits["validation"].per_class == {"a": 3, "b": 6}


def test_val_ratio_alone_gives_train_the_rest(small_tree, tmp_path):
    dst = tmp_path / "out"
    assert main(["convert", str(small_tree), str(dst), "--val-ratio", "0.5", "--num-workers", "1"]) == 0
    assert load_doc(dst).settings["ratios"] == {"train": 0.5, "validation": 0.5, "test": 0.0}


def test_fail_on_reject_holds_back_dataset_json_and_exits_2(small_tree, tmp_path):
    (small_tree / "Forest" / "zero.jpg").write_bytes(b"")
    dst = tmp_path / "out"
    assert main(["convert", str(small_tree), str(dst), "--fail-on-reject", "--num-workers", "1"]) == 2
    assert not (dst / "meta/dataset.json").exists()
    assert json.loads((dst / "meta/rejects.jsonl").read_text())["reason"] == "zero_byte"


def test_json_summary_on_stdout_is_machine_readable(small_tree, tmp_path, capsys):
    argv = ["convert", str(small_tree), str(tmp_path / "o"), "--json", "--name", "euro", "--num-workers", "1"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["name"] == "euro" and summary["exit_code"] == 0 and summary["inputs"]["packed"] == 30
    assert summary["splits"]["train"]["shards"] == ["train/euro-train-00000.rec"]
    assert "packed 30 of 30" in captured.err and summary["warnings"] == []


def test_an_empty_split_and_a_single_class_are_warned_about(tmp_path, capsys):
    src = tmp_path / "few"
    class_tree(src, {"a": 1})      # one image: one of train/validation must be empty
    assert main(["convert", str(src), str(tmp_path / "o"), "--num-workers", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    empty = [k for k, v in summary["splits"].items() if v["records"] == 0]
    assert len(empty) == 1
    assert summary["warnings"] == [
        f"the {empty[0]} split is empty: add images or change the ratios (SageMaker fails on empty channels)",
        "only 1 class: a classifier needs at least 2"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--train-ratio", "0.9", "--test-ratio", "0.3"], "more than 1"),
    (["--shards", "2", "--shard-size", "5"], "not both"),
    (["--name", "bad name"], "--name"),
    (["--quality", "0"], "--quality"),
    (["--color", "0"], "--color"),
])
def test_bad_options_are_one_line_fatal_errors(small_tree, tmp_path, capsys, argv, message):
    assert main(["convert", str(small_tree), str(tmp_path / "o"), *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_im2rec_option_spellings_are_accepted(small_tree, tmp_path):
    assert main(["convert", str(small_tree), str(tmp_path / "o"), "--recursive", "--num-thread", "1", "--color", "1",
                 "--encoding", ".png", "--quality", "3", "--exts", ".JPG"]) == 0
    rec = next((tmp_path / "o" / "train").glob("*.rec"))
    with open(rec, "rb") as stream:
        _, image = recordio.unpack_image_record(next(recordio.iter_records(stream)).payload)
    assert image.startswith(b"\x89PNG")


def test_missing_source_and_unwritable_destination_are_fatal(small_tree, tmp_path, capsys):
    assert main(["convert", str(tmp_path / "nope"), str(tmp_path / "o")]) == 1
    assert "does not exist" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["convert", str(small_tree), str(blocker)]) == 1
    assert "not a folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["convert", str(empty), str(tmp_path / "o2")]) == 1
    assert "found no input images" in capsys.readouterr().err


def test_csv_manifest_with_class_names_and_multi_hot_labels(tmp_path):
    src = tmp_path / "imgs"
    rels = class_tree(src, {"x": 4, "y": 4})
    (src / "single.csv").write_text("path,label\n" + "".join(f"{r},{r.split('/')[0]}\n" for r in rels))
    (src / "multi.csv").write_text("path,labels\n" + "".join(
        f"{r},{'water;cloud' if i % 2 else 'cloud'}\n" for i, r in enumerate(rels)) + "x/missing.jpg,cloud\n")
    assert main(["convert", str(src / "single.csv"), str(tmp_path / "s"), "--num-workers", "1"]) == 0
    assert load_doc(tmp_path / "s").classes == ["x", "y"]
    assert main(["convert", str(src / "multi.csv"), str(tmp_path / "m"), "--num-workers", "1",
                 "--train-ratio", "1"]) == 2
    doc = load_doc(tmp_path / "m")
    assert doc.classes == ["cloud", "water"] and doc.label_width == 2
    assert doc.rejects_by_reason == {"missing": 1}
    with open(tmp_path / "m" / doc.splits["train"].shards[0].rec, "rb") as stream:
        labels = {recordio.unpack_image_record(r.payload)[0].labels for r in recordio.iter_records(stream)}
    assert labels == {(1.0, 0.0), (1.0, 1.0)}
