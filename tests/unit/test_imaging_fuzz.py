"""Bad bytes never crash normalisation: every outcome is a result or an ImageRejected with a known reason."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from satrec.errors import ImageRejected
from satrec.imaging import REASONS, ImageSettings, check_decodes, image_size, normalise


def _sample(fmt: str) -> bytes:
    rng = np.random.default_rng(len(fmt))
    im = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


SAMPLES = {fmt: _sample(fmt) for fmt in ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF")}
SETTINGS = [ImageSettings(), ImageSettings(resize=16), ImageSettings(pass_through=True),
            ImageSettings(resize=8, center_crop=True, min_size=12, encoding=".png")]


def _outcome(data: bytes, config: ImageSettings) -> None:
    try:
        result = normalise(data, config)
    except ImageRejected as exc:
        assert exc.reason in REASONS
        return
    assert result.width > 0 and result.height > 0 and result.data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(sorted(SAMPLES)), cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1),
       st.integers(1, 255)), max_size=4), which=st.integers(0, len(SETTINGS) - 1))
def test_damaged_images_are_rejected_with_a_known_reason_or_decoded(fmt, cut, flips, which):
    data = bytearray(SAMPLES[fmt])
    for where, xor in flips:
        data[int(where * (len(data) - 1))] ^= xor
    data = bytes(data[: max(0, int(len(data) * cut)) or len(data)])
    _outcome(data, SETTINGS[which])
    for probe in (image_size, check_decodes):
        try:
            probe(data)
        except ImageRejected as exc:
            assert exc.reason in REASONS


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_are_rejected_with_a_known_reason(data):
    _outcome(data, ImageSettings(resize=16))
