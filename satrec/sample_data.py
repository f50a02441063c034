"""Synthetic EuroSAT-like chips: a class-per-folder tree that trains like the real thing, offline.

Each of the ten EuroSAT land-cover classes gets a texture that differs the way the real class does
(fields in stripes, orchards in dotted rows, forest as dark noise, water smooth, roads as thin lines,
towns as small blocks, industry as large bright blocks, rivers as winding bands), and every image
varies at random in orientation, scale, colour, brightness and noise, so neighbouring classes
(pasture / herbaceous vegetation, annual / permanent crop, river / highway) are not trivially apart.

Deterministic: image ``i`` of class ``c`` depends only on (seed, c, i), so ``--count`` can grow
without changing the images already there. Imports numpy and Pillow (the ``image`` extra).
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from satrec.errors import DestinationError, UsageError

if TYPE_CHECKING:
    import numpy as np

CLASSES = ("AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial",
           "Pasture", "PermanentCrop", "Residential", "River", "SeaLake")
DEFAULT_COUNT = 200       # per class
DEFAULT_SIZE = 64         # EuroSAT chips are 64x64
DEFAULT_SEED = 0
JPEG_QUALITY = 90
MIN_STRIPE_CONTRAST = 45.0   # RGB distance between the two row colours of a field
MIN_SIZE = 16
MAX_SIZE = 1024


@dataclass(frozen=True)
class SampleSummary:
    root: Path
    classes: tuple[str, ...]
    per_class: int
    size: int
    seed: int
    images: int
    bytes: int
    seconds: float


# ---------------------------------------------------------------------- texture helpers


class _Canvas:
    """Per-image geometry: rotated, scaled coordinates in "64 px units" so textures keep their look at any size."""

    def __init__(self, rng: np.random.Generator, size: int) -> None:
        import numpy as np

        self.rng = rng
        self.size = size
        unit = size / DEFAULT_SIZE
        theta = rng.uniform(0.0, np.pi)
        scale = rng.uniform(0.8, 1.25) * unit
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        cx = cy = (size - 1) / 2.0
        x, y = (xx - cx) / scale, (yy - cy) / scale
        self.u = x * np.cos(theta) + y * np.sin(theta)      # along the texture's main direction
        self.v = -x * np.sin(theta) + y * np.cos(theta)     # across it

    def noise(self, cells: int, amplitude: float = 1.0) -> np.ndarray:
        """Smooth value noise in [-amplitude, amplitude] with about ``cells`` blobs across the image."""
        import numpy as np
        from PIL import Image

        small = self.rng.random((cells + 1, cells + 1)).astype(np.float32)
        big = Image.fromarray(small, mode="F").resize((self.size, self.size), Image.Resampling.BICUBIC)
        return (np.asarray(big, dtype=np.float32) * 2.0 - 1.0) * amplitude

    def colour(self, base: tuple[float, float, float], spread: float = 12.0) -> np.ndarray:
        import numpy as np

        return np.asarray(base, dtype=np.float32) + self.rng.normal(0.0, spread, 3).astype(np.float32)

    def fill(self, rgb: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.broadcast_to(rgb, (self.size, self.size, 3)).astype(np.float32)


def _mix(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    w = weight[..., None]
    return a * (1.0 - w) + b * w


def _soft(x: np.ndarray, edge: float = 0.6) -> np.ndarray:
    """0 below -edge, 1 above +edge, linear between: anti-aliased masks without supersampling."""
    import numpy as np

    return np.clip(0.5 + x / (2.0 * edge), 0.0, 1.0)


def _vegetation(c: _Canvas, base: tuple[float, float, float] = (105, 130, 70)) -> np.ndarray:
    img = c.fill(c.colour(base, 15))
    return img + c.noise(5, 14)[..., None] + c.noise(16, 6)[..., None]


# ---------------------------------------------------------------------- the ten classes


def _annual_crop(c: _Canvas) -> np.ndarray:
    import numpy as np

    period = c.rng.uniform(6.0, 11.0)   # finer rows alias into dots at 64 px (then it looks like an orchard)
    palette = [(150, 115, 80), (115, 145, 70), (185, 170, 105), (125, 100, 75)]
    i, j = c.rng.choice(len(palette), 2, replace=False)
    a, b = c.colour(palette[i]), c.colour(palette[j])
    # Neighbouring rows of one field differ visibly (bare soil vs crop); colour jitter must not erase
    # the stripes, or the chip becomes an unlabelled-looking patch of herbaceous vegetation.
    gap = float(np.linalg.norm(b - a))
    if gap < MIN_STRIPE_CONTRAST:
        b = a + (b - a) * (MIN_STRIPE_CONTRAST / max(gap, 1e-3))
    stripes = _soft(np.sin(2 * np.pi * c.u / period) * 2.0)
    img = _mix(c.fill(a), c.fill(b), stripes)
    # A second field with its own row direction, as neighbouring parcels have.
    boundary = _soft(c.v - c.rng.uniform(-20, 20), 0.8)
    stripes2 = _soft(np.sin(2 * np.pi * c.v / c.rng.uniform(4.0, 9.0)) * 2.0)
    img2 = _mix(c.fill(c.colour(palette[j])), c.fill(c.colour(palette[i])), stripes2)
    img = _mix(img, img2, boundary * (c.rng.random() < 0.5))
    return img + c.noise(8, 6)[..., None]


def _forest(c: _Canvas) -> np.ndarray:
    img = c.fill(c.colour((40, 68, 42), 8))
    canopy = c.noise(10, 18) + c.noise(24, 12)
    return img + canopy[..., None] * [0.8, 1.0, 0.7]


def _herbaceous(c: _Canvas) -> np.ndarray:
    img = _vegetation(c, (120, 135, 75))
    patches = c.noise(7, 1.0)
    return _mix(img, c.fill(c.colour((150, 140, 90))), _soft(patches * 3.0)) + c.noise(20, 8)[..., None]


def _highway(c: _Canvas) -> np.ndarray:
    import numpy as np

    img = _vegetation(c, (115, 125, 80))
    roads = [c.v - c.rng.uniform(-14, 14)]
    if c.rng.random() < 0.35:
        roads.append(c.u - c.rng.uniform(-16, 16))
    asphalt = c.colour((135, 132, 128), 10)
    for distance in roads:
        width = c.rng.uniform(2.0, 3.2)
        img = _mix(img, c.fill(asphalt), _soft(width - np.abs(distance)))
    return img


def _industrial(c: _Canvas) -> np.ndarray:
    import numpy as np

    img = c.fill(c.colour((125, 122, 115), 10)) + c.noise(6, 8)[..., None]
    for _ in range(int(c.rng.integers(3, 7))):
        cu, cv = c.rng.uniform(-30, 30, 2)
        hu, hv = c.rng.uniform(5, 14, 2)
        roof = c.colour([(215, 215, 210), (175, 180, 190), (150, 160, 175)][int(c.rng.integers(0, 3))], 10)
        inside = np.minimum(_soft(hu - np.abs(c.u - cu)), _soft(hv - np.abs(c.v - cv)))
        img = _mix(img, c.fill(roof), inside)
    return img


def _pasture(c: _Canvas) -> np.ndarray:
    img = c.fill(c.colour((115, 155, 80), 12))
    return img + c.noise(3, 10)[..., None] + c.noise(12, 3)[..., None]


def _permanent_crop(c: _Canvas) -> np.ndarray:
    import numpy as np

    ground = c.fill(c.colour((140, 120, 85), 12)) + c.noise(5, 8)[..., None]
    pu, pv = c.rng.uniform(4.0, 7.0), c.rng.uniform(4.0, 7.0)
    du = np.mod(c.u, pu) - pu / 2
    dv = np.mod(c.v, pv) - pv / 2
    radius = min(pu, pv) * c.rng.uniform(0.25, 0.4)
    trees = _soft(radius - np.sqrt(du * du + dv * dv))
    return _mix(ground, c.fill(c.colour((70, 105, 50), 10)), trees)


def _residential(c: _Canvas) -> np.ndarray:
    import numpy as np

    img = _vegetation(c, (110, 125, 85))
    period = c.rng.uniform(6.0, 9.0)
    iu, iv = np.floor(c.u / period), np.floor(c.v / period)
    du, dv = np.mod(c.u, period), np.mod(c.v, period)
    house = np.minimum(_soft(period * 0.65 - du), _soft(period * 0.6 - dv)) * _soft(np.minimum(du, dv) - 0.5)
    # Roof colour per block from a small table indexed by the block's grid position.
    roofs = np.stack([c.colour(r, 15) for r in [(170, 85, 70), (150, 150, 150), (120, 90, 80), (185, 120, 90)]])
    pick = (np.abs(iu * 7 + iv * 13).astype(np.int64) + int(c.rng.integers(0, 4))) % len(roofs)
    img = _mix(img, roofs[pick], house)
    street = _soft(0.9 - np.minimum(np.abs(c.v - np.round(c.v / (period * 2)) * period * 2), 9.0))
    return _mix(img, c.fill(c.colour((140, 138, 132), 8)), street)


def _river(c: _Canvas) -> np.ndarray:
    import numpy as np

    img = _vegetation(c, (110, 128, 78))
    wavelength = c.rng.uniform(30, 70)
    bend = c.rng.uniform(3, 10) * np.sin(2 * np.pi * c.u / wavelength + c.rng.uniform(0, 2 * np.pi))
    centre = c.v - c.rng.uniform(-12, 12) - bend
    width = c.rng.uniform(3.0, 7.0)
    water = c.fill(c.colour((55, 85, 110), 10)) + c.noise(4, 5)[..., None]
    return _mix(img, water, _soft(width - np.abs(centre), 1.0))


def _sea_lake(c: _Canvas) -> np.ndarray:
    img = c.fill(c.colour((35, 65, 100), 12)) + c.noise(3, 6)[..., None] + c.noise(16, 1.5)[..., None]
    if c.rng.random() < 0.3:
        shore = c.v - c.rng.uniform(18, 30) - c.noise(3, 4)
        img = _mix(img, _vegetation(c), _soft(shore, 1.0))
    return img


_PAINTERS: dict[str, Callable[[_Canvas], np.ndarray]] = {
    "AnnualCrop": _annual_crop, "Forest": _forest, "HerbaceousVegetation": _herbaceous,
    "Highway": _highway, "Industrial": _industrial, "Pasture": _pasture,
    "PermanentCrop": _permanent_crop, "Residential": _residential, "River": _river, "SeaLake": _sea_lake,
}


def render_chip(class_name: str, *, seed: int, index: int, size: int = DEFAULT_SIZE) -> np.ndarray:
    """One ``size`` x ``size`` x 3 uint8 chip of ``class_name``, a pure function of its arguments."""
    import numpy as np

    class_id = CLASSES.index(class_name)
    rng = np.random.default_rng([seed, class_id, index])
    canvas = _Canvas(rng, size)
    img = _PAINTERS[class_name](canvas)
    # Whole-image variation a sensor and the atmosphere add: brightness, contrast, sensor noise.
    gain = rng.uniform(0.85, 1.15)
    mean = img.mean(axis=(0, 1), keepdims=True)
    img = (img - mean) * rng.uniform(0.85, 1.15) + mean * gain
    img = img + rng.normal(0.0, rng.uniform(1.5, 5.0), img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def encode_jpeg(pixels: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def generate(root: str | Path, *, count: int = DEFAULT_COUNT, size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED,
             overwrite: bool = False, progress: Callable[[int, int], None] | None = None) -> SampleSummary:
    """Write ``root/<Class>/<Class>_<n>.jpg`` for every class, ``count`` images each (EuroSAT's naming)."""
    if count < 1:
        raise UsageError(f"--count {count}: give at least 1 image per class")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UsageError(f"--size {size}: choose a chip size between {MIN_SIZE} and {MAX_SIZE} pixels")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DestinationError(f"{root} exists and is not a folder; choose another destination")
    if root.is_dir() and any(root.iterdir()):
        if not overwrite:
            raise DestinationError(f"{root} is not empty; choose a new folder or pass --overwrite "
                                   "(which replaces the ten class folders there)")
        for name in CLASSES:
            shutil.rmtree(root / name, ignore_errors=True)
    start = time.perf_counter()
    total = count * len(CLASSES)
    written = 0
    nbytes = 0
    try:
        for name in CLASSES:
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                data = encode_jpeg(render_chip(name, seed=seed, index=i, size=size))
                (folder / f"{name}_{i + 1}.jpg").write_bytes(data)
                nbytes += len(data)
                written += 1
                if progress:
                    progress(written, total)
    except OSError as exc:
        raise DestinationError(f"cannot write sample images under {root}: {exc.strerror or exc}") from None
    return SampleSummary(root=root, classes=CLASSES, per_class=count, size=size, seed=seed, images=written,
                         bytes=nbytes, seconds=time.perf_counter() - start)
