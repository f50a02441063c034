"""``satrec sample-data DIR``: a synthetic EuroSAT-like class-per-folder tree for demos and tests."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    from satrec.sample_data import DEFAULT_COUNT, DEFAULT_SEED, DEFAULT_SIZE

    p = subparsers.add_parser(
        "sample-data",
        help="write synthetic EuroSAT-like satellite chips, one folder per class",
        description="Write DIR/<Class>/<Class>_<n>.jpg for the ten EuroSAT land-cover classes. "
                    "Deterministic for a given --seed; image n of a class does not depend on --count.",
    )
    p.add_argument("dir", metavar="DIR", help="destination folder (created; must be empty unless --overwrite)")
    p.add_argument("--count", type=int, default=DEFAULT_COUNT,
                   help=f"images per class (default {DEFAULT_COUNT})")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"chip side in pixels (default {DEFAULT_SIZE})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument("--overwrite", action="store_true", help="replace the class folders in a non-empty DIR")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from satrec.sample_data import generate

    summary = generate(args.dir, count=args.count, size=args.size, seed=args.seed, overwrite=args.overwrite)
    print(f"wrote {summary.images} images ({len(summary.classes)} classes x {summary.per_class}, "
          f"{summary.size}x{summary.size} JPEG, seed {summary.seed}, {summary.bytes / 1e6:.1f} MB) "
          f"to {summary.root} in {summary.seconds:.1f} s")
    return 0
