"""Memory does not grow with the number of images: records, index lines and rejects stream to disk."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from satrec.convert import ConvertOptions, convert
from satrec.imaging import ImageSettings
from tests.convert_corpus import class_tree


def peak_bytes(src: Path, dst: Path) -> int:
    tracemalloc.start()
    try:
        convert(ConvertOptions(src=str(src), dst=str(dst), image=ImageSettings(resize=48), num_workers=1))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_python_memory_grows_by_less_than_a_kilobyte_per_added_image(tmp_path):
    small, large = tmp_path / "small", tmp_path / "large"
    class_tree(small, {"a": 20, "b": 20}, size=64)
    class_tree(large, {"a": 200, "b": 200}, size=64)
    convert(ConvertOptions(src=str(small), dst=str(tmp_path / "warm"), num_workers=1))   # imports, caches
    base = peak_bytes(small, tmp_path / "o1")
    grown = peak_bytes(large, tmp_path / "o2")
    # Each 48 px record is ~2-4 KB; keeping them (or their .lst lines and sizes) would add far more.
    assert grown - base < 360 * 1024, (base, grown)
