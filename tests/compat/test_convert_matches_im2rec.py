"""`satrec convert LIST.lst --pass-through --no-shuffle` writes the bytes `im2rec.py --pass-through` writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from satrec.cli import main
from tests.convert_corpus import class_tree, image_bytes

mx = pytest.importorskip("mxnet")
pytest.importorskip("cv2")
pytestmark = [pytest.mark.mxnet, pytest.mark.slow]

IM2REC = Path(mx.__file__).parent / "tools" / "im2rec.py"


def im2rec(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, str(IM2REC), *args], cwd=cwd, check=True, capture_output=True, timeout=120)


def test_pass_through_rec_and_idx_equal_im2rec_for_its_own_list(tmp_path):
    src = tmp_path / "chips"
    class_tree(src, {"b": 5, "a": 4, "c": 3}, size=20)
    (src / "a" / "gray.png").write_bytes(image_bytes(20, 20, seed=99, fmt="PNG", mode="L"))
    work = tmp_path / "im2rec"
    work.mkdir()
    im2rec("--list", "--recursive", "data", str(src), cwd=work)          # shuffled list, as users make it
    im2rec("--pass-through", "data", str(src), cwd=work)
    dst = tmp_path / "out"
    assert main(["convert", str(work / "data.lst"), str(dst), "--root", str(src), "--no-shuffle",
                 "--pass-through", "--num-workers", "2"]) == 0
    assert (dst / "train/data-train-00000.rec").read_bytes() == (work / "data.rec").read_bytes()
    assert (dst / "meta/data-train-00000.idx").read_bytes() == (work / "data.idx").read_bytes()
    assert (dst / "meta/data-train-00000.lst").read_text() == (work / "data.lst").read_text()


def test_pass_through_with_pack_label_equals_im2rec_for_multi_label_lists(tmp_path):
    src = tmp_path / "imgs"
    rels = class_tree(src, {"x": 3, "y": 3}, size=20)
    lst = tmp_path / "multi.lst"
    lines = [f"{100 + 7 * i}\t{i % 2:f}\t{(i * 3) % 5:f}\t{0.25 * i:f}\t{rel}\n" for i, rel in enumerate(rels)]
    lst.write_text("".join(reversed(lines)))
    im2rec("--pass-through", "--pack-label", "multi", str(src), cwd=tmp_path)
    dst = tmp_path / "out"
    assert main(["convert", str(lst), str(dst), "--root", str(src), "--no-shuffle", "--pass-through",
                 "--pack-label", "--num-workers", "1"]) == 0
    assert (dst / "train/multi-train-00000.rec").read_bytes() == (tmp_path / "multi.rec").read_bytes()
    assert (dst / "meta/multi-train-00000.idx").read_bytes() == (tmp_path / "multi.idx").read_bytes()
