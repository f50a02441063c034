"""Per-image normalisation rules: geometry, modes, orientation, pass-through and rejections."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from satrec.errors import ImageRejected, UsageError
from satrec.imaging import ImageSettings, image_size, normalise


def encode(im: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def textured(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (max(1, h // 16), max(1, w // 16), 3), dtype=np.uint8)
    return Image.fromarray(base).resize((w, h), Image.Resampling.BICUBIC)


def decoded(result) -> Image.Image:
    im = Image.open(io.BytesIO(result.data))
    im.load()
    return im


def reason_of(data: bytes, settings: ImageSettings | None = None) -> str:
    with pytest.raises(ImageRejected) as info:
        normalise(data, settings or ImageSettings())
    return info.value.reason


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG structure announcing a size, with (almost) no pixel data: a bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + png_chunk(b"IEND", b""))


# ------------------------------------------------------------------------------------ geometry


@pytest.mark.parametrize(("size", "expected"), [((400, 300), (298, 224)), ((300, 400), (224, 298)),
                                                ((224, 224), (224, 224)), ((100, 50), (448, 224))])
def test_resize_sets_the_shorter_side_and_rounds_the_longer_down_like_im2rec(size, expected):
    result = normalise(encode(textured(*size)), ImageSettings(resize=224))
    assert (result.width, result.height) == expected
    assert decoded(result).size == expected
    assert not result.passed_through


def test_center_crop_takes_the_central_square_before_resizing():
    # Left third red, middle green, right third blue: the central square is all green.
    arr = np.zeros((300, 900, 3), np.uint8)
    arr[:, :300, 0] = 255
    arr[:, 300:600, 1] = 255
    arr[:, 600:, 2] = 255
    result = normalise(encode(Image.fromarray(arr), "PNG"), ImageSettings(resize=100, center_crop=True))
    assert (result.width, result.height) == (100, 100)
    pixels = np.asarray(decoded(result)).astype(int)
    assert pixels[:, 5:95, 1].min() > 200 and pixels[:, 5:95, 0].max() < 40 and pixels[:, 5:95, 2].max() < 40


def test_min_size_upscales_small_chips_so_both_sides_reach_it():
    result = normalise(encode(textured(64, 48)), ImageSettings(min_size=224))
    assert (result.width, result.height) == (299, 224)
    assert decoded(result).size == (299, 224)


def test_without_resize_the_image_keeps_its_size():
    result = normalise(encode(textured(123, 77)), ImageSettings())
    assert (result.width, result.height) == (123, 77)


def test_output_that_would_exceed_max_pixels_is_rejected_as_too_large():
    strip = encode(textured(2000, 1), "PNG")
    assert reason_of(strip, ImageSettings(resize=224, max_pixels=100_000)) == "too_large"


# ------------------------------------------------------------------------------------ orientation


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_exif_orientation_is_applied_and_no_exif_is_written(orientation):
    # A landscape image whose left half is red and right half blue.
    arr = np.zeros((60, 100, 3), np.uint8)
    arr[:, :50, 0] = 255
    arr[:, 50:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(Image.fromarray(arr), "JPEG", quality=95, exif=exif.tobytes())
    result = normalise(data, ImageSettings())
    im = decoded(result)
    assert not im.getexif()
    pixels = np.asarray(im).astype(int)
    if orientation == 3:   # rotated 180: blue on the left
        assert im.size == (100, 60)
        assert pixels[30, 10, 2] > 200 and pixels[30, 90, 0] > 200
    elif orientation == 6:  # rotate 90 clockwise to view: red ends up on top
        assert im.size == (60, 100)
        assert pixels[10, 30, 0] > 200 and pixels[90, 30, 2] > 200
    else:                   # 8: rotate 90 counter-clockwise: red at the bottom
        assert im.size == (60, 100)
        assert pixels[90, 30, 0] > 200 and pixels[10, 30, 2] > 200


def test_orientation_is_applied_before_resize_geometry():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(textured(400, 300), "JPEG", exif=exif.tobytes())
    result = normalise(data, ImageSettings(resize=150))
    assert (result.width, result.height) == (150, 200)


# ------------------------------------------------------------------------------------ pixel modes


@pytest.mark.parametrize("mode", ["L", "1", "CMYK", "P", "RGB"])
def test_every_colour_mode_becomes_8_bit_rgb(mode):
    source = textured(40, 30).convert(mode)
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    im = decoded(normalise(encode(source, fmt), ImageSettings()))
    assert im.mode == "RGB" and im.format == "JPEG"


def test_cmyk_jpeg_becomes_rgb():
    im = decoded(normalise(encode(textured(64, 64).convert("CMYK"), "JPEG"), ImageSettings(resize=32)))
    assert im.mode == "RGB" and im.size == (32, 32)


def test_alpha_is_composited_over_black_by_default_and_the_background_is_configurable():
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0] = 255          # pure red ...
    rgba[:, :10, 3] = 255       # ... opaque on the left, fully transparent on the right
    data = encode(Image.fromarray(rgba, "RGBA"), "PNG")
    black = np.asarray(decoded(normalise(data, ImageSettings(encoding=".png"))))
    assert tuple(black[5, 2]) == (255, 0, 0) and tuple(black[5, 17]) == (0, 0, 0)
    white = np.asarray(decoded(normalise(data, ImageSettings(encoding=".png", background=(255, 255, 255)))))
    assert tuple(white[5, 17]) == (255, 255, 255)


def test_la_and_palette_transparency_are_composited():
    la = Image.fromarray(np.stack([np.full((8, 8), 200, np.uint8), np.zeros((8, 8), np.uint8)], -1), "LA")
    assert tuple(np.asarray(decoded(normalise(encode(la, "PNG"), ImageSettings(encoding=".png"))))[0, 0]) == (0, 0, 0)
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    data = encode(pal, "PNG", transparency=1)
    assert tuple(np.asarray(decoded(normalise(data, ImageSettings(encoding=".png"))))[0, 0]) == (0, 0, 0)


def gradient16(lo: int, hi: int) -> np.ndarray:
    return np.linspace(lo, hi, 256 * 4).round().astype(np.uint16).reshape(4, 256)


def test_16_bit_is_scaled_over_the_full_range_never_truncated_or_saturated():
    arr = gradient16(0, 65535)
    data = encode(Image.fromarray(arr), "PNG")
    out = np.asarray(decoded(normalise(data, ImageSettings(encoding=".png"))))[..., 0].astype(int)
    expected = np.rint(arr.astype(float) * 255 / 65535).astype(int)
    assert np.array_equal(out, expected)
    assert out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out[0]) >= 0)   # monotonic: the low byte (truncation) would wrap around


def test_16_bit_mid_values_map_proportionally():
    arr = np.full((4, 4), 1000, np.uint16)
    out = np.asarray(decoded(normalise(encode(Image.fromarray(arr), "PNG"), ImageSettings(encoding=".png"))))
    # 1000/65535*255 = 3.9 -> 4; saturation would give 255 and truncation (1000 & 255) 232.
    assert set(np.unique(out)) == {4}


def test_16_bit_stretch_maps_each_images_own_range_onto_0_255():
    arr = gradient16(1000, 5000)   # a 12-bit sensor's values
    data = encode(Image.fromarray(arr), "TIFF")
    out = np.asarray(decoded(normalise(data, ImageSettings(encoding=".png", high_bit_depth="stretch"))))[..., 0]
    assert out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out[0].astype(int)) >= 0)


def test_float_images_in_0_1_are_scaled_and_others_stretched():
    unit = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    out = np.asarray(decoded(normalise(encode(Image.fromarray(unit, "F"), "TIFF"), ImageSettings(encoding=".png"))))
    assert out[..., 0].min() == 0 and out[..., 0].max() == 255
    wide = (unit * 3000 - 500).astype(np.float32)
    out = np.asarray(decoded(normalise(encode(Image.fromarray(wide, "F"), "TIFF"), ImageSettings(encoding=".png"))))
    assert out[..., 0].min() == 0 and out[..., 0].max() == 255


def test_animated_gif_contributes_its_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in ((250, 0, 0), (0, 0, 250))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    im = decoded(normalise(buf.getvalue(), ImageSettings(encoding=".png")))
    r, _, b = np.asarray(im)[8, 8]
    assert r > 200 and b < 50


@pytest.mark.parametrize("fmt", ["BMP", "WEBP", "GIF", "TIFF", "PPM"])
def test_other_raster_formats_are_accepted(fmt):
    result = normalise(encode(textured(50, 40), fmt), ImageSettings(resize=20))
    assert (result.width, result.height) == (25, 20)


def test_png_encoding_and_quality_as_compression_level():
    data = encode(textured(40, 40))
    for level in (0, 9):
        im = decoded(normalise(data, ImageSettings(encoding=".png", quality=level)))
        assert im.format == "PNG" and im.mode == "RGB"


def test_output_is_deterministic():
    data = encode(textured(300, 200))
    settings = ImageSettings(resize=100, center_crop=True)
    assert normalise(data, settings).data == normalise(data, settings).data


# ------------------------------------------------------------------------------------ JPEG draft


def test_large_jpegs_are_decoded_with_dct_domain_downscaling(monkeypatch):
    from PIL import JpegImagePlugin

    calls = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        calls.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    result = normalise(encode(textured(2048, 1536)), ImageSettings(resize=224))
    assert (result.width, result.height) == (298, 224)
    # Decoded at 1/4 scale (512x384 >= 298x224), not at full size.
    assert calls and calls[0][1] == (512, 384)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def test_draft_decoding_keeps_quality_close_to_a_full_lanczos_downscale():
    data = encode(textured(1600, 1200, seed=3), quality=95)
    reference = np.asarray(Image.open(io.BytesIO(data)).convert("RGB").resize((298, 224), Image.Resampling.LANCZOS))
    out = np.asarray(decoded(normalise(data, ImageSettings(resize=224, encoding=".png"))))
    assert psnr(out, reference) > 40


def test_jpeg_output_keeps_full_chroma_resolution_by_default():
    data = encode(textured(1600, 1200, seed=3), quality=95)
    reference = np.asarray(Image.open(io.BytesIO(data)).convert("RGB").resize((298, 224), Image.Resampling.LANCZOS))
    full = psnr(np.asarray(decoded(normalise(data, ImageSettings(resize=224)))), reference)
    halved = psnr(np.asarray(decoded(normalise(data, ImageSettings(resize=224, subsampling="4:2:0")))), reference)
    assert full > 35 and full > halved + 5


# ------------------------------------------------------------------------------------ pass-through


def test_pass_through_keeps_the_original_bytes_of_a_conforming_jpeg_and_ignores_resize():
    data = encode(textured(300, 200))
    result = normalise(data, ImageSettings(pass_through=True, resize=100, center_crop=True))
    assert result.passed_through and result.data == data and (result.width, result.height) == (300, 200)


def test_pass_through_still_detects_a_truncated_jpeg():
    data = encode(textured(640, 480, seed=7), quality=95)
    for cut in (len(data) // 3, len(data) - 200):
        assert reason_of(data[:cut], ImageSettings(pass_through=True)) == "truncated"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_pass_through_rejects_images_below_min_size():
    data = encode(textured(64, 64))
    assert reason_of(data, ImageSettings(pass_through=True, min_size=224)) == "too_small"


def test_pass_through_re_encodes_what_readers_would_see_differently():
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = encode(textured(40, 30), "JPEG", exif=exif.tobytes())
    result = normalise(rotated, ImageSettings(pass_through=True))
    assert not result.passed_through and (result.width, result.height) == (30, 40)
    rgba = encode(textured(40, 30).convert("RGBA"), "PNG")
    assert not normalise(rgba, ImageSettings(pass_through=True)).passed_through
    gif = encode(textured(40, 30), "GIF")
    assert not normalise(gif, ImageSettings(pass_through=True)).passed_through
    sixteen = encode(Image.fromarray(gradient16(0, 65535)), "PNG")
    assert not normalise(sixteen, ImageSettings(pass_through=True)).passed_through


# ------------------------------------------------------------------------------------ rejections


def test_empty_input_is_rejected_as_empty():
    assert reason_of(b"") == "empty"


def test_text_is_rejected_as_not_an_image():
    assert reason_of(b"hello, this is not an image at all\n") == "not_image"


def test_formats_we_do_not_decode_are_rejected_as_unsupported():
    ico = encode(textured(32, 32), "ICO")
    assert reason_of(ico) == "unsupported_format"
    assert reason_of(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n") == "unsupported_format"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_rejected_as_truncated(fmt):
    data = encode(textured(200, 200, seed=2), fmt)
    assert reason_of(data[: len(data) // 2], ImageSettings(resize=50)) == "truncated"


def test_damaged_png_data_is_rejected_as_corrupt_even_when_zlib_inflates_it():
    data = bytearray(encode(textured(200, 200, seed=2), "PNG"))
    data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64
    assert reason_of(bytes(data)) == "corrupt"
    assert reason_of(bytes(data), ImageSettings(pass_through=True)) == "corrupt"


def test_a_file_with_an_image_signature_but_a_broken_header_is_corrupt_not_a_non_image():
    assert reason_of(png_header_only(0, 10)) == "corrupt"
    assert reason_of(b"\x89PNG\r\n\x1a\n" + b"\0" * 20) == "corrupt"
    assert reason_of(b"\xff\xd8\xff\xe0" + b"junk" * 10) in {"corrupt", "truncated"}


def test_decompression_bombs_are_rejected_from_the_header_alone():
    # Over the configured limit: our own check.
    assert reason_of(png_header_only(5000, 5000), ImageSettings(max_pixels=1_000_000)) == "decompression_bomb"
    # Over Pillow's limit (its warning is an error) and over twice it (its own error).
    assert reason_of(png_header_only(10_000, 10_000)) == "decompression_bomb"
    assert reason_of(png_header_only(20_000, 20_000)) == "decompression_bomb"


def test_image_size_reads_the_header_only():
    assert image_size(encode(textured(321, 123))) == (321, 123)
    assert image_size(png_header_only(4000, 3000)) == (4000, 3000)
    with pytest.raises(ImageRejected):
        image_size(b"nope")


# ------------------------------------------------------------------------------------ settings


def test_settings_round_trip_through_a_dict():
    settings = ImageSettings(resize=224, center_crop=True, min_size=224, quality=90, encoding=".png",
                             pass_through=False, max_pixels=1000, high_bit_depth="stretch",
                             background=(1, 2, 3), resample="lanczos", subsampling="4:2:0")
    assert ImageSettings.from_dict(settings.to_dict()) == settings
    assert ImageSettings.from_dict({}) == ImageSettings()


@pytest.mark.parametrize("bad", [{"resize": -1}, {"quality": 0}, {"quality": 101}, {"encoding": ".gif"},
                                 {"max_pixels": 0}, {"max_pixels": 10**9}, {"high_bit_depth": "clip"},
                                 {"resample": "nearest"}, {"subsampling": "4:1:1"}, {"background": [0, 0]},
                                 {"min_size": -5}, {"bogus": 1}])
def test_invalid_settings_are_usage_errors(bad):
    with pytest.raises(UsageError):
        ImageSettings.from_dict(bad)


def test_pillows_decompression_bomb_warning_is_treated_as_an_error(monkeypatch):
    from PIL import Image as PILImage

    small = encode(textured(40, 40), "PNG")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)   # 1,600 px is now over Pillow's limit
    assert reason_of(small) == "decompression_bomb"
    assert reason_of(small, ImageSettings(pass_through=True)) == "decompression_bomb"


def rgb16_png(w: int = 8, h: int = 4) -> tuple[bytes, np.ndarray]:
    values = np.linspace(0, 65535, w * h * 3).round().astype(">u2").reshape(h, w * 3)
    raw = b"".join(b"\0" + values[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw))
            + png_chunk(b"IEND", b""))
    return data, values.reshape(h, w, 3)


def test_16_bit_rgb_png_is_reduced_to_8_bit_and_never_passed_through():
    data, values = rgb16_png()
    result = normalise(data, ImageSettings(pass_through=True, encoding=".png"))
    assert not result.passed_through
    out = np.asarray(decoded(result)).astype(int)
    # Pillow keeps the high byte: floor(v / 256), a linear map without clipping or wrap-around.
    assert np.array_equal(out, values.astype(int) >> 8)
    assert out.max() == 255


def thirds(w: int, h: int) -> Image.Image:
    """Left third red, middle green, right third blue."""
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, : w // 3, 0] = 255
    arr[:, w // 3: 2 * w // 3, 1] = 255
    arr[:, 2 * w // 3:, 2] = 255
    return Image.fromarray(arr)


def test_center_crop_of_a_draft_decoded_jpeg_keeps_the_centre():
    result = normalise(encode(thirds(1800, 600), quality=95), ImageSettings(resize=50, center_crop=True))
    pixels = np.asarray(decoded(result)).astype(int)
    assert (result.width, result.height) == (50, 50)
    assert pixels[:, 3:47, 1].min() > 200 and pixels[:, 3:47, 0].max() < 60 and pixels[:, 3:47, 2].max() < 60


def test_orientation_crop_and_draft_compose():
    exif = Image.Exif()
    exif[0x0112] = 6      # stored landscape, shown portrait: the stored left (red) ends up on top
    data = encode(thirds(1800, 600), quality=95, exif=exif.tobytes())
    full = np.asarray(decoded(normalise(data, ImageSettings(resize=100))))
    assert full.shape == (300, 100, 3)
    assert full[20, 50, 0] > 200 and full[150, 50, 1] > 200 and full[280, 50, 2] > 200
    centre = np.asarray(decoded(normalise(data, ImageSettings(resize=50, center_crop=True)))).astype(int)
    assert centre.shape == (50, 50, 3) and centre[3:47, :, 1].min() > 200 and centre[3:47, :, 0].max() < 60


@pytest.mark.parametrize(("given", "stored"), [("jpg", ".jpg"), ("JPEG", ".jpg"), (".png", ".png"), ("PNG", ".png")])
def test_settings_from_a_dict_accept_encoding_names_as_people_write_them(given, stored):
    assert ImageSettings.from_dict({"encoding": given}).encoding == stored
