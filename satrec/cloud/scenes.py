"""Scene uploads in the conversion container: a GeoTIFF in, one normalised image per chip out.

A scene can be far larger than the memory of a task, so it is streamed to a temporary file on
the task's ephemeral storage (after checking that it fits), chipped with the dataset's scene
options, and every chip normalised with the dataset's image settings. The normalised chips are
staged on the same disk and uploaded only once the whole scene has been read: a scene that fails
half-way (a corrupt tile) leaves nothing behind, like a scene in ``satrec convert``.

Without scene options, a TIFF that plain decoding handles (8-bit grey/RGB(A), single-band 16-bit)
is one image as before; one that plain decoding would get wrong goes to the chipper with default
options, which rejects it with the reason ``satrec convert`` gives (``bands_required`` naming
``--bands`` / ``scenes.bands``). Heavy imports (numpy, rasterio) stay inside the functions.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satrec import layout
from satrec.errors import ConfigError, ImageRejected, SourceError
from satrec.geo.options import ChipOptions
from satrec.imaging import ImageSettings, NormalisedImage

SCRATCH_ENV = "SATREC_SCRATCH_DIR"          # where scenes are downloaded (the task's ephemeral storage)
SPACE_MARGIN_BYTES = 64 * 1024 * 1024       # room left for the staged chips' first bytes and the OS
REASON_NO_SPACE = "insufficient_storage"
REASON_NO_CHIPS = "no_chips"
REASON_CORRUPT_SCENE = "corrupt_scene"

Normaliser = Callable[..., NormalisedImage]


def scratch_dir() -> str:
    """``$SATREC_SCRATCH_DIR`` (the job definition mounts ephemeral storage there), else the temp dir."""
    configured = os.environ.get(SCRATCH_ENV)
    if not configured:
        return tempfile.gettempdir()
    if not Path(configured).is_dir():
        raise ConfigError(f"{SCRATCH_ENV}={configured} is not a directory: the job definition must mount the "
                          "task's ephemeral storage there (stacks/converter.py does), or unset it to use the temp dir")
    return configured


def space_problem(size: int, directory: str) -> str | None:
    """Why a ``size``-byte scene cannot be downloaded into ``directory``, or None when it fits."""
    free = shutil.disk_usage(directory).free
    if size + SPACE_MARGIN_BYTES > free:
        return (f"the scene is {size} bytes but the task's ephemeral storage has {free} bytes free "
                f"(plus {SPACE_MARGIN_BYTES} bytes of headroom): raise the context key job_ephemeral_gib "
                "(Fargate allows up to 200 GiB) or upload smaller scenes")
    return None


def is_out_of_space(exc: OSError) -> bool:
    import errno

    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


@dataclass
class StagedChip:
    key: str
    path: Path
    content_type: str
    record: dict[str, Any]      # the ledger entry's description of this output


@dataclass
class ChippedScene:
    chips: list[StagedChip]
    scene: dict[str, Any]
    recipe: dict[str, Any]
    skipped: dict[str, int] = field(default_factory=dict)


def plain_decoding_suffices(path: str) -> bool:
    """True when a TIFF without scene options is one ordinary image (as ``satrec convert`` decides)."""
    from satrec.geo.scenes_source import needs_chipping

    return not needs_chipping(path)


def chip_scene_upload(path: str, landing_key: str, class_name: str, options: ChipOptions | None,
                      settings: ImageSettings, normaliser: Normaliser, stage: Path) -> ChippedScene:
    """Chip the downloaded scene at ``path`` and stage its normalised chips under ``stage``.

    Raises ``ImageRejected`` when the scene as a whole cannot be used (unreadable, truncated,
    bands needed, no chip left, a window that cannot be read, a chip the image settings reject).
    """
    from satrec.geo.chipper import chip_scene_file
    from satrec.geo.scene import open_scene, resolve_bands

    options = options or ChipOptions()
    # The scene's own problem first, with its reason (chip_scene_file's recipe step passes over
    # unreadable scenes and would only say that no recipe could be made).
    with open_scene(path) as (_src, info):
        try:
            resolve_bands(info, options.bands)
        except ImageRejected as exc:
            if exc.reason != "bands_required":
                raise
            # The CLI's wording names --bands; an upload's settings live in satrec.json.
            raise ImageRejected(exc.reason, f"{exc.detail}; for uploads set \"scenes\": {{\"bands\": [4, 3, 2]}} "
                                "in incoming/<dataset>/satrec.json") from None
    try:
        recipe, chips = chip_scene_file(path, landing_key, options, label=class_name)
    except SourceError as exc:
        raise ImageRejected(REASON_CORRUPT_SCENE, f"no sample of the scene could be read: {exc}") from None
    stage.mkdir(parents=True, exist_ok=True)
    staged: list[StagedChip] = []
    for chip in chips:   # raises ImageRejected("corrupt_scene") when a window cannot be read
        w = chip.plan.window
        try:
            image = normaliser(chip.data, settings, name=f"{landing_key}#{w.col},{w.row}")
        except ImageRejected as exc:
            raise ImageRejected(exc.reason, f"chip at {w.col},{w.row}: {exc.detail}") from None
        ext = output_extension(image, settings)
        key = layout.normalised_chip_key(landing_key, w.col, w.row, ext)
        file = stage / f"{len(staged):06d}.{ext}"
        file.write_bytes(image.data)
        prov = chip.plan.provenance
        staged.append(StagedChip(key=key, path=file, content_type="image/png" if ext == "png" else "image/jpeg",
                                 record={"key": key, "width": image.width, "height": image.height,
                                         "window": w.to_dict(), "bounds": prov.get("bounds"),
                                         "lonlat_bounds": prov.get("lonlat_bounds"),
                                         "empty_fraction": chip.empty_fraction}))
    skipped = dict(sorted(chips.skipped.items()))
    if not staged:
        detail = ", ".join(f"{n} {reason}" for reason, n in skipped.items()) or "none"
        raise ImageRejected(REASON_NO_CHIPS, f"all {chips.plan.windows} chip window(s) were left out "
                            f"(skipped: {detail}); lower scenes.chip or raise scenes.nodata_max")
    scene = {"width": info.width, "height": info.height, "count": info.count, "dtype": info.dtype,
             "crs": info.crs, "windows": chips.plan.windows, "chips": len(staged), "skipped": skipped,
             "split_key": layout.normalised_split_key(staged[0].key)}
    return ChippedScene(chips=staged, scene=scene, recipe=recipe.to_dict(), skipped=skipped)


def output_extension(image: NormalisedImage, settings: ImageSettings) -> str:
    """A passed-through input keeps its own format; everything else has the dataset's encoding."""
    if image.passed_through:
        return "png" if image.data[:8] == b"\x89PNG\r\n\x1a\n" else "jpg"
    return settings.encoding.lstrip(".")
