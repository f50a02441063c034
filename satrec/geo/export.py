"""Chips of one scene written as image files, for inference (``satrec chip``).

``OUT/<scene stem>-<col>-<row>.<ext>`` plus ``OUT/chips.jsonl`` (one line per chip: file, window,
CRS, bounds), so predictions can be put back on the map. ``chips.jsonl`` is written last, through
a temporary name, so its presence means the chip set is complete.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from satrec.errors import DestinationError
from satrec.geo.chipper import ENDPOINT_MAX_BYTES, chip_scene
from satrec.geo.recipe import Recipe

CHIPS_JSONL = "chips.jsonl"


@dataclass(frozen=True)
class ExportResult:
    scene: str
    out: str
    chips: int
    bytes: int
    largest: int
    skipped: dict[str, int]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"scene": self.scene, "out": self.out, "chips": self.chips, "bytes": self.bytes,
                "largest_chip_bytes": self.largest, "skipped": dict(sorted(self.skipped.items())),
                "seconds": round(self.seconds, 3)}


def _stem(path: str) -> str:
    stem = Path(path).name.rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "scene"


def export_chips(scene: str, out: str, recipe: Recipe, *, encoding: str = "png", quality: int = 95,
                 max_bytes: int = ENDPOINT_MAX_BYTES, stride: int | None = None,
                 keep_empty: bool = False) -> ExportResult:
    started = time.perf_counter()
    if stride is not None:
        recipe = replace(recipe, stride=stride)
    if keep_empty:
        recipe = replace(recipe, nodata_max=1.0)
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DestinationError(f"cannot create {out!r}: {exc.strerror or exc}") from None
    stem = _stem(scene)
    chips = chip_scene(scene, Path(scene).name, recipe, encoding=encoding, quality=quality, max_bytes=max_bytes)
    count = total = largest = 0
    staged = folder / f".{CHIPS_JSONL}.tmp"
    try:
        with staged.open("w", encoding="utf-8") as index:
            for chip in chips:
                w = chip.plan.window
                # A chip stepped down to JPEG to fit the payload limit is named for what it is.
                ext = "jpg" if chip.data[:2] == b"\xff\xd8" else "png"
                name = f"{stem}-{w.col}-{w.row}.{ext}"
                (folder / name).write_bytes(chip.data)
                count += 1
                total += len(chip.data)
                largest = max(largest, len(chip.data))
                index.write(json.dumps({"file": name, "bytes": len(chip.data), "empty_fraction": chip.empty_fraction,
                                        **chip.plan.provenance}, sort_keys=True) + "\n")
        staged.replace(folder / CHIPS_JSONL)
    except OSError as exc:
        raise DestinationError(f"cannot write chips to {out!r}: {exc.strerror or exc}") from None
    return ExportResult(scene, out, count, total, largest, dict(Counter(chips.skipped)),
                        time.perf_counter() - started)
