"""Deterministic synthetic satellite-like JPEG corpora, class-per-folder, cached under bench/out/.

Why synthetic: the benchmark must run offline and be byte-reproducible on any machine. Why textured:
flat or pure-noise images give JPEG sizes and decode costs unlike real imagery (flat ones compress to
almost nothing, white noise to huge files). Each class mixes fractal (multi-octave) noise with the
structure its land cover has from above: parcels and crop rows, building blocks and roads, canopy,
dunes, water with waves. Quality is drawn per image from 90-95, as archives of satellite JPEGs have.

Usage: ``python -m bench.corpora jpeg512 --root bench/out/corpora`` (``run_all`` calls ``ensure``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

GENERATOR_VERSION = 1  # bump when the pixels change, so stale caches are rebuilt
CLASSES = ("farmland", "forest", "urban", "water", "desert")
MARKER = ".corpus.json"
DEFAULT_ROOT = Path(__file__).resolve().parent / "out" / "corpora"


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    count: int
    size: int  # square images, size x size pixels
    seed: int = 20261129

    def files(self) -> Iterator[tuple[int, str, str]]:
        """(index, class name, path relative to the corpus root), classes round-robin."""
        for i in range(self.count):
            cls = CLASSES[i % len(CLASSES)]
            yield i, cls, f"{cls}/{cls}_{i:05d}.jpg"


# The judged corpora (issue 2) and their quick, tenfold smaller variants.
FULL = {
    "jpeg512": CorpusSpec("jpeg512", 1000, 512),
    "jpeg2048": CorpusSpec("jpeg2048", 200, 2048),
    "chips64": CorpusSpec("chips64", 5000, 64),
}
QUICK = {
    "jpeg512": CorpusSpec("jpeg512-quick", 100, 512),
    "jpeg2048": CorpusSpec("jpeg2048-quick", 20, 2048),
    "chips64": CorpusSpec("chips64-quick", 500, 64),
}


# --------------------------------------------------------------------------- textures


def _fbm(rng, size: int, *, base: int, persistence: float, finest: int | None = None):
    """Fractal noise in [0, 1]: random grids from ``base`` cells up, bicubically upscaled and summed."""
    import numpy as np
    from PIL import Image

    finest = finest or size
    out = np.zeros((size, size), np.float32)
    amp, total, cells = 1.0, 0.0, base
    while cells <= finest:
        grid = rng.random((cells, cells), dtype=np.float32)
        layer = np.asarray(Image.fromarray(grid, "F").resize((size, size), Image.Resampling.BICUBIC))
        out += amp * layer
        total += amp
        amp *= persistence
        cells *= 2
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def _parcels(rng, size: int, cells: int):
    """A label map of irregular parcels: a coarse random grid, rotated, nearest-upscaled."""
    import numpy as np
    from PIL import Image

    grid = rng.integers(0, 255, (cells, cells), dtype=np.uint8)
    img = Image.fromarray(grid, "L").resize((size * 2, size * 2), Image.Resampling.NEAREST)
    img = img.rotate(float(rng.uniform(-40, 40)), resample=Image.Resampling.NEAREST)
    off = size // 2
    return np.asarray(img)[off:off + size, off:off + size]


def _colourise(field, low, high):
    import numpy as np

    low_a = np.asarray(low, np.float32)
    high_a = np.asarray(high, np.float32)
    return low_a + field[..., None] * (high_a - low_a)


def _farmland(rng, size):
    import numpy as np

    labels = _parcels(rng, size, int(rng.integers(4, 9)))
    palette = rng.choice(
        np.array([[96, 128, 60], [140, 150, 70], [180, 160, 100], [120, 100, 70], [70, 110, 50], [200, 185, 130]],
                 np.float32), 256)
    img = palette[labels]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = max(2.0, size / rng.uniform(60, 140))
    rows = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    img += (rows * 10 * (labels % 3 == 0))[..., None]
    img += (_fbm(rng, size, base=4, persistence=0.6)[..., None] - 0.5) * 40
    return img


def _forest(rng, size):
    canopy = _fbm(rng, size, base=8, persistence=0.8)
    return _colourise(canopy, (20, 45, 20), (90, 130, 60))


def _urban(rng, size):
    import numpy as np
    from PIL import Image, ImageDraw

    base = _colourise(_fbm(rng, size, base=4, persistence=0.5), (110, 110, 105), (170, 165, 160))
    layer = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(layer)
    for _ in range(int(size * size / 700) + 4):
        x, y = rng.integers(0, size, 2)
        w, h = rng.integers(max(2, size // 80), max(3, size // 20), 2)
        grey = int(rng.integers(60, 230))
        roof = (grey, grey - int(rng.integers(0, 40)), grey - int(rng.integers(0, 60)))
        draw.rectangle([int(x), int(y), int(x + w), int(y + h)], fill=roof)
    step = max(8, size // int(rng.integers(4, 9)))
    width = max(1, size // 120)
    for pos in range(int(rng.integers(0, step)), size, step):
        draw.line([(pos, 0), (pos, size)], fill=(60, 60, 62), width=width)
        draw.line([(0, pos), (size, pos)], fill=(60, 60, 62), width=width)
    return np.asarray(layer, np.float32)


def _water(rng, size):
    import numpy as np

    depth = _fbm(rng, size, base=2, persistence=0.45)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    waves = np.sin((xx * 0.8 + yy * 0.6) * 2 * np.pi / max(3.0, size / 90) + depth * 6) * 6
    return _colourise(depth, (10, 40, 70), (40, 90, 120)) + waves[..., None]


def _desert(rng, size):
    import numpy as np

    dunes = _fbm(rng, size, base=4, persistence=0.55)
    ridges = 1.0 - np.abs(np.sin(dunes * 9.0))
    return _colourise(0.6 * dunes + 0.4 * ridges, (170, 140, 100), (230, 205, 160))


TEXTURES = {"farmland": _farmland, "forest": _forest, "urban": _urban, "water": _water, "desert": _desert}


def render(spec: CorpusSpec, index: int, cls: str) -> bytes:
    """The JPEG bytes of one image: a pure function of (spec, index)."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng([spec.seed, spec.size, index])
    pixels = TEXTURES[cls](rng, spec.size)
    pixels += rng.normal(0.0, 2.5, pixels.shape).astype(np.float32)  # sensor noise
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=int(rng.integers(90, 96)))
    return out.getvalue()


# --------------------------------------------------------------------------- cache


def _write_one(job: tuple[CorpusSpec, int, str, str, str]) -> tuple[str, int]:
    spec, index, cls, rel, root = job
    data = render(spec, index, cls)
    path = os.path.join(root, rel)
    tmp = path + ".part"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    return rel, len(data)


def _marker(spec: CorpusSpec) -> dict:
    return {"generator": GENERATOR_VERSION, **asdict(spec)}


def ensure(spec: CorpusSpec, root: Path = DEFAULT_ROOT, *, workers: int = 2, log=print) -> Path:
    """Return the corpus folder, generating it first unless a complete cached copy exists."""
    folder = Path(root) / spec.name
    marker = folder / MARKER
    if marker.exists():
        try:
            if json.loads(marker.read_text()).get("spec") == _marker(spec):
                return folder
        except ValueError:
            pass
    if folder.exists():
        shutil.rmtree(folder)
    for cls in CLASSES:
        (folder / cls).mkdir(parents=True, exist_ok=True)
    jobs = [(spec, i, cls, rel, str(folder)) for i, cls, rel in spec.files()]
    log(f"generating corpus {spec.name}: {spec.count} x {spec.size} px ...")
    digest = hashlib.sha256()
    total = 0
    if workers > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_write_one, jobs, chunksize=max(1, len(jobs) // (workers * 8)))
    else:
        results = [_write_one(job) for job in jobs]
    for rel, nbytes in results:
        digest.update(f"{rel}\t{nbytes}\n".encode())
        total += nbytes
    # The marker is written last: an interrupted generation is regenerated, never half-used.
    marker.write_text(json.dumps({"spec": _marker(spec), "bytes": total, "listing_sha256": digest.hexdigest()}))
    return folder


def corpus_bytes(folder: Path) -> int:
    try:
        return int(json.loads((folder / MARKER).read_text())["bytes"])
    except (OSError, ValueError, KeyError):
        return sum(p.stat().st_size for p in folder.rglob("*.jpg"))


def subset(folder: Path, spec: CorpusSpec, count: int, dest: Path) -> Path:
    """A smaller corpus made of the first ``count`` files, hard-linked (no copy, no symlinks to reject)."""
    if dest.exists():
        shutil.rmtree(dest)
    for i, _cls, rel in spec.files():
        if i >= count:
            break
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(folder / rel, target)
        except OSError:
            shutil.copyfile(folder / rel, target)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="+", choices=sorted(FULL))
    parser.add_argument("--quick", action="store_true", help="the tenfold smaller variants")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    table = QUICK if args.quick else FULL
    for key in args.corpus:
        folder = ensure(table[key], args.root, workers=args.workers)
        print(f"{folder}\t{corpus_bytes(folder)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
