"""``satrec inspect FILE.rec``: list records, a class histogram, and optionally draw a contact sheet."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from satrec.commands._args import whole_number

DESCRIPTION = """\
Look inside a RecordIO file: each record's key, label(s) with class names, image bytes and
width x height, then a class histogram over every record. Class names come from the dataset's
meta/dataset.json or classes.json (beside the .rec or in ../meta/), or --classes.
"""

EPILOG = "exit codes: 0 ok; 2 the file is damaged (what could be read is shown); 1 FILE unusable."


_positive = whole_number(1)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("inspect", help="list records of a .rec, class histogram, contact sheet",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE.rec", help="a RecordIO file")
    p.add_argument("--limit", type=_positive, default=20, metavar="N",
                   help="describe the first N records (default 20); the histogram counts all")
    p.add_argument("--sheet", metavar="OUT.png", help="draw a contact sheet of the first --sheet-count records")
    p.add_argument("--sheet-count", type=_positive, default=48, metavar="N",
                   help="thumbnails on the contact sheet (default 48)")
    p.add_argument("--thumb", type=_positive, default=128, metavar="PX", help="thumbnail size (default 128)")
    p.add_argument("--histogram", metavar="OUT.png", help="draw the class histogram as a bar chart")
    p.add_argument("--classes", metavar="CLASSES.json",
                   help="class names (a dataset.json, a classes.json name->id map, or a JSON list)")
    p.add_argument("--json", action="store_true", help="print records and histogram as JSON on stdout")
    p.set_defaults(run=run)


def _classes_from(path: str) -> list[str]:
    from satrec.errors import UsageError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--classes {path}: cannot read JSON: {exc}") from None
    if isinstance(data, dict) and "classes" in data:
        data = data["classes"]
    if isinstance(data, list):
        return [str(x) for x in data]
    if isinstance(data, dict) and all(isinstance(v, int) for v in data.values()):
        names = [""] * (max(data.values()) + 1 if data else 0)
        for name, index in data.items():
            names[index] = str(name)
        return names
    raise UsageError(f"--classes {path}: expected a dataset.json, a name->id object or a list of names")


def run(args: argparse.Namespace) -> int:
    from satrec.inspection import format_histogram, format_table, inspect_rec

    classes = _classes_from(args.classes) if args.classes else None
    keep = args.sheet_count if args.sheet else 0
    result = inspect_rec(args.file, limit=args.limit, keep_images=keep, classes=classes)
    out = sys.stderr if args.json else sys.stdout
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        shown = len(result.records)
        source = f"; class names from {result.classes_source}" if result.classes_source else ""
        print(f"{args.file}: {result.total_records} records (showing {shown}){source}", file=out)
        for line in format_table(result):
            print(f"  {line}", file=out)
        print(f"class histogram ({result.total_records} records):", file=out)
        for line in format_histogram(result.histogram, result.total_records):
            print(f"  {line}", file=out)
    if args.sheet:
        _write_sheet(result, args, out)
    if args.histogram:
        _write_histogram(result, args, out)
    if result.error:
        print(f"satrec inspect: damaged file, stopped: {result.error} (run `satrec verify` for details)",
              file=sys.stderr)
        return 2
    return 0


def _save(image: Any, path: str) -> None:
    from satrec.errors import DestinationError

    try:
        image.save(path, "PNG", optimize=True)
    except (OSError, ValueError) as exc:
        raise DestinationError(f"cannot write {path}: {exc}") from None


def _write_sheet(result: Any, args: argparse.Namespace, out: Any) -> None:
    from satrec.contact_sheet import draw_contact_sheet

    images, captions = [], []
    for info, data in result.images:
        images.append(data)
        size = f"{info.width}x{info.height}" if info.width is not None else "?"
        captions.append((", ".join(info.names) or "?", f"#{info.key}  {size}"))
    title = f"{Path(args.file).name}: {len(images)} of {result.total_records} records"
    _save(draw_contact_sheet(images, captions, title=title, thumb=args.thumb), args.sheet)
    print(f"contact sheet: {args.sheet} ({len(images)} thumbnails)", file=out)


def _write_histogram(result: Any, args: argparse.Namespace, out: Any) -> None:
    from satrec.histogram import draw_histogram

    counts = sorted(result.histogram.items(), key=lambda kv: (-kv[1], kv[0]))
    title = f"{Path(args.file).name}: {result.total_records} records, {len(counts)} classes"
    _save(draw_histogram(counts, title=title), args.histogram)
    print(f"histogram: {args.histogram}", file=out)
