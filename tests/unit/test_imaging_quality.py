"""Output quality at least im2rec's: PSNR against a Lanczos downscale of the fully decoded original."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from satrec.imaging import ImageSettings, normalise

cv2 = pytest.importorskip("cv2")


def satellite_like(w: int, h: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    fields = Image.fromarray(rng.integers(40, 200, (h // 48 + 1, w // 48 + 1, 3), dtype=np.uint8))
    arr = np.asarray(fields.resize((w, h), Image.Resampling.NEAREST), dtype=np.float32)
    arr = np.clip(arr + rng.normal(0, 5, arr.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def im2rec_resize_224(data: bytes) -> np.ndarray:
    """What im2rec.py does: cv2.imdecode, cv2.resize (INTER_LINEAR) to shorter side 224, JPEG q95."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    size = (224, h * 224 // w) if h > w else (w * 224 // h, 224)
    _ok, buf = cv2.imencode(".jpg", cv2.resize(img, size), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize(("w", "h"), [(512, 512), (800, 600), (1024, 768), (2048, 2048)])
def test_normalised_output_is_at_least_as_close_to_a_lanczos_downscale_as_im2rec(w, h):
    data = satellite_like(w, h, seed=w + h)
    full = Image.open(io.BytesIO(data)).convert("RGB")
    size = (224, h * 224 // w) if h > w else (w * 224 // h, 224)
    reference = np.asarray(full.resize(size, Image.Resampling.LANCZOS))
    ours = np.asarray(Image.open(io.BytesIO(normalise(data, ImageSettings(resize=224, quality=95)).data)))
    theirs = im2rec_resize_224(data)
    assert ours.shape == theirs.shape == reference.shape
    assert psnr(ours, reference) >= psnr(theirs, reference) + 1.0



def test_default_filter_keeps_a_margin_over_im2rec_on_the_benchmark_land_cover_textures():
    """The judged corpora's textures (bench/corpora.py: fields, canopy, roofs, waves, dunes), 512 px.

    This is what ruled out the faster Hamming and bilinear filters (decision 0090): on these ten
    images they are level with im2rec on average (+0.0 / -0.2 dB), bicubic is +1.3 dB.
    """
    from bench.corpora import CLASSES, CorpusSpec, render

    spec = CorpusSpec("unit", 10, 512, seed=7)
    ours, theirs = [], []
    for i in range(10):
        data = render(spec, i, CLASSES[i % len(CLASSES)])
        reference = np.asarray(Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224), Image.Resampling.LANCZOS))
        stored = normalise(data, ImageSettings(resize=224, quality=95)).data
        ours.append(psnr(np.asarray(Image.open(io.BytesIO(stored))), reference))
        theirs.append(psnr(im2rec_resize_224(data), reference))
    assert np.mean(ours) >= np.mean(theirs) + 1.0
    assert min(ours) >= min(theirs)
