"""``satrec convert SRC DST``: image folders, im2rec lists or CSV manifests -> MXNet RecordIO datasets."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

DESCRIPTION = """\
Convert images into an MXNet RecordIO dataset laid out for SageMaker (an im2rec.py superset).

SRC is one of:
  DIR                  one sub-folder per class (like `im2rec.py --list --recursive`); class ids are
                       the sorted folder names; nested folders belong to their top-level class
  LIST.lst             an im2rec list (index<TAB>label(s)<TAB>path), paths relative to --root
  MANIFEST.csv         header row; a path column plus `label` (names or ids), several numeric label
                       columns (a label vector), or `labels` (';'-separated names, multi-hot)
  s3://bucket/prefix   a class-per-folder tree in S3
DST is a folder or s3://bucket/prefix:
  DST/train/NAME-train-00000.rec, DST/validation/..., DST/test/... (a channel holds .rec files only)
  DST/meta/NAME-<split>-00000.idx/.lst, classes.json, rejects.jsonl, dataset.json (written last)
"""

EPILOG = """\
exit codes: 0 every input packed; 2 some inputs rejected (see DST/meta/rejects.jsonl), or
--fail-on-reject held back dataset.json; 1 fatal error (bad option, unreadable SRC, unwritable DST).

im2rec.py migration: `im2rec.py PREFIX ROOT --pass-through` on PREFIX.lst is
`satrec convert PREFIX.lst DST --root ROOT --no-shuffle --pass-through` (train split only, same
.rec/.idx bytes); `--num-thread` is --num-workers; `--list` is not needed (SRC can be the folder).
"""


def _encoding(text: str) -> str:
    value = text.lower()
    value = value if value.startswith(".") else "." + value
    if value == ".jpeg":
        value = ".jpg"
    if value not in (".jpg", ".png"):
        raise argparse.ArgumentTypeError(f"{text!r}: choose jpg or png")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return value


def register(subparsers: Any) -> None:
    from satrec.imaging import RESAMPLE, SUBSAMPLING, ImageSettings  # stdlib-only module: keeps --help fast

    p = subparsers.add_parser("convert", help="images (folder, .lst, .csv, s3://) -> RecordIO dataset",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", metavar="SRC", help="class-per-folder DIR, LIST.lst, MANIFEST.csv or s3://bucket/prefix")
    p.add_argument("dst", metavar="DST", help="output folder or s3://bucket/prefix")

    g = p.add_argument_group("inputs")
    g.add_argument("--root", help="folder that .lst/.csv paths are relative to (default: the list's folder)")
    g.add_argument("--exts", nargs="+", metavar="EXT", default=None,
                   help="file extensions to take, case-insensitive (default: .jpg .jpeg .png .bmp .gif .webp "
                        ".tif .tiff); other files are counted as skipped")

    g.add_argument("--recursive", action="store_true",
                   help="accepted for im2rec compatibility: class folders are always walked recursively")

    g = p.add_argument_group("split and order")
    g.add_argument("--train-ratio", type=_positive_float, default=None,
                   help="share of inputs for train (default 0.8; 1.0 for a .lst, which is usually one split)")
    g.add_argument("--val-ratio", type=_positive_float, default=None,
                   help="share for validation (default: what train and test leave)")
    g.add_argument("--test-ratio", type=_positive_float, default=0.0, help="share for test (default 0)")
    g.add_argument("--stratify", action="store_true",
                   help="exact ratios within every class (default: per-file hash, ratios hold on average)")
    g.add_argument("--seed", type=int, default=0, help="seed of the split and the record shuffle (default 0)")
    g.add_argument("--no-shuffle", dest="shuffle", action="store_false",
                   help="keep input order inside each split (im2rec --no-shuffle)")

    g = p.add_argument_group("images")
    g.add_argument("--resize", type=int, default=0, metavar="PX",
                   help="resize the shorter side to PX (default 0: keep the size)")
    g.add_argument("--center-crop", action="store_true", help="crop the central square before resizing")
    g.add_argument("--min-size", type=int, default=0, metavar="PX",
                   help="upscale so both sides are at least PX (SageMaker rejects images smaller than image_shape)")
    g.add_argument("--quality", type=int, default=95, help="JPEG quality 1-100, or PNG compression 0-9 (default 95)")
    g.add_argument("--encoding", type=_encoding, default=".jpg", help="jpg or png (default jpg)")
    g.add_argument("--pass-through", action="store_true",
                   help="store conforming JPEG/PNG files byte for byte (they are still decoded once to prove "
                        "they are sound); others are converted")
    g.add_argument("--max-pixels", type=int, default=None,
                   help="reject images with more pixels than this (decompression bombs; default Pillow's limit)")
    g.add_argument("--high-bit-depth", choices=("scale", "stretch"), default="scale",
                   help="16-bit/float inputs: scale the full range, or stretch min..max, to 8 bits (default scale)")
    g.add_argument("--color", type=int, default=1,
                   help="im2rec compatibility: only 1 (colour) is accepted; records are always 3-channel RGB")
    g.add_argument("--resample", choices=RESAMPLE, default=ImageSettings.resample,
                   help=f"filter used when shrinking (default {ImageSettings.resample}, antialiased)")
    g.add_argument("--subsampling", choices=SUBSAMPLING, default="4:4:4",
                   help="JPEG chroma subsampling (default 4:4:4; 4:2:0 gives im2rec-sized files)")

    g = p.add_argument_group("labels and output")
    g.add_argument("--pack-label", action="store_true",
                   help="for a .lst with several label columns, store all of them (im2rec --pack-label); "
                        "CSV manifests with several labels always do")
    g.add_argument("--name", help="dataset name used in file names (default: SRC's folder or file name)")
    g.add_argument("--shards", type=int, default=None, metavar="N", help="cut each split into N shards")
    g.add_argument("--shard-size", type=_positive_float, default=None, metavar="MB",
                   help="start a new shard before a .rec would exceed MB megabytes")

    g = p.add_argument_group("running")
    g.add_argument("--num-workers", "--num-thread", dest="num_workers", type=int, default=0, metavar="N",
                   help="processes that read and decode (default: one per CPU; with --pass-through the main "
                        "process is one of them); output is identical for any N")
    g.add_argument("--fail-on-reject", action="store_true",
                   help="do not publish dataset.json when any input is rejected (exit 2)")
    g.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    g.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar (it only shows on a terminal anyway)")
    from satrec.geo.cli_options import add_arguments as add_scene_arguments  # pure: argparse only

    add_scene_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os

    # numpy (imported by simplejpeg for pass-through, and for 16-bit images) starts one OpenBLAS thread
    # per core at import, in every worker; conversion does no linear algebra, and on 2 cores those
    # threads cost ~0.07 s of CPU per run (measured). An explicit setting by the user wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from satrec.cli import EXIT_OK, EXIT_REJECTS
    from satrec.convert import ConvertOptions, convert
    from satrec.geo.cli_options import options_from_args as scene_options_from_args
    from satrec.imaging import PILLOW_MAX_PIXELS, ImageSettings
    from satrec.sources import DEFAULT_EXTS

    if args.color != 1:
        from satrec.errors import UsageError

        raise UsageError(f"--color {args.color} is not supported: records are always 3-channel RGB, which "
                         "the SageMaker algorithm and ImageRecordIter expect; drop the option")
    image = ImageSettings(resize=args.resize, center_crop=args.center_crop, min_size=args.min_size,
                          quality=args.quality, encoding=args.encoding, pass_through=args.pass_through,
                          max_pixels=args.max_pixels or PILLOW_MAX_PIXELS, high_bit_depth=args.high_bit_depth,
                          resample=args.resample, subsampling=args.subsampling)
    options = ConvertOptions(
        src=args.src, dst=args.dst, name=args.name, image=image,
        exts=tuple(args.exts) if args.exts else DEFAULT_EXTS, root=args.root,
        train_ratio=args.train_ratio, val_ratio=args.val_ratio, test_ratio=args.test_ratio,
        seed=args.seed, shuffle=args.shuffle, stratify=args.stratify,
        shards=args.shards, shard_size_mb=args.shard_size, pack_label=args.pack_label,
        num_workers=args.num_workers, fail_on_reject=args.fail_on_reject,
        scenes=scene_options_from_args(args),
    )
    bar = _Progress(enabled=args.progress and sys.stderr.isatty())
    try:
        result = convert(options, progress=bar.update if bar.enabled else None, on_plan=bar.start)
    finally:
        bar.close()
    summary = result.summary()
    code = EXIT_REJECTS if result.rejected else EXIT_OK
    summary["exit_code"] = code
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    _print_human(summary, sys.stderr if args.json else sys.stdout)
    return code


class _Progress:
    """tqdm on a terminal only: logs and pipes get the one-line summary, not carriage returns."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None

    def start(self, total: int) -> None:
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _print_human(summary: dict[str, Any], out: Any) -> None:
    inputs = summary["inputs"]
    splits = ", ".join(f"{k} {v['records']} in {len(v['shards'])} shard(s)" for k, v in summary["splits"].items())
    print(f"{summary['name']}: packed {inputs['packed']} of {inputs['total']} inputs ({splits}); "
          f"rejected {inputs['rejected']}, skipped {inputs['skipped']}; {summary['seconds']:.1f} s "
          f"-> {summary['destination']}", file=out)
    if summary["rejects_by_reason"]:
        reasons = ", ".join(f"{k} {v}" for k, v in summary["rejects_by_reason"].items())
        print(f"  rejected: {reasons} (details in meta/rejects.jsonl)", file=out)
    for warning in summary["warnings"]:
        print(f"  warning: {warning}", file=out)
    if not summary["published"]:
        print("  dataset.json not written (--fail-on-reject)", file=out)
