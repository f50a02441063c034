"""``satrec verify``: every kind of damage is found and named; clean datasets pass."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from satrec import layout
from satrec.cli import main
from satrec.errors import SourceError
from satrec.verify import parse_lst_line, verify_dataset, verify_path
from tests.unit.recfixture import build_dataset, jpeg

TRAIN_REC = layout.rec_path("ds", "train", 0)
TRAIN_IDX = layout.idx_path("ds", "train", 0)
TRAIN_LST = layout.lst_path("ds", "train", 0)


def codes(report) -> set[str]:
    return set(report.problem_codes)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    build_dataset(tmp_path / "ds")
    return tmp_path / "ds"


def test_a_clean_dataset_passes_and_every_image_is_checked(dataset):
    report = verify_dataset(dataset)
    assert report.ok, [str(p) for p in report.problems]
    assert report.records == 9
    assert sum(s.images_checked for s in report.shards) == 9
    assert {s.split for s in report.shards} == {"train", "validation"}


def test_cli_exits_0_on_a_clean_dataset_and_prints_ok(dataset, capsys):
    assert main(["verify", str(dataset)]) == 0
    assert "OK: 9 records in 2 shard(s)" in capsys.readouterr().out


def test_a_truncated_rec_is_a_framing_error_with_size_and_checksum_mismatch(dataset, capsys):
    rec = dataset / TRAIN_REC
    rec.write_bytes(rec.read_bytes()[:-50])
    report = verify_dataset(dataset)
    assert {"framing", "size_mismatch", "record_count"} <= codes(report)
    assert main(["verify", str(dataset)]) == 2
    assert "framing" in capsys.readouterr().out


def test_changed_bytes_of_the_same_length_fail_the_sha256(dataset):
    rec = dataset / TRAIN_REC
    data = bytearray(rec.read_bytes())
    data[40] ^= 0x01    # inside the first JPEG's header area, framing untouched
    rec.write_bytes(bytes(data))
    assert "sha256_mismatch" in codes(verify_dataset(dataset))


def test_an_image_that_does_not_decode_is_named_by_its_record_key(tmp_path):
    bad = jpeg(seed=1)[:-80]
    build_dataset(tmp_path, per_split={"train": [((0.0,), jpeg()), ((1.0,), bad)]})
    report = verify_dataset(tmp_path)
    assert codes(report) == {"image"}
    assert report.problems[0].where == f"{TRAIN_REC}#1"
    assert "truncated" in report.problems[0].detail


def test_records_that_are_not_jpeg_or_png_are_flagged(tmp_path):
    build_dataset(tmp_path, per_split={"train": [((0.0,), jpeg(fmt="GIF"))]})
    assert codes(verify_dataset(tmp_path)) == {"image_format"}


@pytest.mark.parametrize(("label", "code"), [(3.0, "label_range"), (-1.0, "label_range"), (1.5, "label_not_integer")])
def test_labels_outside_the_classes_are_found(tmp_path, label, code):
    build_dataset(tmp_path, per_split={"train": [((0.0,), jpeg()), ((label,), jpeg(seed=2))]})
    assert code in codes(verify_dataset(tmp_path))


def test_a_wrong_index_offset_is_found(dataset):
    idx = dataset / TRAIN_IDX
    lines = idx.read_text().splitlines()
    key, offset = lines[2].split("\t")
    lines[2] = f"{key}\t{int(offset) + 4}"
    idx.write_text("\n".join(lines) + "\n")
    report = verify_dataset(dataset)
    assert codes(report) == {"index_offset"}
    assert "key 2" in report.problems[0].detail


def test_a_missing_index_line_is_found(dataset):
    idx = dataset / TRAIN_IDX
    idx.write_text("".join(idx.read_text().splitlines(keepends=True)[:-1]))
    assert {"index_count", "index_offset"} <= codes(verify_dataset(dataset))


def test_list_lines_that_disagree_with_records_are_found(dataset):
    lst = dataset / TRAIN_LST
    lines = lst.read_text().splitlines(keepends=True)
    key, _label, path = lines[0].rstrip("\n").split("\t")
    lines[0] = f"{key}\t2.000000\t{path}\n"
    lst.write_text("".join(lines[:-1]))
    assert {"list_labels", "list_count", "list_key"} <= codes(verify_dataset(dataset))


def test_dataset_json_counts_that_disagree_with_the_files_are_found(dataset):
    doc_path = dataset / layout.meta_path(layout.DATASET_JSON)
    doc = json.loads(doc_path.read_text())
    doc["splits"]["train"]["records"] = 7
    doc["splits"]["train"]["per_class"]["forest"] = 5
    doc_path.write_text(json.dumps(doc))
    assert {"split_count", "class_count"} <= codes(verify_dataset(dataset))


def test_stray_files_in_a_channel_folder_are_found(dataset):
    (dataset / "train" / "notes.txt").write_text("SageMaker would stream me")
    shutil.copy(dataset / TRAIN_IDX, dataset / "train" / "ds-train-00000.idx")
    report = verify_dataset(dataset)
    assert codes(report) == {"stray_file"} and report.problem_count == 2


def test_classes_json_that_disagrees_with_dataset_json_is_found(dataset):
    (dataset / layout.meta_path(layout.CLASSES_JSON)).write_text(json.dumps({"forest": 0, "river": 1}))
    assert codes(verify_dataset(dataset)) == {"classes_json"}


def test_missing_side_files_are_found(dataset):
    (dataset / TRAIN_LST).unlink()
    assert "missing_file" in codes(verify_dataset(dataset))


def test_min_size_flags_every_smaller_image(dataset):
    report = verify_dataset(dataset, min_size=30)   # the images are 32x24
    assert codes(report) == {"too_small"} and report.problem_count == 9
    assert verify_dataset(dataset, min_size=30, decode=False).problem_count == 9


def test_a_header_id_that_differs_from_the_index_key_is_found(dataset):
    idx = dataset / TRAIN_IDX
    idx.write_text(idx.read_text().replace("0\t0\n", "100\t0\n", 1))
    lst = dataset / TRAIN_LST
    lst.write_text(lst.read_text().replace("0\t", "100\t", 1))
    assert codes(verify_dataset(dataset)) == {"header_id"}


def test_problem_list_is_capped_but_every_problem_is_counted(tmp_path, capsys):
    build_dataset(tmp_path / "d", per_split={"train": [((9.0,), jpeg(seed=i)) for i in range(30)]})
    report = verify_dataset(tmp_path / "d", max_problems=5)
    assert len(report.problems) == 5 and report.problem_count >= 30
    assert main(["verify", str(tmp_path / "d"), "--max-problems", "3"]) == 2
    out = capsys.readouterr().out
    assert out.count("label_range") >= 3 and "more problem(s)" in out


def test_json_report_is_machine_readable(dataset, capsys):
    (dataset / TRAIN_REC).write_bytes((dataset / TRAIN_REC).read_bytes()[:-7])
    assert main(["verify", str(dataset), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["problems_by_code"]["framing"] == 1
    assert {p["code"] for p in report["problems"]} >= {"framing"}


def test_one_rec_in_satrec_layout_uses_its_meta_files_and_dataset_json(dataset):
    report = verify_path(dataset / TRAIN_REC)
    assert report.ok and report.records == 6
    doc_path = dataset / layout.meta_path(layout.DATASET_JSON)
    doc = json.loads(doc_path.read_text())
    doc["splits"]["train"]["shards"][0]["records"] = 5
    doc_path.write_text(json.dumps(doc))
    assert "record_count" in codes(verify_path(dataset / TRAIN_REC))


def test_one_rec_in_im2rec_layout_with_side_files_beside_it(dataset, tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    for rel in (TRAIN_REC, TRAIN_IDX, TRAIN_LST):
        shutil.copy(dataset / rel, flat / Path(rel).name)
    assert main(["verify", str(flat / "ds-train-00000.rec"), "--num-classes", "3"]) == 0
    assert main(["verify", str(flat / "ds-train-00000.rec"), "--num-classes", "2"]) == 2
    assert "label_range" in capsys.readouterr().out


def test_an_unusable_path_is_a_fatal_one_line_error(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nope")]) == 1
    assert main(["verify", str(tmp_path)]) == 1      # a folder without meta/dataset.json
    err = capsys.readouterr().err
    assert "does not exist" in err and "dataset.json" in err and "Traceback" not in err
    with pytest.raises(SourceError):
        verify_path(tmp_path / "x.txt") if (tmp_path / "x.txt").write_text("x") else None


def test_an_unreadable_dataset_json_is_a_problem_not_a_crash(dataset):
    (dataset / layout.meta_path(layout.DATASET_JSON)).write_text("{not json")
    assert codes(verify_dataset(dataset)) == {"dataset_json"}


def test_multi_label_records_are_checked_label_by_label(tmp_path):
    items = [((0.0, 2.0), jpeg()), ((1.0, 3.0), jpeg(seed=3))]
    build_dataset(tmp_path, per_split={"train": items}, label_width=2)
    report = verify_dataset(tmp_path)
    assert codes(report) == {"label_range"} and report.problems[0].where.endswith("#1")


def test_lst_lines_parse_like_im2rec():
    assert parse_lst_line("7\t1.000000\t2.000000\tforest/a b.jpg\n") == ("7", (1.0, 2.0), "forest/a b.jpg")
    with pytest.raises(ValueError):
        parse_lst_line("7\tforest/a.jpg\n")


def test_records_with_the_wrong_number_of_labels_are_found(tmp_path):
    build_dataset(tmp_path, per_split={"train": [((0.0,), jpeg()), ((0.0, 1.0), jpeg(seed=2))]})
    report = verify_dataset(tmp_path)
    assert "label_width" in codes(report) and report.problems[0].where.endswith("#1")


def test_a_shard_listed_under_another_split_is_found(dataset):
    doc_path = dataset / layout.meta_path(layout.DATASET_JSON)
    doc = json.loads(doc_path.read_text())
    doc["splits"]["train"]["shards"][0]["split"] = "validation"
    doc_path.write_text(json.dumps(doc))
    assert "split_mismatch" in codes(verify_dataset(dataset))


def test_a_rec_that_dataset_json_does_not_list_is_flagged(dataset):
    extra = dataset / "train" / "other.rec"
    shutil.copy(dataset / TRAIN_REC, extra)
    assert "unlisted_shard" in codes(verify_path(extra))
    assert "stray_file" in codes(verify_dataset(dataset))


def test_an_unparseable_index_or_list_is_reported(dataset):
    (dataset / TRAIN_IDX).write_text("0\t0\nnot an index line\n")
    (dataset / TRAIN_LST).write_text("0\tforest.jpg\n")
    assert {"index_parse", "list_parse", "list_count"} <= codes(verify_dataset(dataset))


def test_a_record_too_short_for_an_image_header_is_reported(tmp_path):
    from satrec import recordio

    rec = tmp_path / "x.rec"
    with open(rec, "wb") as f:
        recordio.RecordWriter(f).write(b"tiny")
    assert codes(verify_path(rec)) == {"header"}


def test_a_caller_can_check_a_shard_against_its_plan(dataset):
    from satrec.documents import ShardInfo
    from satrec.verify import verify_rec

    plan = ShardInfo("train", TRAIN_REC, TRAIN_IDX, TRAIN_LST, 7, 1, "0" * 64)
    report = verify_rec(dataset / TRAIN_REC, expected=plan, num_classes=3, label_width=1)
    assert {"record_count", "size_mismatch"} <= codes(report) and "unlisted_shard" not in codes(report)
