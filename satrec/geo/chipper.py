"""Scenes to chips: recipe resolution, per-scene chip plans, and pixel rendering.

Two phases, so that a planner can split and shard chips before any pixel is read:
``plan_scene`` lists a scene's chips (windows, labels, split keys, provenance; it reads only the
label raster), and ``render_window`` / ``SceneRenderer`` read one window at a time and turn it
into 8-bit RGB. ``chip_scene`` does both, streaming, for one scene file (``satrec chip`` and the
conversion container). Memory is bounded by the chip size plus GDAL's capped block cache.
"""

from __future__ import annotations

import atexit
import io
import math
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from satrec.errors import ImageRejected, SourceError, UsageError
from satrec.geo.labels import open_label_raster, window_label
from satrec.geo.options import WHOLE_SCENE_MAX_PIXELS, ChipOptions
from satrec.geo.recipe import Recipe
from satrec.geo.scene import SceneInfo, gdal_env, open_scene, raster_errors, resolve_bands
from satrec.geo.stretch import PercentilePool, apply_stretch, empty_mask, read_sample
from satrec.geo.windows import Window, chip_grid

if TYPE_CHECKING:
    from rasterio.io import DatasetReader

DEFAULT_PERCENTILES = (2.0, 98.0)
ENDPOINT_MAX_BYTES = 5_000_000    # the inference payload limit satrec chip sizes chips for


class ChipSkipped(ImageRejected):
    """A chip left out on purpose (mostly nodata): counted in the summary, not an error."""


@dataclass(frozen=True)
class ChipPlan:
    key: str                  # "<scene relpath>#<col>,<row>": unique per dataset, used as the .lst path
    scene: str                # the scene's relative path
    window: Window
    label: str | None         # class folder name, or the label raster's class id as text
    split_key: str            # the split unit: the scene, or one spatial block of it
    provenance: dict[str, Any]


@dataclass
class ScenePlan:
    scene: str
    info: SceneInfo
    chips: list[ChipPlan]
    windows: int                                          # grid windows before label skips
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> chips left out


@dataclass(frozen=True)
class Chip:
    plan: ChipPlan
    data: bytes               # encoded 8-bit RGB (PNG or JPEG)
    empty_fraction: float


# ---------------------------------------------------------------- recipe


def resolve_recipe(scenes: Iterable[str], options: ChipOptions, *, labels: str = "folder") -> Recipe:
    """Fix bands and stretch values for a set of scenes (percentiles pooled over all of them).

    Unreadable scenes are passed over here; ``plan_scene`` rejects them with the reason.
    """
    bands: tuple[int, ...] | None = None
    dtype = ""
    spec = options.stretch
    pool: PercentilePool | None = None
    sampled = 0
    for path in scenes:
        try:
            with open_scene(path) as (src, info):
                chosen = resolve_bands(info, options.bands)
                if bands is None:
                    bands, dtype = chosen, info.dtype
                    if spec is None and dtype == "uint8":
                        break   # 8-bit data keeps its values: nothing to estimate
                    if spec is not None and spec.fixed is not None:
                        break
                    pool = PercentilePool(len(bands), dtype)
                if chosen != bands or info.dtype != dtype or pool is None:
                    continue
                try:
                    values = read_sample(src, info, bands, options.sample_side)
                except raster_errors():
                    continue   # a block that fails to decode: plan_scene's full read rejects the scene
                pool.add(values)
                sampled += 1
        except ImageRejected:
            continue
    if bands is None:
        raise SourceError("no readable scene to build the chip recipe from (every scene was rejected; "
                          "see rejects.jsonl)")
    percentiles: tuple[float, float] | None = None
    sample: dict[str, Any] = {}
    if spec is not None and spec.fixed is not None:
        if len(spec.fixed) not in (1, len(bands)):
            raise UsageError(f"--stretch gives {len(spec.fixed)} min,max pairs for {len(bands)} band(s): "
                             "give one pair, or one per band")
        stretch = tuple(spec.fixed) * len(bands) if len(spec.fixed) == 1 else tuple(spec.fixed)
        method = "fixed"
    elif spec is None and dtype == "uint8":
        stretch, method = ((0.0, 255.0),) * len(bands), "fixed"
    else:
        percentiles = spec.percentiles if spec is not None and spec.percentiles else DEFAULT_PERCENTILES
        pool = pool or PercentilePool(len(bands), dtype)   # always set by the loop; keeps mypy honest
        stretch = tuple(pool.percentiles(*percentiles))
        method = "percentile"
        sample = {"scenes": sampled, "pixels": pool.pixels, "side": options.sample_side}
    return Recipe(
        bands=bands, stretch=stretch, stretch_method=method, gamma=options.gamma, chip=options.chip,
        stride=options.effective_stride, edge=options.edge, nodata_max=options.nodata_max,
        percentiles=percentiles, sample=sample, source_dtype=dtype,
        split_unit="block" if options.split_block else "scene", split_block=options.split_block,
        labels=labels, min_purity=options.min_purity if labels == "raster" else None,
    )


# ---------------------------------------------------------------- planning


def chip_key(scene: str, window: Window) -> str:
    return f"{scene}#{window.col},{window.row}"


def plan_scene(path: str, relpath: str, recipe: Recipe, *, label: str | None = None,
               label_raster: str | None = None, bands_given: bool = True,
               require_georef: bool = False) -> ScenePlan:
    """The chips of one scene. Raises ``ImageRejected`` when the scene as a whole cannot be used."""
    with open_scene(path) as (_src, info):
        if require_georef and not info.georeferenced:
            raise ImageRejected("not_georeferenced", "the scene has no CRS/transform and georeferencing is "
                                "required; drop --require-georef to accept it with pixel-only provenance")
        bands = resolve_bands(info, recipe.bands if bands_given else None)
        if bands != recipe.bands:
            raise ImageRejected("bands_mismatch", f"the scene's bands {bands} differ from the dataset's "
                                f"{recipe.bands}: give --bands explicitly")
        if recipe.stretch_method == "percentile" and recipe.source_dtype and info.dtype != recipe.source_dtype:
            raise ImageRejected("dtype_mismatch", f"{info.dtype} data among {recipe.source_dtype} scenes: one "
                                "percentile stretch cannot serve both; use a fixed --stretch min,max")
        if recipe.chip is None and info.width * info.height > WHOLE_SCENE_MAX_PIXELS:
            raise ImageRejected("scene_too_large", f"{info.width}x{info.height} pixels is too large to be one "
                                "image: cut it with --chip SIZE, e.g. --chip 256")
    grid = list(chip_grid(info.width, info.height, recipe.chip, recipe.stride, edge=recipe.edge,
                          block=recipe.split_block))
    if not grid:
        raise ImageRejected("scene_too_small", f"{info.width}x{info.height} pixels holds no "
                            f"{recipe.chip}x{recipe.chip} chip: use a smaller --chip")
    lonlat = _lonlat_bounds(info, [g.window for g in grid])
    plan = ScenePlan(scene=relpath, info=info, chips=[], windows=len(grid))
    purities: list[float | None] = [None] * len(grid)
    labels: list[str | None] = [label] * len(grid)
    if label_raster is not None:
        with open_label_raster(label_raster, info) as lsrc:
            for i, g in enumerate(grid):
                wl = window_label(lsrc, g.window)
                if wl.label is None:
                    labels[i] = None
                    plan.skipped["unlabelled"] += 1
                elif wl.purity < (recipe.min_purity or 0.0):
                    labels[i] = None
                    plan.skipped["impure"] += 1
                else:
                    labels[i], purities[i] = str(wl.label), round(wl.purity, 4)
    for i, g in enumerate(grid):
        if label_raster is not None and labels[i] is None:
            continue
        split_key = relpath if g.block is None else f"{relpath}#block{g.block[0]},{g.block[1]}"
        prov: dict[str, Any] = {
            "scene": relpath,
            "window": g.window.to_dict(),
            "crs": info.crs,
            "bounds": _bounds(info, g.window),
            "lonlat_bounds": lonlat[i],
            "split_unit": "block" if g.block is not None else "scene",
            "split_key": split_key,
        }
        if purities[i] is not None:
            prov["label_purity"] = purities[i]
        plan.chips.append(ChipPlan(key=chip_key(relpath, g.window), scene=relpath, window=g.window,
                                   label=labels[i], split_key=split_key, provenance=prov))
    return plan


def _corners(transform: tuple[float, ...], window: Window) -> tuple[list[float], list[float]]:
    c, a, b, f, d, e = transform
    xs, ys = [], []
    for col, row in ((window.col, window.row), (window.col + window.width, window.row),
                     (window.col, window.row + window.height),
                     (window.col + window.width, window.row + window.height)):
        xs.append(c + col * a + row * b)
        ys.append(f + col * d + row * e)
    return xs, ys


def _bounds(info: SceneInfo, window: Window) -> list[float] | None:
    """[left, bottom, right, top] in the scene's CRS; None without georeferencing."""
    if info.transform is None or info.crs is None:
        return None
    xs, ys = _corners(info.transform, window)
    return [min(xs), min(ys), max(xs), max(ys)]


def _lonlat_bounds(info: SceneInfo, windows: list[Window]) -> list[list[float] | None]:
    """[west, south, east, north] in degrees (EPSG:4326), all windows in one PROJ call."""
    if info.transform is None or info.crs is None or not windows:
        return [None] * len(windows)
    from rasterio.crs import CRS
    from rasterio.warp import transform

    xs: list[float] = []
    ys: list[float] = []
    for w in windows:
        cx, cy = _corners(info.transform, w)
        xs += cx
        ys += cy
    try:
        with gdal_env():
            lons, lats = transform(CRS.from_user_input(info.crs), CRS.from_epsg(4326), xs, ys)
    except (*raster_errors(), ValueError):  # type: ignore[misc]  # a tuple built at run time
        return [None] * len(windows)
    out: list[list[float] | None] = []
    for i in range(len(windows)):
        lo, la = lons[4 * i:4 * i + 4], lats[4 * i:4 * i + 4]
        if not all(map(math.isfinite, lo + la)):
            out.append(None)
        else:
            out.append([round(min(lo), 7), round(min(la), 7), round(max(lo), 7), round(max(la), 7)])
    return out


# ---------------------------------------------------------------- rendering


class SceneRenderer:
    """An open scene that renders windows to 8-bit RGB; use as a context manager."""

    def __init__(self, path: str, recipe: Recipe, *, check: bool = True, scoped_env: bool = True) -> None:
        self.path = path
        self.recipe = recipe
        self._ctx = open_scene(path, check=check, scoped_env=scoped_env)
        self._src: DatasetReader | None = None
        self.info: SceneInfo | None = None

    def __enter__(self) -> SceneRenderer:
        self._src, self.info = self._ctx.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)

    def _read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """The selected bands (in recipe order) of a window, and its empty-pixel mask."""
        from rasterio.windows import Window as RioWindow

        src, info, bands = self._src, self.info, self.recipe.bands
        if src is None or info is None:
            raise RuntimeError("SceneRenderer used outside its with-block")
        rio_window = RioWindow(window.col, window.row, window.width, window.height)
        unique = sorted(set(bands))
        try:   # open_scene's GDAL settings are in force for the renderer's whole life
            raw = src.read(unique, window=rio_window)
            alpha = src.read(info.alpha_band, window=rio_window) if info.alpha_band else None
        except raster_errors() as exc:
            raise ImageRejected("corrupt_scene", f"reading window {window.col},{window.row} failed: "
                                f"{str(exc).strip()[:200]}") from None
        data = raw if list(unique) == list(bands) else np.stack([raw[unique.index(b)] for b in bands])
        return data, empty_mask(data, info, bands, alpha)

    def render(self, window: Window) -> tuple[np.ndarray, float]:
        """(h, w, 3) uint8 pixels and the window's empty (nodata / zero) fraction."""
        data, empty = self._read(window)
        return apply_stretch(data, self.recipe.stretch, self.recipe.gamma, empty), float(empty.mean())

    def empty_fraction(self, window: Window) -> float:
        """The window's nodata / zero fraction, without the stretch."""
        return float(self._read(window)[1].mean())

    def render_chip(self, window: Window) -> np.ndarray:
        """Pixels of a chip, or ``ChipSkipped`` when its empty fraction exceeds the recipe's limit."""
        rgb, fraction = self.render(window)
        if fraction > self.recipe.nodata_max:
            raise ChipSkipped("nodata", f"{fraction:.0%} of the window is nodata/zero "
                              f"(limit --nodata-max {self.recipe.nodata_max:g})")
        return rgb


_local = threading.local()
OPEN_SCENES_PER_THREAD = 8


def render_window(path: str, window: Window, recipe: Recipe) -> np.ndarray:
    """One chip's pixels, keeping the last few scenes open per thread.

    Shuffled records visit scenes in any order: re-opening a scene for every chip would cost more
    than rendering it. The integrity check is skipped: planning did it for every scene. GDAL's
    settings are made process-wide here, since the open scenes close in LRU order, not nested.
    """
    cache: dict[str, SceneRenderer] | None = getattr(_local, "renderers", None)
    if cache is None:
        cache = _local.renderers = {}
        # Close before interpreter teardown: a dataset finalised after the threading module is
        # gone prints an ignored exception.
        atexit.register(close_cached)
    renderer = cache.pop(path, None)
    if renderer is not None and renderer.recipe is not recipe:
        renderer.__exit__(None, None, None)
        renderer = None
    if renderer is None:
        while len(cache) >= OPEN_SCENES_PER_THREAD:
            cache.pop(next(iter(cache))).__exit__(None, None, None)   # least recently used
        renderer = SceneRenderer(path, recipe, check=False, scoped_env=False).__enter__()
    cache[path] = renderer   # (re-)inserted last: most recently used
    return renderer.render_chip(window)


def close_cached() -> None:
    cache = getattr(_local, "renderers", None) or {}
    while cache:
        cache.pop(next(iter(cache))).__exit__(None, None, None)


def encode_chip(rgb: np.ndarray, encoding: str = "png", quality: int = 95, *, compress: int = 6) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    image = Image.fromarray(rgb, mode="RGB")
    if encoding in ("jpg", "jpeg"):
        image.save(buf, format="JPEG", quality=quality)
    elif encoding == "png":
        image.save(buf, format="PNG", compress_level=compress)
    else:
        raise UsageError(f"--encoding {encoding!r}: use jpg or png")
    return buf.getvalue()


def encode_within(rgb: np.ndarray, encoding: str, quality: int, max_bytes: int) -> bytes:
    """Encode, stepping down to JPEG of lower quality until the payload fits ``max_bytes``."""
    data = encode_chip(rgb, encoding, quality)
    q = min(quality, 90)
    while len(data) > max_bytes and q >= 40:
        data = encode_chip(rgb, "jpg", q)
        q -= 10
    if len(data) > max_bytes:
        raise ChipSkipped("too_large", f"{len(data)} bytes even as JPEG quality 40 (limit {max_bytes}): "
                          "use a smaller --chip")
    return data


# ---------------------------------------------------------------- one scene, streaming


class SceneChips:
    """Iterate the encoded chips of one scene; ``skipped`` counts what was left out, by reason."""

    def __init__(self, path: str, relpath: str, recipe: Recipe, *, label: str | None = None,
                 label_raster: str | None = None, bands_given: bool = True, require_georef: bool = False,
                 encoding: str = "png", quality: int = 95, max_bytes: int | None = None) -> None:
        self.plan = plan_scene(path, relpath, recipe, label=label, label_raster=label_raster,
                               bands_given=bands_given, require_georef=require_georef)
        self.path, self.recipe = path, recipe
        self.encoding, self.quality, self.max_bytes = encoding, quality, max_bytes
        self.skipped: Counter[str] = Counter(self.plan.skipped)
        self.produced = 0

    def __iter__(self) -> Iterator[Chip]:
        with SceneRenderer(self.path, self.recipe) as renderer:
            for chip in self.plan.chips:
                rgb, fraction = renderer.render(chip.window)
                if fraction > self.recipe.nodata_max:
                    self.skipped["nodata"] += 1
                    continue
                try:
                    data = encode_within(rgb, self.encoding, self.quality, self.max_bytes) \
                        if self.max_bytes else encode_chip(rgb, self.encoding, self.quality)
                except ChipSkipped as exc:
                    self.skipped[exc.reason] += 1
                    continue
                self.produced += 1
                yield Chip(plan=chip, data=data, empty_fraction=round(fraction, 4))


def chip_scene(path: str, relpath: str, recipe: Recipe, **kwargs: Any) -> SceneChips:
    """The chips of one scene under a fixed recipe (``satrec chip``, inference)."""
    return SceneChips(path, relpath, recipe, **kwargs)


def chip_scene_file(path: str, relpath: str, options: ChipOptions, *, label: str | None = None,
                    recipe: Recipe | None = None, **kwargs: Any) -> tuple[Recipe, SceneChips]:
    """For the conversion container: one downloaded scene file -> (recipe used, its chips).

    Without a recipe (no dataset-wide one yet), percentiles come from this scene alone; the
    returned recipe says which values were used, to be recorded with the outputs.
    """
    if recipe is None:
        recipe = resolve_recipe([path], options, labels="raster" if options.label_raster else "folder")
    chips = SceneChips(path, relpath, recipe, label=label, label_raster=options.label_raster,
                       bands_given=options.bands is not None, require_georef=options.require_georef, **kwargs)
    return recipe, chips
