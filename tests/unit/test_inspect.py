"""``satrec inspect``: records with class names, histograms, contact sheets, and damaged files."""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from satrec import layout, recordio
from satrec.cli import main
from satrec.contact_sheet import draw_contact_sheet
from satrec.histogram import draw_histogram
from satrec.inspection import format_histogram, inspect_rec, label_names
from tests.unit.recfixture import build_dataset, jpeg

TRAIN_REC = layout.rec_path("ds", "train", 0)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    build_dataset(tmp_path / "ds")
    return tmp_path / "ds"


def test_records_are_listed_with_key_labels_class_names_bytes_and_size(dataset, capsys):
    assert main(["inspect", str(dataset / TRAIN_REC)]) == 0
    out = capsys.readouterr().out
    assert "6 records (showing 6)" in out and "dataset.json" in out
    lines = out.splitlines()
    first = next(line for line in lines if line.strip().startswith("0 "))
    assert "0 forest" in first and "32x24" in first
    assert any(line.strip().startswith("5 ") and "2 urban" in line for line in lines)


def test_histogram_counts_every_record_even_beyond_the_limit(dataset):
    result = inspect_rec(dataset / TRAIN_REC, limit=2)
    assert len(result.records) == 2 and result.total_records == 6
    assert result.histogram == Counter({"forest": 2, "river": 2, "urban": 2})


def test_json_output_carries_records_and_histogram(dataset, capsys):
    assert main(["inspect", str(dataset / TRAIN_REC), "--json", "--limit", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_records"] == 6 and len(data["records"]) == 3
    assert data["records"][1] | {"offset": 0} == {
        "position": 1, "offset": 0, "key": 1, "labels": [1.0], "classes": ["river"],
        "bytes": len(jpeg(seed=1)), "width": 32, "height": 24, "format": "JPEG", "error": None}
    assert data["histogram"] == {"forest": 2, "river": 2, "urban": 2}
    assert data["classes"] == ["forest", "river", "urban"]


def test_class_names_come_from_classes_json_beside_an_im2rec_style_rec(dataset, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(dataset / TRAIN_REC, flat / "x.rec")
    assert inspect_rec(flat / "x.rec").classes is None
    (flat / "classes.json").write_text(json.dumps({"a": 0, "b": 1, "c": 2}))
    result = inspect_rec(flat / "x.rec")
    assert result.classes == ["a", "b", "c"] and result.records[0].names == ("a",)


def test_classes_option_overrides_and_accepts_a_list(dataset, tmp_path, capsys):
    names = tmp_path / "names.json"
    names.write_text(json.dumps(["F", "R", "U"]))
    assert main(["inspect", str(dataset / TRAIN_REC), "--classes", str(names), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["histogram"] == {"F": 2, "R": 2, "U": 2}


def test_unknown_labels_show_as_numbers():
    assert label_names((7.0,), ["a", "b"]) == ("7",)
    assert label_names((1.0,), None) == ("1",)
    assert label_names((1.0, 0.0, 1.0), ["a", "b", "c"]) == ("a", "c")      # multi-hot
    assert label_names((0.0, 2.0), ["a", "b", "c"]) == ("a", "c")          # class ids


def test_contact_sheet_shows_thumbnails_with_class_names(dataset, tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    assert main(["inspect", str(dataset / TRAIN_REC), "--sheet", str(sheet), "--thumb", "64"]) == 0
    assert "6 thumbnails" in capsys.readouterr().out
    im = Image.open(sheet)
    assert im.format == "PNG" and im.width > 3 * 64 and im.height > 2 * 64
    # Thumbnails are painted: the sheet holds many more colours than its flat background and text.
    assert len(im.convert("RGB").getcolors(1 << 20)) > 500


def test_a_record_that_does_not_decode_gets_a_marked_cell_instead_of_failing_the_sheet():
    good, bad = jpeg(), b"\xff\xd8\xff\xe0broken"
    sheet = draw_contact_sheet([good, bad], [("forest", "#0"), ("river", "#1")], thumb=64)
    arr = np.asarray(sheet)
    assert (arr[..., 0] > 200).any() and ((arr[..., 0] > 200) & (arr[..., 1] < 120)).any()   # red error text


def test_histogram_png_has_one_bar_per_class(tmp_path, dataset, capsys):
    out = tmp_path / "hist.png"
    assert main(["inspect", str(dataset / TRAIN_REC), "--histogram", str(out)]) == 0
    im = Image.open(out).convert("RGB")
    assert im.size[0] == 720
    blue = np.all(np.asarray(im) == (86, 156, 214), axis=-1)
    rows_with_bars = np.flatnonzero(blue.any(axis=1))
    bands = 1 + int(np.count_nonzero(np.diff(rows_with_bars) > 1))
    assert bands == 3


def test_histogram_bars_are_proportional():
    im = draw_histogram([("big", 10), ("small", 5)], width=600)
    blue = np.all(np.asarray(im) == (86, 156, 214), axis=-1)
    widths = [int(row.sum()) for row in blue if row.any()]
    assert max(widths) == pytest.approx(2 * min(widths), rel=0.05)
    text = format_histogram(Counter({"big": 10, "small": 5}), 15, width=20)
    assert text[0].startswith("big") and "#" * 20 in text[0] and "#" * 10 in text[1] and "(66.7%)" in text[0]


def test_a_damaged_file_shows_what_can_be_read_and_exits_2(dataset, capsys):
    rec = dataset / TRAIN_REC
    rec.write_bytes(rec.read_bytes()[:-30])
    assert main(["inspect", str(rec)]) == 2
    captured = capsys.readouterr()
    assert "5 records" in captured.out and "satrec verify" in captured.err


def test_a_missing_file_is_a_one_line_fatal_error(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "none.rec")]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_multi_label_records_count_each_label(tmp_path):
    rec = tmp_path / "m.rec"
    with open(rec, "wb") as f:
        writer = recordio.RecordWriter(f)
        writer.write(recordio.pack_image_record([0.0, 2.0], jpeg(), id=0))
        writer.write(recordio.pack_image_record([1.0, 2.0], jpeg(seed=2), id=1))
    (tmp_path / "classes.json").write_text(json.dumps({"a": 0, "b": 1, "c": 2}))
    result = inspect_rec(rec)
    assert result.histogram == Counter({"c": 2, "a": 1, "b": 1})


def test_png_records_report_their_format_and_size(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (10, 7), (1, 2, 3)).save(buf, "PNG")
    rec = tmp_path / "p.rec"
    with open(rec, "wb") as f:
        recordio.RecordWriter(f).write(recordio.pack_image_record([0.0], buf.getvalue()))
    info = inspect_rec(rec).records[0]
    assert (info.format, info.width, info.height) == ("PNG", 10, 7)
