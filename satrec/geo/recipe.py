"""The chip recipe: everything needed to turn a scene into the same 8-bit chips again.

Stored in ``dataset.json``'s ``recipe`` field by ``satrec convert`` and read back by
``satrec chip --recipe`` for inference. Stretch values are the numbers actually used (after
percentiles were computed), so inference repeats them exactly instead of re-estimating them on a
different scene. Pure: no numpy, no rasterio.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from satrec.errors import SatrecError, UsageError

RECIPE_FORMAT = "satrec.chip-recipe"
RECIPE_VERSION = 1


@dataclass(frozen=True)
class Recipe:
    bands: tuple[int, ...]                     # 1-based; one band is replicated to grey RGB
    stretch: tuple[tuple[float, float], ...]   # (min, max) per entry of ``bands``, in data units
    stretch_method: str                        # "fixed" or "percentile" (how ``stretch`` was found)
    gamma: float = 1.0
    chip: int | None = None                    # None: each scene was one chip
    stride: int | None = None
    edge: str = "cover"
    nodata_max: float = 0.5
    percentiles: tuple[float, float] | None = None
    sample: dict[str, Any] = field(default_factory=dict)   # how percentiles were estimated
    source_dtype: str = ""
    split_unit: str = "scene"                  # "scene" or "block"
    split_block: int | None = None
    labels: str = "folder"                     # "folder" or "raster"
    min_purity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RECIPE_FORMAT,
            "version": RECIPE_VERSION,
            "bands": list(self.bands),
            "stretch": {
                "method": self.stretch_method,
                "percentiles": list(self.percentiles) if self.percentiles else None,
                "per_band": [[lo, hi] for lo, hi in self.stretch],
                "sample": dict(self.sample),
            },
            "gamma": self.gamma,
            "chip": self.chip,
            "stride": self.stride,
            "edge": self.edge,
            "nodata_max": self.nodata_max,
            "source_dtype": self.source_dtype,
            "split_unit": self.split_unit,
            "split_block": self.split_block,
            "labels": self.labels,
            "min_purity": self.min_purity,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        if not isinstance(data, dict) or data.get("format") != RECIPE_FORMAT:
            raise UsageError("not a satrec chip recipe (missing \"format\": \"satrec.chip-recipe\"); "
                             "pass the dataset.json of a dataset converted with --chip or --bands")
        if int(data.get("version", 0)) > RECIPE_VERSION:
            raise SatrecError(f"chip recipe version {data['version']} is newer than this satrec understands "
                              f"({RECIPE_VERSION}); upgrade satrec")
        stretch = data["stretch"]
        pct = stretch.get("percentiles")
        bands = tuple(int(b) for b in data["bands"])
        per_band = tuple((float(lo), float(hi)) for lo, hi in stretch["per_band"])
        if len(per_band) != len(bands):
            raise UsageError("chip recipe is inconsistent: one stretch (min, max) is needed per band")
        return cls(
            bands=bands,
            stretch=per_band,
            stretch_method=str(stretch["method"]),
            gamma=float(data.get("gamma", 1.0)),
            chip=int(data["chip"]) if data.get("chip") is not None else None,
            stride=int(data["stride"]) if data.get("stride") is not None else None,
            edge=str(data.get("edge", "cover")),
            nodata_max=float(data.get("nodata_max", 0.5)),
            percentiles=(float(pct[0]), float(pct[1])) if pct else None,
            sample=dict(stretch.get("sample") or {}),
            source_dtype=str(data.get("source_dtype", "")),
            split_unit=str(data.get("split_unit", "scene")),
            split_block=int(data["split_block"]) if data.get("split_block") is not None else None,
            labels=str(data.get("labels", "folder")),
            min_purity=float(data["min_purity"]) if data.get("min_purity") is not None else None,
        )


def recipe_from_dataset_json(text: str, *, source: str = "dataset.json") -> Recipe:
    """The recipe inside a ``dataset.json`` (or a bare recipe document)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc}") from None
    if isinstance(data, dict) and data.get("format") == RECIPE_FORMAT:
        return Recipe.from_dict(data)
    if not isinstance(data, dict) or data.get("recipe") is None:
        raise UsageError(f"{source} holds no chip recipe: it was converted without scene chipping "
                         "(--chip/--bands); give the dataset.json of a chipped dataset")
    return Recipe.from_dict(data["recipe"])
