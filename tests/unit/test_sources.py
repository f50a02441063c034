"""Input enumeration: class-per-folder trees, im2rec lists, CSV manifests, and what is refused early."""

from __future__ import annotations

from pathlib import Path

import pytest

from satrec.errors import ImageRejected, SourceError, UsageError
from satrec.sources import (
    IM2REC_EXTS,
    bad_name_reason,
    load_input,
    normalise_exts,
    open_source,
    read_csv_manifest,
    read_local,
    read_lst,
    scan_folder,
    walk_order,
)


def touch(root: Path, rel: str, data: bytes = b"img") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_folder_classes_are_sorted_top_level_names_and_nested_files_belong_to_them(tmp_path):
    for rel in ("b/2.jpg", "b/1.jpg", "a/x/deep.png", "a/top.JPG", "c/readme.txt"):
        touch(tmp_path, rel)
    source = scan_folder(tmp_path)
    assert source.classes == ["a", "b"]          # "c" holds no image: not a class (as im2rec)
    assert [(it.relpath, it.labels, it.index) for it in source.items] == [
        ("a/top.JPG", (0.0,), 0), ("a/x/deep.png", (0.0,), 1), ("b/1.jpg", (1.0,), 2), ("b/2.jpg", (1.0,), 3)]
    assert source.skipped == {"extension": 1}
    assert source.total == 5


def test_walk_order_key_matches_the_folder_walk(tmp_path):
    for rel in ("a/z.jpg", "a/sub/x.jpg", "a/b.jpg", "b/1.jpg", "a/sub/deeper/y.jpg", "a/sub2/w.jpg"):
        touch(tmp_path, rel)
    walked = [it.relpath for it in scan_folder(tmp_path).items]
    assert walked == sorted(walked, key=walk_order)
    assert walked == ["a/b.jpg", "a/z.jpg", "a/sub/x.jpg", "a/sub/deeper/y.jpg", "a/sub2/w.jpg", "b/1.jpg"]


def test_hidden_files_and_macosx_are_skipped_not_rejected(tmp_path):
    for rel in ("a/ok.jpg", "a/.hidden.jpg", ".trash/a/x.jpg", "__MACOSX/a/._ok.jpg"):
        touch(tmp_path, rel)
    source = scan_folder(tmp_path)
    assert [it.relpath for it in source.items] == ["a/ok.jpg"]
    assert source.skipped == {"hidden": 2, "macosx": 1} and not source.rejects


@pytest.mark.parametrize(("name", "fragment"), [
    ("tab\there.jpg", "tab"), ("line\nbreak.jpg", "line break"), ("cr\rhere.jpg", "line break"),
    ("nul\x01.jpg", "U+0001"), ("del\x7f.jpg", "U+007F"), ("bad\udcff.jpg", "UTF-8"),
])
def test_names_that_break_lst_lines_or_keys_are_rejected_with_a_reason(name, fragment):
    reason = bad_name_reason(f"cls/{name}")
    assert reason is not None and fragment in reason


@pytest.mark.parametrize("name", ["ünïcödé 猫.jpg", "with space.jpg", "-leading-dash.jpg", "a'quote\".jpg"])
def test_unusual_but_safe_names_are_accepted(name):
    assert bad_name_reason(f"cls/{name}") is None


def test_symlinks_leaving_the_root_are_rejected_and_inside_ones_kept(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    touch(outside, "secret.jpg")
    touch(root, "a/ok.jpg")
    (root / "a" / "out.jpg").symlink_to(outside / "secret.jpg")
    (root / "a" / "in.jpg").symlink_to(root / "a" / "ok.jpg")
    (root / "a" / "broken.jpg").symlink_to(root / "a" / "nothing.jpg")
    source = scan_folder(root)
    assert [it.relpath for it in source.items] == ["a/in.jpg", "a/ok.jpg"]
    assert {(r.path, r.reason) for r in source.rejects} == {("a/out.jpg", "symlink_outside_root"),
                                                            ("a/broken.jpg", "missing")}


def test_file_directly_in_the_root_is_rejected_as_having_no_class(tmp_path):
    touch(tmp_path, "loose.jpg")
    touch(tmp_path, "a/ok.jpg")
    source = scan_folder(tmp_path)
    assert [(r.path, r.reason) for r in source.rejects] == [("loose.jpg", "no_class")]


def test_lst_index_is_the_record_key_and_paths_resolve_against_root(tmp_path):
    root = tmp_path / "imgs"
    touch(root, "x/a.jpg")
    touch(root, "y/b.jpg")
    lst = tmp_path / "list.lst"
    lst.write_text("17\t1.000000\ty/b.jpg\n3\t0.000000\tx/a.jpg\n9\t0\tx/gone.jpg\nnotanint\t0\tx/a.jpg\n"
                   "5\tnan\tx/a.jpg\nshort line\n4\t0\t../escape.jpg\n")
    touch(tmp_path, "escape.jpg")
    source = read_lst(lst, root=root)
    assert [(it.relpath, it.key, it.labels) for it in source.items] == [("y/b.jpg", 17, (1.0,)),
                                                                       ("x/a.jpg", 3, (0.0,))]
    assert [it.record_key for it in source.items] == [17, 3]
    assert source.classes == ["0", "1"]
    assert [r.reason for r in source.rejects] == ["missing", "bad_line", "bad_label", "bad_line",
                                                  "symlink_outside_root"]


def test_lst_root_defaults_to_the_lists_folder(tmp_path):
    touch(tmp_path, "x/a.jpg")
    (tmp_path / "l.lst").write_text("0\t2\tx/a.jpg\n")
    source = open_source(str(tmp_path / "l.lst"))
    assert source.kind == "lst" and source.items[0].location == str(tmp_path / "x/a.jpg")


def test_csv_numeric_label_columns_form_a_vector_named_by_the_header(tmp_path):
    touch(tmp_path, "a.jpg")
    touch(tmp_path, "b.jpg")
    (tmp_path / "m.csv").write_text("file,cloud,water\na.jpg,1,0\nb.jpg,0.5,1\nb.jpg,x,1\n")
    source = read_csv_manifest(tmp_path / "m.csv")
    assert source.classes == ["cloud", "water"] and source.label_width == 2 and source.multi_label
    assert [it.labels for it in source.items] == [(1.0, 0.0), (0.5, 1.0)]
    assert [r.reason for r in source.rejects] == ["bad_label"]


def test_csv_single_numeric_label_must_be_a_whole_class_id(tmp_path):
    touch(tmp_path, "a.jpg")
    (tmp_path / "m.csv").write_text("path,label\na.jpg,2\na.jpg,-1\na.jpg,1.5\n")
    source = read_csv_manifest(tmp_path / "m.csv")
    assert [it.labels for it in source.items] == [(2.0,)]
    assert source.classes == ["0", "1", "2"] and not source.multi_label
    assert [r.reason for r in source.rejects] == ["bad_label", "bad_label"]


def test_extensions_are_normalised_and_an_empty_list_is_a_usage_error():
    assert normalise_exts(["JPG", ".Png", "jpg"]) == (".jpg", ".png")
    assert IM2REC_EXTS == (".jpeg", ".jpg", ".png")
    with pytest.raises(UsageError):
        normalise_exts([" "])


def test_missing_source_and_unknown_file_kinds_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        open_source(str(tmp_path / "nope"))
    touch(tmp_path, "notes.txt")
    with pytest.raises(SourceError, match="neither"):
        open_source(str(tmp_path / "notes.txt"))


def test_reading_an_input_rejects_empty_and_missing_files(tmp_path):
    assert load_input(str(touch(tmp_path, "ok.jpg", b"abc"))) == b"abc"
    with pytest.raises(ImageRejected) as empty:
        load_input(str(touch(tmp_path, "zero.jpg", b"")))
    assert empty.value.reason == "zero_byte"
    with pytest.raises(ImageRejected) as gone:
        load_input(str(tmp_path / "gone.jpg"))
    assert gone.value.reason == "missing"


def test_reading_a_directory_is_unreadable_and_an_oversized_file_is_too_large(tmp_path):
    with pytest.raises(ImageRejected) as folder:
        load_input(str(tmp_path))
    assert folder.value.reason == "unreadable"
    with pytest.raises(ImageRejected) as big:
        read_local(str(touch(tmp_path, "big.jpg", b"x" * 100)), max_bytes=99)
    assert big.value.reason == "record_too_large"


@pytest.mark.parametrize("size", [0, 1, 65_535, 65_536, 65_537, 3 * 65_536 + 5])
def test_files_are_read_whole_whatever_their_size_around_one_read(tmp_path, size):
    content = bytes(i % 251 for i in range(size))
    path = str(touch(tmp_path, "img.jpg", content))
    if size == 0:
        with pytest.raises(ImageRejected) as empty:
            read_local(path)
        assert empty.value.reason == "zero_byte"
    else:
        assert read_local(path) == content


def test_a_file_over_the_limit_is_refused_before_it_is_read_whole(tmp_path):
    with pytest.raises(ImageRejected) as big:
        read_local(str(touch(tmp_path, "big.jpg", b"x" * 200_000)), max_bytes=100_000)
    assert big.value.reason == "record_too_large" and "200000 bytes" in big.value.detail


def test_a_pluggable_loader_reads_inputs_by_module_and_function_name():
    data = load_input("hello", "tests.unit.test_sources:_echo_loader")
    assert data == b"loaded:hello"


def _echo_loader(location: str) -> bytes:
    return f"loaded:{location}".encode()
