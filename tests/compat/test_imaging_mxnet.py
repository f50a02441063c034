"""MXNet decodes what ``normalise`` produces: the expected shape, colours and 16-bit dynamic range."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from satrec import recordio
from satrec.imaging import ImageSettings, normalise

mx = pytest.importorskip("mxnet")
pytestmark = pytest.mark.mxnet


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def textured(w: int, h: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(w * 7 + h)
    base = rng.integers(0, 255, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    return Image.fromarray(base).resize((w, h), Image.Resampling.BICUBIC).convert(mode)


INPUTS = [
    ("rgb-jpeg", lambda: encode(textured(640, 480), "JPEG"), ImageSettings(resize=224), (224, 298)),
    ("gray-png-crop", lambda: encode(textured(300, 500, "L"), "PNG"), ImageSettings(resize=64, center_crop=True),
     (64, 64)),
    ("cmyk-jpeg", lambda: encode(textured(200, 100, "CMYK"), "JPEG"), ImageSettings(resize=50), (50, 100)),
    ("rgba-png-to-png", lambda: encode(textured(80, 60, "RGBA"), "PNG"), ImageSettings(encoding=".png"), (60, 80)),
    ("small-upscaled", lambda: encode(textured(64, 64), "JPEG"), ImageSettings(min_size=224), (224, 224)),
    ("pass-through", lambda: encode(textured(120, 90), "JPEG"), ImageSettings(pass_through=True), (90, 120)),
]


@pytest.mark.parametrize(("name", "make", "settings", "shape"), INPUTS, ids=[i[0] for i in INPUTS])
def test_records_of_normalised_images_decode_in_mxnet_to_the_expected_shape(tmp_path, name, make, settings, shape):
    result = normalise(make(), settings)
    rec, idx = tmp_path / "x.rec", tmp_path / "x.idx"
    with open(rec, "wb") as r, open(idx, "wb") as i:
        recordio.RecordWriter(r, i).write(recordio.pack_image_record([3.0], result.data, id=7), key=7)
    reader = mx.recordio.MXIndexedRecordIO(str(idx), str(rec), "r")
    header, img = mx.recordio.unpack(reader.read_idx(7))
    assert header.label == 3.0 and header.id == 7
    decoded = mx.image.imdecode(img).asnumpy()
    assert decoded.shape == (*shape, 3)
    assert (result.height, result.width) == shape
    # MXNet (OpenCV) and Pillow see the same pixels, up to JPEG decoder rounding.
    ours = np.asarray(Image.open(io.BytesIO(result.data)).convert("RGB")).astype(int)
    assert np.abs(decoded.astype(int) - ours).mean() < 2.0


def test_16_bit_inputs_keep_their_dynamic_range_after_mxnet_decodes_them():
    arr = np.linspace(0, 65535, 64 * 256).round().astype(np.uint16).reshape(64, 256)
    result = normalise(encode(Image.fromarray(arr), "PNG"), ImageSettings(encoding=".png"))
    decoded = mx.image.imdecode(result.data).asnumpy()[..., 0].astype(int)
    expected = np.rint(arr.astype(float) * 255 / 65535).astype(int)
    assert np.array_equal(decoded, expected)
    assert decoded.min() == 0 and decoded.max() == 255
    assert len(np.unique(decoded)) == 256          # every output level used: nothing clipped or wrapped
    # A 12-bit sensor stored in 16 bits, stretched, also spans the full 8-bit range in MXNet's eyes.
    sensor = np.linspace(200, 4000, 64 * 256).round().astype(np.uint16).reshape(64, 256)
    stretched = normalise(encode(Image.fromarray(sensor), "TIFF"), ImageSettings(high_bit_depth="stretch"))
    seen = mx.image.imdecode(stretched.data).asnumpy()[..., 0]
    assert seen.min() <= 2 and seen.max() >= 253


def test_exif_rotated_input_reaches_mxnet_upright():
    exif = Image.Exif()
    exif[0x0112] = 6
    result = normalise(encode(textured(400, 300), "JPEG", exif=exif.tobytes()), ImageSettings(resize=150))
    assert mx.image.imdecode(result.data).shape == (200, 150, 3)


def test_image_record_iter_reads_a_shard_of_normalised_images(tmp_path):
    # Mixed inputs (gray PNG, CMYK JPEG, RGBA PNG, 16-bit PNG, EXIF-rotated JPEG) normalised to
    # 32x32 with the defaults (4:4:4 JPEG): MXNet's own data pipeline decodes every one.
    exif = Image.Exif()
    exif[0x0112] = 8
    sixteen = np.linspace(0, 65535, 40 * 50).astype(np.uint16).reshape(40, 50)
    inputs = [encode(textured(50, 40, "L"), "PNG"), encode(textured(60, 40, "CMYK"), "JPEG"),
              encode(textured(40, 70, "RGBA"), "PNG"), encode(Image.fromarray(sixteen), "PNG"),
              encode(textured(80, 40), "JPEG", exif=exif.tobytes()), encode(textured(33, 90), "JPEG")]
    settings = ImageSettings(resize=32, center_crop=True)
    rec, idx = tmp_path / "mixed.rec", tmp_path / "mixed.idx"
    with open(rec, "wb") as r, open(idx, "wb") as i:
        writer = recordio.RecordWriter(r, i)
        for key, data in enumerate(inputs):
            image = normalise(data, settings)
            assert (image.width, image.height) == (32, 32)
            writer.write(recordio.pack_image_record([float(key % 3)], image.data, id=key), key=key)
    it = mx.io.ImageRecordIter(path_imgrec=str(rec), path_imgidx=str(idx), data_shape=(3, 32, 32),
                               batch_size=len(inputs), shuffle=False, round_batch=False)
    batch = next(iter(it))
    assert batch.data[0].shape == (len(inputs), 3, 32, 32)
    assert batch.label[0].asnumpy().tolist() == [float(k % 3) for k in range(len(inputs))]
    assert batch.pad == 0
