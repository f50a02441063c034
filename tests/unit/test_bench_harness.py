"""The benchmark harness measures what it claims to (no timings are asserted: benchmarks are not tests)."""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("PIL")
np = pytest.importorskip("numpy")

from PIL import Image  # noqa: E402

from bench import baseline, corpora, quality, report  # noqa: E402
from bench.proctree import run_tree  # noqa: E402
from bench.tools import Im2rec, Satrec  # noqa: E402
from satrec.recordio import RecordWriter, pack_image_record  # noqa: E402

TINY = corpora.CorpusSpec("tiny", 6, 48)


def test_corpus_images_are_deterministic_jpegs_of_the_requested_size():
    first = [corpora.render(TINY, i, cls) for i, cls, _ in TINY.files()]
    again = [corpora.render(TINY, i, cls) for i, cls, _ in TINY.files()]
    assert first == again
    assert len(set(first)) == len(first)
    for data in first:
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "JPEG"
            assert img.size == (48, 48)
            assert img.mode == "RGB"


def test_corpus_is_class_per_folder_and_reused_from_the_cache(tmp_path):
    folder = corpora.ensure(TINY, tmp_path, workers=1, log=lambda _m: None)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))
    assert files == sorted(rel for _, _, rel in TINY.files())
    assert {Path(f).parent.name for f in files} == set(corpora.CLASSES)
    stamp = (folder / "farmland" / "farmland_00000.jpg").stat().st_mtime_ns
    messages: list[str] = []
    corpora.ensure(TINY, tmp_path, workers=1, log=messages.append)
    assert messages == []
    assert (folder / "farmland" / "farmland_00000.jpg").stat().st_mtime_ns == stamp


def test_corpus_without_its_completion_marker_is_regenerated(tmp_path):
    folder = corpora.ensure(TINY, tmp_path, workers=1, log=lambda _m: None)
    (folder / corpora.MARKER).unlink()
    (folder / "forest" / "forest_00001.jpg").write_bytes(b"half-written")
    corpora.ensure(TINY, tmp_path, workers=1, log=lambda _m: None)
    assert (folder / "forest" / "forest_00001.jpg").read_bytes() == corpora.render(TINY, 1, "forest")


def test_subset_holds_the_first_files_of_the_corpus(tmp_path):
    folder = corpora.ensure(TINY, tmp_path / "c", workers=1, log=lambda _m: None)
    small = corpora.subset(folder, TINY, 2, tmp_path / "small")
    assert sorted(p.name for p in small.rglob("*.jpg")) == ["farmland_00000.jpg", "forest_00001.jpg"]


def test_baseline_writes_every_input_once_in_sorted_order(tmp_path):
    src = tmp_path / "src"
    (src / "b").mkdir(parents=True)
    (src / "a").mkdir()
    (src / "b" / "2.jpg").write_bytes(b"BB")
    (src / "a" / "1.jpg").write_bytes(b"A")
    (src / "a" / "3.jpg").write_bytes(b"CCC")
    (src / ".corpus.json").write_text("{}")
    out = tmp_path / "all.bin"
    assert baseline.concatenate(str(src), str(out)) == (3, 6)
    assert out.read_bytes() == b"ACCCBB"


def test_process_tree_memory_includes_worker_processes(tmp_path):
    # The parent stays small; a child allocates and touches 80 MiB. getrusage(RUSAGE_CHILDREN) from
    # the parent would not even see the grandchild; the tree sampler must.
    code = (
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', "
        "'import time; b = bytearray(80 << 20); time.sleep(0.6)'], check=True)\n"
    )
    res = run_tree([sys.executable, "-c", code], log_dir=tmp_path, interval=0.02)
    assert res.returncode == 0
    assert res.max_processes >= 2
    assert res.peak_process_rss >= 80 << 20
    assert "bytearray" in res.peak_process_cmd
    assert res.peak_tree_rss >= res.peak_process_rss - (8 << 20)
    assert res.sum_process_peaks >= res.peak_process_rss + (1 << 20)  # the small parent counts too


def test_cpu_time_counts_work_done_in_grandchildren(tmp_path):
    code = (
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', "
        "'import time\\nend = time.process_time() + 0.4\\nwhile time.process_time() < end: pass'], check=True)\n"
    )
    res = run_tree([sys.executable, "-c", code], log_dir=tmp_path)
    assert res.returncode == 0
    assert res.cpu_s >= 0.4


def test_psnr_is_infinite_for_equal_images_and_matches_the_formula():
    a = np.zeros((4, 4, 3), np.uint8)
    assert quality.psnr(a, a) == math.inf
    b = a.copy()
    b[...] = 5  # MSE 25
    assert quality.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25))
    with pytest.raises(ValueError):
        quality.psnr(a, np.zeros((2, 2, 3), np.uint8))


def _pack(tmp_path: Path, images: list[tuple[str, bytes]]) -> quality.Packed:
    rec, idx, lst = tmp_path / "d.rec", tmp_path / "d.idx", tmp_path / "d.lst"
    with open(rec, "wb") as r, open(idx, "wb") as i:
        writer = RecordWriter(r, i)
        for key, (_rel, data) in enumerate(images):
            writer.write(pack_image_record([0.0], data, id=key), key=key)
    lst.write_text("".join(f"{k}\t0.000000\t{rel}\n" for k, (rel, _) in enumerate(images)))
    return quality.Packed(rec, idx, lst, tmp_path)


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_quality_finds_each_records_original_and_compares_with_a_lanczos_downscale(tmp_path):
    originals = []
    for n in range(2):
        data = corpora.render(corpora.CorpusSpec("q", 2, 96), n, corpora.CLASSES[n])
        (tmp_path / f"o{n}.jpg").write_bytes(data)
        originals.append(Image.open(io.BytesIO(data)).convert("RGB"))
    exact = [_png(o.resize((32, 32), Image.Resampling.LANCZOS)) for o in originals]
    perfect = quality.evaluate([_pack(tmp_path, [("o0.jpg", exact[0]), ("o1.jpg", exact[1])])])
    assert perfect.images == 2
    assert perfect.mean_psnr == math.inf
    assert perfect.stored_size == "32x32"
    # Swapped records: each stored image is compared with the wrong original, so PSNR collapses.
    swapped = quality.evaluate([_pack(tmp_path, [("o0.jpg", exact[1]), ("o1.jpg", exact[0])])])
    assert swapped.mean_psnr < 25
    crude = [_png(o.resize((32, 32), Image.Resampling.NEAREST)) for o in originals]
    rough = quality.evaluate([_pack(tmp_path, [("o0.jpg", crude[0]), ("o1.jpg", crude[1])])])
    assert swapped.mean_psnr < rough.mean_psnr < math.inf


def test_im2rec_is_run_as_users_run_it_list_then_pack_with_two_threads(tmp_path):
    pytest.importorskip("mxnet")  # only to locate tools/im2rec.py in the wheel; not imported
    steps = Im2rec("im2rec").steps(tmp_path / "src", tmp_path / "w", pass_through=False)
    assert [s[2:] for s in steps] == [
        [str(tmp_path / "w" / "data"), str(tmp_path / "src"), "--list", "--recursive"],
        [str(tmp_path / "w" / "data"), str(tmp_path / "src"), "--resize", "224", "--quality", "95",
         "--num-thread", "2"],
    ]
    assert steps[0][1].endswith("tools/im2rec.py")
    sat = Satrec("satrec").steps(tmp_path / "src", tmp_path / "w", pass_through=True)[0]
    assert sat[1:3] == ["convert", str(tmp_path / "src")]
    assert "--pass-through" in sat and sat[sat.index("--num-workers") + 1] == "2"


def test_report_rewrite_keeps_the_hand_written_notes(tmp_path):
    payload = {"started": "s", "finished": "f", "quick": True, "reps": 1, "machine": {"nproc": "2"},
               "rows": [], "growth": []}
    path = tmp_path / "RESULTS.md"
    report.write(path, payload)
    path.write_text(path.read_text() + "\nProfile: decoding dominates.\n")
    payload["machine"] = {"nproc": "64"}
    report.write(path, payload)
    text = path.read_text()
    assert "| nproc | 64 |" in text and "| nproc | 2 |" not in text
    assert text.count("Profile: decoding dominates.") == 1


def test_stage_profiler_covers_both_pipelines_on_square_images(tmp_path):
    pytest.importorskip("cv2")
    from bench import stages

    spec = corpora.CorpusSpec("stages", 3, 64)
    folder = corpora.ensure(spec, tmp_path, workers=1, log=lambda _m: None)
    paths = sorted(folder.rglob("*.jpg"))
    resize_rows = dict(stages.resize_stages([p.read_bytes() for p in paths], 32))
    assert any(name.startswith("satrec: normalise") for name in resize_rows)
    assert any(name.startswith("im2rec: cv2.imdecode") for name in resize_rows)
    assert all(ms >= 0 for ms in resize_rows.values())
    pass_rows = dict(stages.pass_through_stages(paths))
    assert "baseline: read one file" in pass_rows


def _row(scenario: str, tool: str, walls: list[float], **kw) -> dict:
    row = {"scenario": scenario, "corpus": "c", "images": 1000, "corpus_bytes": 10**6, "tool": tool,
           "command": f"{tool} SRC", "walls": walls, "cpus": walls, "median": sorted(walls)[len(walls) // 2],
           "median_cpu": sorted(walls)[len(walls) // 2], "peak_process_rss": 30 << 20, "peak_process_cmd": tool,
           "peak_tree_rss": 70 << 20, "peak_tree_pss": 40 << 20, "max_processes": 3, "records": 1000,
           "returncodes": [0], "error": "", "psnr_mean": None, "psnr_min": None, "psnr_images": 0,
           "stored_size": "", "load_before": [0.1, 0, 0], "load_after": [0.2, 0, 0]}
    row.update(kw)
    return row


def test_report_judges_each_target_from_the_measured_rows(tmp_path):
    payload = {"started": "s", "finished": "f", "quick": False, "reps": 3, "machine": {}, "growth": [
        {"tool": "satrec", "small_images": 20, "large_images": 200, "small_tree_rss": 100 << 20,
         "large_tree_rss": 130 << 20, "small_tree_pss": 50 << 20, "large_tree_pss": 55 << 20,
         "small_process_rss": 20 << 20, "large_process_rss": 20 << 20,
         "small_sum_peaks": 100 << 20, "large_sum_peaks": 105 << 20}],
        "rows": [
            _row("resize-jpeg512", "im2rec", [6.0, 6.2, 5.8], psnr_mean=38.0, psnr_min=30.0, psnr_images=5,
                 step_walls=[[1.0, 5.0], [1.2, 5.0], [0.8, 4.0]], step_cpus=[[1.5, 3.0], [1.5, 3.0], [1.5, 3.0]]),
            _row("resize-jpeg512", "satrec", [2.0, 2.1, 1.9], psnr_mean=40.0, psnr_min=33.0, psnr_images=5),
            _row("resize-jpeg2048", "im2rec", [5.0]),
            _row("resize-jpeg2048", "satrec", [2.5], peak_process_rss=200 << 20, records=999),
            _row("pass-through-chips64", "im2rec", [3.0]),
            _row("pass-through-chips64", "satrec", [0.5]),
            _row("pass-through-chips64", "baseline", [0.1], records=-1),
        ]}
    text = report.render(payload)
    assert "| resize-jpeg512 | 1000 | 1.0 | satrec | 2.00 | 2.00, 2.10, 1.90 | 500 | 3.00x | 3x | yes |" in text
    assert "| resize-jpeg2048 | 1000 | 1.0 | satrec | 2.50 | 2.50 | 400 | 2.00x | 3x | **no** |" in text
    assert "**999 of 1000**" in text
    assert "| pass-through-chips64 | 1000 | 1.0 | satrec | 0.50 | 0.50 | 2000 | 6.00x | 5x | yes |" in text
    assert "read-and-concatenate baseline: **0.20** (target >= 0.33: **no**)" in text
    assert "largest process on 2048 px inputs: **200 MiB** (target <= 128 MiB: **no**)" in text
    assert "| +30% | +5% | +10% | < 20% | **no** |" in text
    assert "| 40.00 | 33.00 | yes |" in text
    assert "| resize-jpeg512 | 1.00 / 1.50 | 5.00 / 3.00 |" in text  # im2rec's --list and pack runs
