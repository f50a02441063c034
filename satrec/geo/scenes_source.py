"""The ``satrec convert`` hook: scene inputs of a source become chip inputs.

``expand_scenes`` runs in the main process after the source is enumerated and before the plan:
it fixes one recipe for all scenes (percentiles pooled over them), plans each scene's chips,
drops chips that are mostly nodata (counted as skipped, so they never reach the plan and never
count as rejected), and replaces every scene by its chips, in input order. A scene that cannot
be used is one reject with the scene's path. Chips carry a self-contained ``location`` (scene
path, window, bands, stretch) that ``load_chip`` renders in a worker process.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from satrec.documents import Reject
from satrec.errors import ImageRejected, SourceError, UsageError
from satrec.geo import is_scene_path
from satrec.geo.options import ChipOptions
from satrec.geo.recipe import Recipe
from satrec.sources import InputItem, Source

if TYPE_CHECKING:
    from satrec.geo.chipper import ChipPlan

LOADER = "satrec.geo.scenes_source:load_chip"
MAX_RASTER_CLASS_ID = 1000   # labels are the raster's ids: num_classes = largest id + 1
SKIP_PREFIX = "chip_"   # skipped_by_reason keys for chips left out: chip_nodata, chip_impure, chip_unlabelled


@dataclass
class SceneStats:
    scenes: int = 0
    chipped: int = 0
    rejected: int = 0
    windows: int = 0
    chips: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"scenes": self.scenes, "chipped": self.chipped, "rejected": self.rejected,
                "windows": self.windows, "chips": self.chips, "skipped": dict(sorted(self.skipped.items()))}


@dataclass
class Expanded:
    source: Source
    recipe: Recipe | None
    stats: SceneStats | None


def needs_chipping(path: str) -> bool:
    """Without scene options, only TIFFs that plain image decoding would get wrong go to the chipper:
    multi-band data that is not plainly grey/RGB(A) (rejected there, naming --bands), and
    multi-band data deeper than 8 bits. Unreadable files stay with the image decoder's reasons."""
    try:
        from satrec.geo.scene import open_scene, resolve_bands
    except ImportError:      # the geo extra is not installed
        return False
    try:
        with open_scene(path) as (_src, info):
            try:
                bands = resolve_bands(info, None)
            except ImageRejected:
                return True
            return info.dtype not in ("uint8", "uint16") or (len(bands) > 1 and info.dtype != "uint8")
    except ImageRejected:
        return False


def expand_source(source: Source, options: ChipOptions | None) -> Source:
    """``satrec convert``'s hook: the source with its scenes replaced by chips and the recipe set."""
    if options is None and not any(is_scene_path(it.relpath) for it in source.items):
        return source
    expanded = expand_scenes(source, options)
    if expanded.recipe is None:
        return expanded.source
    return replace(expanded.source, recipe=expanded.recipe.to_dict())


def expand_scenes(source: Source, options: ChipOptions | None) -> Expanded:
    candidates = [it for it in source.items if is_scene_path(it.relpath)]
    if options is None:
        candidates = [it for it in candidates if source.kind != "s3" and needs_chipping(it.location)]
        if not candidates:
            return Expanded(source, None, None)
        options = ChipOptions()
    elif not candidates:
        raise UsageError("scene options (--chip, --bands, ...) were given but SRC holds no .tif/.tiff scene")
    raster_mode = options.label_raster is not None
    if raster_mode and Path(options.label_raster or "").is_file() and len(candidates) > 1:
        raise UsageError(f"--label-raster {options.label_raster} is one file but there are {len(candidates)} "
                         "scenes: give a folder with one label raster per scene (same relative paths)")
    if raster_mode and not Path(options.label_raster or "").exists():
        raise SourceError(f"--label-raster {options.label_raster!r} does not exist")
    scene_ids = {id(it) for it in candidates}
    stats = SceneStats(scenes=len(candidates))
    rejects = list(source.rejects)
    skipped = Counter(source.skipped)
    if source.kind == "s3":
        for it in candidates:
            rejects.append(Reject(it.relpath, "scene_on_s3", "scenes are chipped from local files: download "
                                  "them first, or upload them to the landing bucket for the conversion container"))
        stats.rejected = len(candidates)
        items = [it for it in source.items if id(it) not in scene_ids]
        return Expanded(replace(source, items=_renumber(items), rejects=rejects), None, stats)

    try:
        from satrec.geo.chipper import resolve_recipe
    except ImportError as exc:
        raise UsageError(f"scene chipping needs the geo extra ({exc.name} is missing): "
                         "pip install 'satrec[geo]'") from None

    recipe: Recipe | None
    try:
        recipe = resolve_recipe([it.location for it in candidates], options,
                                labels="raster" if raster_mode else "folder")
    except SourceError:
        recipe = None
    expanded: list[InputItem] = []
    raster_ids: set[int] = set()
    for it in source.items:
        if id(it) not in scene_ids:
            if raster_mode:
                rejects.append(Reject(it.relpath, "not_a_scene", "with --label-raster every input must be a "
                                      "GeoTIFF scene (labels come from the raster, not from folders)"))
            else:
                expanded.append(it)
            continue
        try:
            if recipe is None:
                _raise_why_unusable(it, options)
                continue
            chips = _plan_one(it, options, recipe, stats)
        except ImageRejected as exc:
            rejects.append(Reject(it.relpath, exc.reason, exc.detail))
            stats.rejected += 1
            continue
        stats.chipped += 1
        stats.chips += len(chips)
        for chip in chips:
            labels: tuple[float, ...]
            cls: str | None
            if raster_mode and chip.label is not None:
                raster_ids.add(int(chip.label))
                labels, cls = (float(int(chip.label)),), chip.label
            else:
                labels, cls = it.labels, it.cls
            expanded.append(InputItem(relpath=chip.key, labels=labels, location=chip_location(it.location, chip,
                                      recipe), index=0, key=None, cls=cls, split_key=chip.split_key,
                                      loader=LOADER, provenance=chip.provenance))
    for reason, n in stats.skipped.items():
        skipped[SKIP_PREFIX + reason] += n
    classes = source.classes
    if raster_mode:
        if raster_ids and (max(raster_ids) >= MAX_RASTER_CLASS_ID or min(raster_ids) < 0):
            raise UsageError(f"label rasters hold class ids {min(raster_ids)}..{max(raster_ids)}: record labels are "
                             f"the ids themselves, so keep them in 0..{MAX_RASTER_CLASS_ID - 1} (remap the raster, "
                             "and set its nodata value for unlabelled pixels)")
        classes = [str(i) for i in range(max(raster_ids) + 1)] if raster_ids else []
    return Expanded(replace(source, items=_renumber(expanded), rejects=rejects, skipped=skipped, classes=classes),
                    recipe, stats)


def _raise_why_unusable(item: InputItem, options: ChipOptions) -> None:
    """No scene could fix a recipe: report this scene's own problem."""
    from satrec.geo.scene import open_scene, resolve_bands

    with open_scene(item.location) as (_src, info):
        resolve_bands(info, options.bands)
    raise ImageRejected("no_recipe", "no scene could be read to fix the bands and stretch")


def _plan_one(item: InputItem, options: ChipOptions, recipe: Recipe, stats: SceneStats) -> list[ChipPlan]:
    from satrec.geo.chipper import SceneRenderer, plan_scene

    label_raster = _label_raster_for(item, options)
    plan = plan_scene(item.location, item.relpath, recipe, label=item.cls, label_raster=label_raster,
                      bands_given=options.bands is not None, require_georef=options.require_georef)
    stats.windows += plan.windows
    stats.skipped.update(plan.skipped)
    kept = []
    # Read every chip once here: a mostly-empty chip is skipped (not rejected), and a scene whose
    # pixels cannot be read is rejected whole before any of its chips is planned.
    with SceneRenderer(item.location, recipe, check=False) as renderer:   # plan_scene just checked it
        for chip in plan.chips:
            if renderer.empty_fraction(chip.window) > recipe.nodata_max:
                stats.skipped["nodata"] += 1
            else:
                kept.append(chip)
    return kept


def _label_raster_for(item: InputItem, options: ChipOptions) -> str | None:
    if options.label_raster is None:
        return None
    base = Path(options.label_raster)
    if base.is_file():
        return str(base)
    path = base / item.relpath
    if not path.is_file():
        raise ImageRejected("label_raster_missing", f"no label raster at {path} (the folder must mirror the "
                            "scenes' relative paths)")
    return str(path)


def _renumber(items: list[InputItem]) -> list[InputItem]:
    """Positions are record keys: keep them dense and in order. A .lst's own keys are kept; chips
    then get keys above the largest, so no two records share one."""
    top = max((it.key for it in items if it.key is not None), default=None)
    out = []
    next_key = (top + 1) if top is not None else None
    for i, it in enumerate(items):
        key = it.key
        if key is None and next_key is not None and it.loader == LOADER:
            key, next_key = next_key, next_key + 1
        out.append(replace(it, index=i, key=key))
    return out


def chip_location(path: str, chip: ChipPlan, recipe: Recipe) -> str:
    """Everything a worker needs to render one chip, as one string (workers get plain strings)."""
    w = chip.window
    return json.dumps([path, w.col, w.row, w.width, w.height, list(recipe.bands),
                       [list(p) for p in recipe.stretch], recipe.gamma, recipe.nodata_max], separators=(",", ":"))


_RECIPES: dict[str, Recipe] = {}


def load_chip(location: str) -> bytes:
    """Worker side: render one chip to PNG bytes (lossless; the image settings then encode the record)."""
    from satrec.geo.chipper import encode_chip, render_window
    from satrec.geo.windows import Window

    path, col, row, width, height, bands, stretch, gamma, nodata_max = json.loads(location)
    spec = json.dumps([bands, stretch, gamma, nodata_max])
    recipe = _RECIPES.get(spec)
    if recipe is None:
        recipe = Recipe(bands=tuple(bands), stretch=tuple((float(a), float(b)) for a, b in stretch),
                        stretch_method="fixed", gamma=float(gamma), nodata_max=float(nodata_max))
        _RECIPES.clear()
        _RECIPES[spec] = recipe
    rgb = render_window(path, Window(col, row, width, height), recipe)
    return encode_chip(rgb, "png", compress=1)
