"""``satrec verify PATH``: check a dataset folder or one ``.rec`` against its index, list and dataset.json."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from satrec.commands._args import whole_number

DESCRIPTION = """\
Check every .rec of a dataset (or one .rec) against its .idx, .lst and meta/dataset.json:
RecordIO framing, index offsets, record counts, size and sha256, labels in [0, num_classes),
header ids, that every image decodes (JPEG/PNG), optional --min-size, and that channel folders
hold nothing but the listed .rec files.

PATH is a dataset folder (with meta/dataset.json) or a .rec file; for a .rec, its .idx/.lst are
looked for beside it (im2rec) or in ../meta/ (satrec), and ../meta/dataset.json is used if present.
"""

EPILOG = "exit codes: 0 clean; 2 problems found (the first ones are listed); 1 PATH unusable."


_non_negative = whole_number(0)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("verify", help="check a dataset or .rec file end to end",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="PATH", help="dataset folder or .rec file")
    p.add_argument("--min-size", type=_non_negative, default=0, metavar="PX",
                   help="also require both image sides >= PX (SageMaker's image_shape)")
    p.add_argument("--num-classes", type=_non_negative, default=None, metavar="N",
                   help="label range for a bare .rec without dataset.json")
    p.add_argument("--no-decode", dest="decode", action="store_false",
                   help="skip decoding images (structure, labels and checksums only)")
    p.add_argument("--max-problems", type=_non_negative, default=20, metavar="N",
                   help="list at most N problems (default 20; all are counted)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from satrec.verify import iter_problem_lines, verify_path

    report = verify_path(args.path, min_size=args.min_size, decode=args.decode, num_classes=args.num_classes,
                         max_problems=args.max_problems)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    out = sys.stderr if args.json else sys.stdout
    shards = len(report.shards)
    if report.ok:
        print(f"{args.path}: OK: {report.records} records in {shards} shard(s)"
              + ("" if args.decode else " (images not decoded)"), file=out)
        return 0
    print(f"{args.path}: {report.problem_count} problem(s) in {report.records} records, {shards} shard(s):",
          file=out)
    for line in iter_problem_lines(report):
        print(f"  {line}", file=out)
    return 2
