"""Chipping options: parsed from the command line (or a settings document) and validated once.

Pure: no numpy, no rasterio. Every bad value raises ``UsageError`` naming the option and a value
that would work, so the CLI prints one actionable line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from satrec.errors import UsageError

EDGE_POLICIES = ("cover", "drop")
MAX_BANDS_INDEX = 10_000
# Without --chip a scene is one chip; beyond this many pixels that would break the memory bound.
WHOLE_SCENE_MAX_PIXELS = 25_000_000
DEFAULT_NODATA_MAX = 0.5
DEFAULT_MIN_PURITY = 0.5
DEFAULT_SAMPLE_SIDE = 1024


@dataclass(frozen=True)
class StretchSpec:
    """How band values map to 0..255: percentiles of the data, or fixed (min, max) per band.

    ``percentiles`` is (low, high) in 0..100; ``fixed`` is one (min, max) pair applied to every
    band, or one pair per selected band.
    """

    percentiles: tuple[float, float] | None = None
    fixed: tuple[tuple[float, float], ...] | None = None

    def text(self) -> str:
        if self.percentiles is not None:
            return f"p{_num(self.percentiles[0])},p{_num(self.percentiles[1])}"
        return "/".join(f"{_num(lo)},{_num(hi)}" for lo, hi in (self.fixed or ()))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class ChipOptions:
    chip: int | None = None                 # chip side in pixels; None = the whole scene is one chip
    stride: int | None = None               # None = chip (no overlap)
    bands: tuple[int, ...] | None = None    # 1-based; None = plainly RGB(A) or single-band scenes only
    stretch: StretchSpec | None = None      # None = 0,255 for uint8 data, p2,p98 otherwise
    gamma: float = 1.0
    nodata_max: float = DEFAULT_NODATA_MAX
    label_raster: str | None = None         # a file (one scene) or a folder mirroring the scene paths
    min_purity: float = DEFAULT_MIN_PURITY
    split_block: int | None = None          # pixels; None = the whole scene is the split unit
    edge: str = "cover"
    require_georef: bool = False
    sample_side: int = DEFAULT_SAMPLE_SIDE  # percentiles come from about this many pixels squared per scene

    @property
    def effective_stride(self) -> int | None:
        return self.stride if self.stride is not None else self.chip


def parse_bands(text: str) -> tuple[int, ...]:
    """``"4,3,2"`` -> (4, 3, 2). One band (grey, replicated) or three (R, G, B), 1-based, any order."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        bands = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"--bands {text!r}: give 1-based band numbers separated by commas, e.g. --bands 4,3,2"
                         ) from None
    if len(bands) not in (1, 3):
        raise UsageError(f"--bands {text!r}: give three bands (red,green,blue) or one (grey), e.g. --bands 4,3,2")
    if any(b < 1 or b > MAX_BANDS_INDEX for b in bands):
        raise UsageError(f"--bands {text!r}: band numbers start at 1, e.g. --bands 4,3,2")
    return bands


def parse_stretch(text: str) -> StretchSpec:
    """``p2,p98`` (percentiles), ``0,3000`` (fixed, every band) or ``0,3000/0,2800/0,2500`` (per band)."""
    raw = str(text).strip().lower()
    hint = "use e.g. --stretch p2,p98 (percentiles), --stretch 0,3000 or --stretch 0,3000/0,2800/0,2500 (per band)"
    if raw.startswith("p"):
        parts = [p.strip() for p in raw.split(",")]
        if len(parts) != 2 or not all(p.startswith("p") for p in parts):
            raise UsageError(f"--stretch {text!r}: {hint}")
        try:
            low, high = (float(p[1:]) for p in parts)
        except ValueError:
            raise UsageError(f"--stretch {text!r}: {hint}") from None
        if not (0 <= low < high <= 100) or not all(map(math.isfinite, (low, high))):
            raise UsageError(f"--stretch {text!r}: percentiles need 0 <= low < high <= 100, e.g. p2,p98")
        return StretchSpec(percentiles=(low, high))
    pairs = []
    for chunk in raw.replace(";", "/").split("/"):
        parts = [p.strip() for p in chunk.split(",")]
        if len(parts) != 2:
            raise UsageError(f"--stretch {text!r}: {hint}")
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise UsageError(f"--stretch {text!r}: {hint}") from None
        if not all(map(math.isfinite, (low, high))) or not low < high:
            raise UsageError(f"--stretch {text!r}: each band needs min < max, e.g. 0,3000")
        pairs.append((low, high))
    if len(pairs) not in (1, 3):
        raise UsageError(f"--stretch {text!r}: give one min,max for every band or one per band (three)")
    return StretchSpec(fixed=tuple(pairs))


def parse_fraction(text: str | float, option: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"{option} {text!r}: give a fraction between 0 and 1, e.g. {option} 0.5") from None
    if not (0.0 <= value <= 1.0):
        raise UsageError(f"{option} {text!r}: give a fraction between 0 and 1, e.g. {option} 0.5")
    return value


def parse_gamma(text: str | float) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"--gamma {text!r}: give a positive number, e.g. --gamma 1.4 (brighter) or 0.8") from None
    if not (math.isfinite(value) and 0.05 <= value <= 20):
        raise UsageError(f"--gamma {text!r}: give a number between 0.05 and 20, e.g. --gamma 1.4")
    return value


def make_options(*, chip: int | None = None, stride: int | None = None, bands: str | tuple[int, ...] | None = None,
                 stretch: str | StretchSpec | None = None, gamma: str | float = 1.0,
                 nodata_max: str | float = DEFAULT_NODATA_MAX, label_raster: str | None = None,
                 min_purity: str | float = DEFAULT_MIN_PURITY, split_block: int | None = None,
                 edge: str = "cover", require_georef: bool = False,
                 sample_side: int = DEFAULT_SAMPLE_SIDE) -> ChipOptions:
    """Build validated options from raw values (CLI strings or settings-document values)."""
    if chip is not None and not (8 <= int(chip) <= 8192):
        raise UsageError(f"--chip {chip}: give a chip side between 8 and 8192 pixels, e.g. --chip 256")
    if stride is not None:
        if chip is None:
            raise UsageError("--stride needs --chip, e.g. --chip 256 --stride 128")
        if not (1 <= int(stride) <= int(chip) * 4):
            raise UsageError(f"--stride {stride}: give 1..{int(chip) * 4} pixels (below --chip means overlap), "
                             f"e.g. --stride {int(chip) // 2}")
    if split_block is not None:
        if chip is None:
            raise UsageError("--split-block needs --chip: blocks are groups of chips, e.g. --chip 256 "
                             "--split-block 2048")
        if int(split_block) < int(chip):
            raise UsageError(f"--split-block {split_block}: a block must hold at least one chip (>= --chip {chip}),"
                             f" e.g. --split-block {int(chip) * 8}")
    if edge not in EDGE_POLICIES:
        raise UsageError(f"edge policy {edge!r}: use one of {', '.join(EDGE_POLICIES)}")
    if not (16 <= int(sample_side) <= 16384):
        raise UsageError(f"sample side {sample_side}: use 16..16384 pixels")
    parsed_bands = parse_bands(bands) if isinstance(bands, str) else (tuple(bands) if bands else None)
    parsed_stretch = parse_stretch(stretch) if isinstance(stretch, str) else stretch
    if parsed_stretch is not None and parsed_stretch.fixed is not None and len(parsed_stretch.fixed) == 3 \
            and parsed_bands is not None and len(parsed_bands) != 3:
        raise UsageError("--stretch gives three min,max pairs but --bands selects one band: give one pair")
    return ChipOptions(
        chip=int(chip) if chip is not None else None,
        stride=int(stride) if stride is not None else None,
        bands=parsed_bands,
        stretch=parsed_stretch,
        gamma=parse_gamma(gamma),
        nodata_max=parse_fraction(nodata_max, "--nodata-max"),
        label_raster=label_raster,
        min_purity=parse_fraction(min_purity, "--min-purity"),
        split_block=int(split_block) if split_block is not None else None,
        edge=edge,
        require_georef=bool(require_georef),
        sample_side=int(sample_side),
    )


_DICT_KEYS = ("chip", "stride", "bands", "stretch", "gamma", "nodata_max", "label_raster", "min_purity",
              "split_block", "edge", "require_georef", "sample_side")


def options_from_dict(data: dict[str, Any], *, source: str = "settings") -> ChipOptions:
    """Scene options from a settings document (e.g. the ``scenes`` object of ``incoming/<ds>/satrec.json``).

    Keys are the CLI option names with ``_`` for ``-``; ``bands`` may be a list; unknown keys are an error.
    """
    unknown = sorted(set(data) - set(_DICT_KEYS))
    if unknown:
        raise UsageError(f"{source}: unknown scene setting(s) {', '.join(unknown)} (known: {', '.join(_DICT_KEYS)})")
    values = dict(data)
    if isinstance(values.get("bands"), list):
        values["bands"] = ",".join(str(b) for b in values["bands"])
    return make_options(**values)
