"""The ``satrec convert`` options for scenes, as one argparse group. Pure (``--help`` stays fast)."""

from __future__ import annotations

import argparse
from typing import Any

from satrec.geo.options import DEFAULT_MIN_PURITY, DEFAULT_NODATA_MAX, ChipOptions, make_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group(
        "satellite scenes (GeoTIFF)",
        "A .tif/.tiff is read as a scene when any of these options is given, or when it is not a\n"
        "plain 8-bit grey/RGB(A) image, and cut into chips (one record each). The recipe (bands, the\n"
        "stretch values used, chip size) goes into dataset.json, for `satrec chip` at inference.")
    g.add_argument("--chip", type=int, default=None, metavar="PX",
                   help="cut scenes into PX x PX chips (default: a scene is one image, up to 25 Mpixel)")
    g.add_argument("--stride", type=int, default=None, metavar="PX",
                   help="step between chips (default: --chip; smaller overlaps)")
    g.add_argument("--bands", default=None, metavar="B,G,R",
                   help="1-based bands for red,green,blue (e.g. 4,3,2 for Sentinel-2), or one band for grey; "
                        "required for multi-band scenes that are not plainly RGB(A)")
    g.add_argument("--stretch", default=None, metavar="SPEC",
                   help="band values to 0..255: pLOW,pHIGH percentiles pooled over all scenes (e.g. p2,p98), "
                        "or fixed MIN,MAX (one pair, or one per band: 0,3000/0,2800/0,2500); "
                        "default 0,255 for 8-bit data, p2,p98 otherwise")
    g.add_argument("--gamma", default="1.0", metavar="G", help="gamma after the stretch (>1 brightens; default 1)")
    g.add_argument("--nodata-max", default=str(DEFAULT_NODATA_MAX), metavar="F",
                   help=f"skip chips whose nodata/zero fraction is above F (default {DEFAULT_NODATA_MAX}); "
                        "counted as skipped")
    g.add_argument("--label-raster", default=None, metavar="PATH",
                   help="class ids per pixel, aligned with the scene: a file (one scene) or a folder holding "
                        "one raster per scene at the scene's relative path; chip label = majority class")
    g.add_argument("--min-purity", default=str(DEFAULT_MIN_PURITY), metavar="F",
                   help=f"with --label-raster, skip chips whose majority class covers less than F of the "
                        f"labelled pixels (default {DEFAULT_MIN_PURITY})")
    g.add_argument("--split-block", type=int, default=None, metavar="PX",
                   help="split unit: square blocks of PX pixels instead of whole scenes (for few scenes); "
                        "chips never cross a block, so neighbours never straddle train and validation")
    g.add_argument("--require-georef", action="store_true",
                   help="reject scenes without a CRS/transform (default: accept, with pixel-only provenance)")


def options_from_args(args: Any) -> ChipOptions | None:
    """Validated scene options, or None when no scene option was given (TIFFs then chip only if needed)."""
    given = (args.chip is not None or args.stride is not None or args.bands is not None
             or args.stretch is not None or args.label_raster is not None or args.split_block is not None
             or args.require_georef or args.gamma != "1.0" or args.nodata_max != str(DEFAULT_NODATA_MAX)
             or args.min_purity != str(DEFAULT_MIN_PURITY))
    if not given:
        return None
    return make_options(chip=args.chip, stride=args.stride, bands=args.bands, stretch=args.stretch,
                        gamma=args.gamma, nodata_max=args.nodata_max, label_raster=args.label_raster,
                        min_purity=args.min_purity, split_block=args.split_block,
                        require_georef=args.require_georef)


def options_to_dict(options: ChipOptions | None) -> dict[str, Any] | None:
    """The scene options as given (dataset.json ``settings.scenes``); the resolved values are the recipe."""
    if options is None:
        return None
    return {
        "chip": options.chip, "stride": options.stride, "bands": list(options.bands) if options.bands else None,
        "stretch": options.stretch.text() if options.stretch else None, "gamma": options.gamma,
        "nodata_max": options.nodata_max, "label_raster": options.label_raster, "min_purity": options.min_purity,
        "split_block": options.split_block, "require_georef": options.require_georef,
    }
