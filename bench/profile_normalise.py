"""Speed and quality of ``satrec.imaging.normalise`` on synthetic satellite-like JPEGs.

Not a test: run by hand, ``python bench/profile_normalise.py [--size 2048] [--n 20]``. Compares
satrec's path (DCT-domain draft decode + Lanczos) with im2rec's (cv2.imdecode + cv2.resize with its
default INTER_LINEAR, cv2.imencode q95), and reports PSNR of each 224 px output against a Lanczos
downscale of the fully decoded original (the judged quality measure).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np
from PIL import Image

from satrec.imaging import ImageSettings, normalise


def satellite_like(size: int, seed: int) -> bytes:
    """Fields of flat colour with soft edges, low-frequency shading and sensor-like grain."""
    rng = np.random.default_rng(seed)
    h, w = size, size * 3 // 4
    base = Image.fromarray(rng.integers(40, 200, (h // 64 + 1, w // 64 + 1, 3), dtype=np.uint8))
    fields = np.asarray(base.resize((w, h), Image.Resampling.NEAREST), dtype=np.float32)
    shade = np.asarray(Image.fromarray(rng.integers(0, 60, (8, 8), dtype=np.uint8)).resize(
        (w, h), Image.Resampling.BICUBIC), dtype=np.float32)[..., None]
    grain = rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    arr = np.clip(fields + shade - 30 + grain, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def reference(data: bytes, resize: int) -> np.ndarray:
    im = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = im.size
    size = (resize, h * resize // w) if h > w else (w * resize // h, resize)
    return np.asarray(im.resize(size, Image.Resampling.LANCZOS))


def im2rec_like(data: bytes, resize: int) -> bytes:
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    size = (resize, h * resize // w) if h > w else (w * resize // h, resize)
    img = cv2.resize(img, size)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--resize", type=int, default=224)
    args = parser.parse_args()
    import cv2

    cv2.setNumThreads(1)
    inputs = [satellite_like(args.size, i) for i in range(args.n)]
    settings = ImageSettings(resize=args.resize, quality=95)
    refs = [reference(d, args.resize) for d in inputs]
    runners = (("satrec", lambda d: normalise(d, settings).data), ("im2rec", lambda d: im2rec_like(d, args.resize)))
    for label, fn in runners:
        fn(inputs[0])
        start = time.perf_counter()
        outs = [fn(d) for d in inputs]
        elapsed = time.perf_counter() - start
        quality = statistics.mean(psnr(decode(o), r) for o, r in zip(outs, refs, strict=True))
        print(f"{label}: {args.size}px -> {args.resize}: {args.n / elapsed:7.1f} img/s (1 core), "
              f"PSNR vs Lanczos {quality:.2f} dB, {statistics.mean(map(len, outs)) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
