"""Items from another enumerator (scene chips) plug in: custom loader, shared split keys, provenance sidecar."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from satrec import recordio
from satrec.convert import ConvertOptions, convert
from satrec.sources import InputItem, Source
from tests.convert_corpus import image_bytes


def chip_loader(location: str) -> bytes:
    """A stand-in for a GeoTIFF window reader: location = "scene:row:col"."""
    return image_bytes(16, 16, seed=zlib.crc32(location.encode()) % 1000, fmt="PNG")


def test_chip_items_keep_scenes_in_one_split_and_write_provenance_keyed_like_the_idx(tmp_path):
    items = []
    for s in range(6):
        for r in range(3):
            loc = f"scene{s}:{r}:0"
            items.append(InputItem(relpath=f"scene{s}/r{r}c0.png", labels=(float(s % 2),), location=loc,
                                   index=len(items), cls=f"c{s % 2}", split_key=f"scene{s}",
                                   loader=f"{__name__}:chip_loader", provenance={"scene": f"scene{s}", "row": r}))
    recipe = {"bands": [3, 2, 1], "stretch": "percentile"}
    source = Source("scenes", "scenes", items, ["c0", "c1"], 1, recipe=recipe)
    dst = tmp_path / "out"
    result = convert(ConvertOptions(src="scenes", dst=str(dst), name="chips", train_ratio=0.5, num_workers=2),
                     source=source)
    assert result.rejected == 0 and result.doc.inputs["packed"] == 18
    assert json.loads((dst / "meta/dataset.json").read_text())["recipe"] == recipe
    scene_splits: dict[str, set[str]] = {}
    for split, info in result.doc.splits.items():
        for shard in info.shards:
            base = Path(shard.rec).stem
            idx_keys = [k for k, _ in recordio.parse_index((dst / shard.idx).read_text())]
            chips = [json.loads(line) for line in (dst / "meta" / f"{base}.chips.jsonl").read_text().splitlines()]
            assert [str(c["key"]) for c in chips] == idx_keys
            for chip in chips:
                assert chip["path"].startswith(chip["scene"] + "/")
                scene_splits.setdefault(chip["scene"], set()).add(split)
    assert len(scene_splits) == 6 and all(len(v) == 1 for v in scene_splits.values())
