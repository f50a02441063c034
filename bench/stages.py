"""Where the time goes per image: CPU cost of each stage of satrec's and im2rec's pipelines, in-process.

Not a test and not judged: a profiling aid for RESULTS.md. CPU time (``time.process_time``), one
core, so a busy machine distorts it far less than wall time. Usage::

    python -m bench.stages bench/out/corpora/jpeg512 --n 40
    python -m bench.stages bench/out/corpora/chips64 --n 500 --pass-through
"""

from __future__ import annotations

import argparse
import io
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _per_image_ms(fn: Callable[[Any], object], datas: list[Any], repeat: int = 3) -> float:
    fn(datas[0])
    best = float("inf")
    for _ in range(repeat):  # best of a few: the least disturbed by other work
        start = time.process_time()
        for data in datas:
            fn(data)
        best = min(best, time.process_time() - start)
    return best / len(datas) * 1000


def resize_stages(datas: list[bytes], resize: int) -> list[tuple[str, float]]:
    import cv2
    import numpy as np
    from PIL import Image

    from satrec.convert import _use_settings, process_one
    from satrec.imaging import ImageSettings, normalise
    from satrec.recordio import pack_header

    cv2.setNumThreads(1)  # one core, like one im2rec worker process
    settings = ImageSettings(resize=resize, quality=95).validate()
    _use_settings(settings)
    header = pack_header([0.0], 0)
    size = Image.open(io.BytesIO(datas[0])).size
    target = (resize, resize) if size[0] == size[1] else None
    if target is None:
        raise SystemExit("stages: use a corpus of square images")

    def pil_open(d: bytes):
        return Image.open(io.BytesIO(d))

    def pil_draft(d: bytes):
        im = pil_open(d)
        im.draft("RGB", target)
        im.load()
        return im

    drafted = pil_draft(datas[0])
    small = drafted.resize(target, Image.Resampling.BICUBIC)

    def encode(im, subsampling: str) -> bytes:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=95, subsampling=subsampling)
        return buf.getvalue()

    decoded = cv2.imdecode(np.frombuffer(datas[0], np.uint8), cv2.IMREAD_COLOR)
    resized = cv2.resize(decoded, target)
    rows = [
        ("satrec: Image.open (header parse)", lambda d: pil_open(d)),
        ("satrec: draft decode", pil_draft),
        ("satrec: bicubic resize of the drafted image", lambda d: drafted.resize(target, Image.Resampling.BICUBIC,
                                                                                 reducing_gap=3.0)),
        ("satrec: bilinear resize of the drafted image", lambda d: drafted.resize(target, Image.Resampling.BILINEAR,
                                                                                  reducing_gap=3.0)),
        ("satrec: JPEG encode q95 4:4:4", lambda d: encode(small, "4:4:4")),
        ("satrec: normalise() total", lambda d: normalise(d, settings)),
        ("satrec: worker task total (+ framing, pickling)",
         lambda d: pickle.loads(pickle.dumps(process_one(("x", None, d, header))))),
        ("im2rec: cv2.imdecode (full size)", lambda d: cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR)),
        ("im2rec: cv2.resize INTER_LINEAR", lambda d: cv2.resize(decoded, target)),
        ("im2rec: cv2.imencode q95", lambda d: cv2.imencode(".jpg", resized, [cv2.IMWRITE_JPEG_QUALITY, 95])),
        ("alternative: cv2.imdecode IMREAD_REDUCED_COLOR_2",
         lambda d: cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_REDUCED_COLOR_2)),
        ("alternative: cv2.resize INTER_AREA of the drafted image",
         lambda d: cv2.resize(np.asarray(drafted), target, interpolation=cv2.INTER_AREA)),
    ]
    return [(name, _per_image_ms(fn, datas)) for name, fn in rows]


def pass_through_stages(paths: list[Path]) -> list[tuple[str, float]]:
    from satrec.convert import _use_settings, process_one
    from satrec.imaging import ImageSettings
    from satrec.recordio import frame, pack_header

    settings = ImageSettings(pass_through=True).validate()
    _use_settings(settings)
    header = pack_header([0.0], 0)
    locations = [str(p) for p in paths]
    datas = [p.read_bytes() for p in paths]
    read_ms = _per_image_ms(lambda loc: Path(loc).read_bytes(), locations)
    rows = [
        ("baseline: read one file", read_ms),
        ("satrec: frame a record (header + RecordIO framing)",
         _per_image_ms(lambda d: frame(header + d), datas)),
        ("satrec: worker task total (prove decode, frame), bytes given",
         _per_image_ms(lambda d: process_one(("x", None, d, header)), datas)),
        ("satrec: + pickling the result to the main process",
         _per_image_ms(lambda d: pickle.loads(pickle.dumps(process_one(("x", None, d, header)))), datas)),
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--n", type=int, default=40, help="images, taken evenly across the corpus")
    parser.add_argument("--resize", type=int, default=224)
    parser.add_argument("--pass-through", action="store_true")
    args = parser.parse_args(argv)
    files = sorted(args.corpus.rglob("*.jpg"))
    if not files:
        print(f"stages: no .jpg under {args.corpus}", file=sys.stderr)
        return 1
    picked = files[:: max(1, len(files) // args.n)][: args.n]
    rows = (pass_through_stages(picked) if args.pass_through
            else resize_stages([p.read_bytes() for p in picked], args.resize))
    print(f"{args.corpus.name}: {len(picked)} images, CPU ms per image (best of 3)")
    for name, ms in rows:
        print(f"  {ms:8.3f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
