"""``satrec chip SCENE OUT --recipe dataset.json``: a scene cut into chips exactly as for training."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "chip",
        help="cut a GeoTIFF scene into 8-bit chips with a dataset's recipe (for inference)",
        description="Apply the chip recipe stored in a dataset's meta/dataset.json (bands, stretch values, "
                    "gamma, chip size, stride) to SCENE and write OUT/<scene>-<col>-<row>.<ext> plus "
                    "OUT/chips.jsonl (window, CRS and bounds of every chip). Chips are sized for a "
                    "SageMaker endpoint's payload limit.",
        epilog="Exit codes: 0 ok; 2 the scene was rejected (reason printed); 1 bad options or recipe.",
    )
    p.add_argument("scene", metavar="SCENE", help="a GeoTIFF / COG (any band count, 8/16-bit or float)")
    p.add_argument("out", metavar="OUT", help="folder for the chips (created)")
    p.add_argument("--recipe", required=True, metavar="DATASET_JSON",
                   help="a dataset's meta/dataset.json (or a bare recipe document)")
    p.add_argument("--encoding", choices=("png", "jpg"), default="png", help="chip format (default png)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality 1-100 (default 95)")
    p.add_argument("--max-bytes", type=float, default=5.0, metavar="MB",
                   help="largest chip payload in MB (default 5, an endpoint's limit); bigger chips are "
                        "re-encoded as JPEG of lower quality")
    p.add_argument("--stride", type=int, default=None,
                   help="override the recipe's stride (e.g. overlap for inference); bands and stretch never change")
    p.add_argument("--keep-empty", action="store_true",
                   help="also write chips that are mostly nodata (the recipe's --nodata-max is ignored)")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from satrec.errors import ImageRejected, SourceError, UsageError
    from satrec.geo.export import export_chips
    from satrec.geo.recipe import recipe_from_dataset_json

    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality {args.quality}: give 1-100")
    if args.max_bytes <= 0:
        raise UsageError(f"--max-bytes {args.max_bytes}: give a size in MB, e.g. --max-bytes 5")
    if args.stride is not None and args.stride < 1:
        raise UsageError(f"--stride {args.stride}: give a positive number of pixels")
    try:
        text = Path(args.recipe).read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"cannot read --recipe {args.recipe!r}: {exc.strerror or exc}") from None
    recipe = recipe_from_dataset_json(text, source=args.recipe)
    if not Path(args.scene).is_file():
        raise SourceError(f"scene {args.scene!r} does not exist or is not a file")
    try:
        result = export_chips(args.scene, args.out, recipe, encoding=args.encoding, quality=args.quality,
                              max_bytes=int(args.max_bytes * 1_000_000), stride=args.stride,
                              keep_empty=args.keep_empty)
    except ImageRejected as exc:
        if args.json:
            print(json.dumps({"scene": args.scene, "rejected": exc.reason, "detail": exc.detail}))
        else:
            print(f"satrec chip: rejected {args.scene}: {exc.reason}: {exc.detail}")
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True))
    else:
        skipped = ", ".join(f"{n} {r}" for r, n in sorted(result.skipped.items())) or "none"
        print(f"wrote {result.chips} chips ({result.bytes / 1e6:.1f} MB, largest {result.largest / 1e3:.0f} kB) "
              f"to {result.out}; skipped: {skipped}; {result.seconds:.1f} s")
    return 0
