"""The fast path of --pass-through (a marker walk and a 1/8-scale libjpeg-turbo decode, through
Pillow's decoder core or simplejpeg) agrees with the general (Pillow) path."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image

from satrec import imaging
from satrec.errors import ImageRejected
from satrec.imaging import ImageSettings, normalise

PASS = ImageSettings(pass_through=True)


@pytest.fixture(autouse=True, params=["pillow", "simplejpeg"])
def decoder(request, monkeypatch):
    """Every test runs with each proof decoder (a process uses simplejpeg once it has loaded it)."""
    if request.param == "simplejpeg":
        simplejpeg = pytest.importorskip("simplejpeg")
        monkeypatch.setattr(imaging, "_simplejpeg", simplejpeg)
    else:
        monkeypatch.setattr(imaging, "_simplejpeg", None)
    return request.param


def jpeg(w: int = 64, h: int = 48, mode: str = "RGB", **params) -> bytes:
    rng = np.random.default_rng(w * h)
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    im = Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, **params)
    return buf.getvalue()


def general(data: bytes, settings: ImageSettings = PASS):
    """The same call with the fast path switched off."""
    original = imaging._pass_through_plain_jpeg
    imaging._pass_through_plain_jpeg = lambda *_: None
    try:
        return normalise(data, settings)
    finally:
        imaging._pass_through_plain_jpeg = original


def outcome(fn, data: bytes):
    try:
        result = fn(data)
        return ("packed", result.data, result.width, result.height, result.passed_through)
    except ImageRejected as exc:
        return ("rejected", exc.reason)


def test_plain_rgb_and_gray_jpegs_take_the_fast_path_and_keep_their_bytes():
    for data in (jpeg(), jpeg(mode="L")):
        assert imaging._pass_through_plain_jpeg(data, PASS) is not None
        result = normalise(data, PASS)
        assert result.data == data and result.passed_through
        assert (result.width, result.height) == (64, 48)


def test_jpeg_with_exif_goes_the_general_way_so_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = jpeg(exif=exif.tobytes())
    assert imaging._pass_through_plain_jpeg(data, PASS) is None
    result = normalise(data, PASS)
    assert not result.passed_through and (result.width, result.height) == (48, 64)


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.98])
def test_truncated_jpeg_is_rejected_as_truncated(cut):
    data = jpeg(256, 256)
    assert outcome(lambda d: normalise(d, PASS), data[: int(len(data) * cut)])[0] == "rejected"


def test_fast_and_general_paths_agree_on_damaged_jpegs():
    rng = random.Random(7)
    base = jpeg(96, 80)
    for _ in range(150):
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(2, len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(4, len(data))]
        fast, slow = outcome(lambda d: normalise(d, PASS), bytes(data)), outcome(general, bytes(data))
        if fast[0] == "packed":
            # The fast path only accepts what libjpeg decodes without a warning: Pillow must agree.
            assert slow[0] == "packed" and fast[1] == bytes(data)
        else:
            assert fast == slow


def test_min_size_and_pixel_limit_still_apply_on_the_fast_path():
    data = jpeg(64, 48)
    with pytest.raises(ImageRejected) as exc:
        normalise(data, ImageSettings(pass_through=True, min_size=64))
    assert exc.value.reason == "too_small"
    with pytest.raises(ImageRejected) as exc:
        normalise(data, ImageSettings(pass_through=True, max_pixels=1000))
    assert exc.value.reason == "decompression_bomb"


def test_progressive_jpeg_takes_the_fast_path():
    data = jpeg(64, 48, progressive=True)
    assert imaging._pass_through_plain_jpeg(data, PASS) is not None
    assert normalise(data, PASS).data == data


def test_jpeg_with_an_mpf_segment_goes_the_general_way():
    # Pillow opens a JPEG with an APP2 "MPF" segment as MPO: the fast path must not decide for it.
    data = jpeg()
    mpf = b"\xff\xe2" + (2 + 8).to_bytes(2, "big") + b"MPF\0" + b"\0" * 4
    data = data[:2] + mpf + data[2:]
    assert imaging._pass_through_plain_jpeg(data, PASS) is None


def test_cmyk_and_twelve_bit_frames_go_the_general_way():
    cmyk = jpeg(mode="RGB")
    im = Image.open(io.BytesIO(cmyk)).convert("CMYK")
    buf = io.BytesIO()
    im.save(buf, "JPEG")
    assert imaging._pass_through_plain_jpeg(buf.getvalue(), PASS) is None
    data = bytearray(jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 4] = 12   # sample precision
    assert imaging._pass_through_plain_jpeg(bytes(data), PASS) is None


def test_tiny_jpegs_are_proven_at_the_scale_pillow_would_pick():
    for w, h in ((1, 1), (3, 40), (7, 7), (9, 2)):
        data = jpeg(w, h)
        result = normalise(data, PASS)
        assert result.data == data and (result.width, result.height) == (w, h)


def test_load_simplejpeg_switches_this_process_to_it(monkeypatch):
    pytest.importorskip("simplejpeg")
    monkeypatch.setattr(imaging, "_simplejpeg", None)
    assert imaging.load_simplejpeg() is True
    assert imaging._simplejpeg is not None
