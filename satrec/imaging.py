"""Per-image normalisation: any supported input image -> the 8-bit RGB JPEG/PNG a record stores.

``normalise(data, settings)`` is the one function conversion calls for every input. It decides,
per image: reject (``ImageRejected`` with a short stable reason code), pass the original bytes
through unchanged, or decode -> orient -> 8-bit RGB -> crop/resize -> re-encode.

The rules (README "Image normalisation rules" repeats them for users):

* EXIF orientation is applied and no EXIF (nor ICC profile) is written to the output.
* Grayscale, CMYK, palette, LA/RGBA and 16-bit/float inputs all become 8-bit RGB. Alpha is
  composited over ``settings.background`` (black by default: the no-data colour of satellite
  mosaics, and what a reader that ignores alpha would see for fully transparent black pixels).
* High bit depth (``I;16*``, ``I``, ``F`` modes) is mapped linearly to 0..255, never truncated
  (keeping the low byte) nor saturated (clipping at 255); see ``_to_8bit``.
* JPEG inputs are decoded with DCT-domain downscaling (``Image.draft``) whenever the output is
  smaller than the input: at 2048 px decoding is nearly all the work, and libjpeg's scaled IDCT
  drops the inverse transform, upsampling and colour conversion of the discarded resolution.
  Huffman decoding of every coefficient remains, so grainy 2048 px imagery gains 1.3-1.7x, smooth
  imagery more (docs/decisions/0020).
* 16-bit RGB(A) PNGs are opened by Pillow as 8-bit, keeping each sample's high byte (a linear
  ``floor(v / 256)``); they are re-encoded, never passed through.
* Centre crop works like im2rec's (``--center-crop``): the central square, before resizing.
* Animated images contribute their first frame.

Decompression bombs: ``settings.max_pixels`` (or Pillow's ``Image.MAX_IMAGE_PIXELS`` when that
is lower) is checked against the header before any pixel is decoded. Pillow's limit itself is
never changed; its ``DecompressionBombWarning`` is made an error by one warnings filter, added
deliberately for the whole process on first use (``_install_bomb_filter``): it only ever makes
the process stricter, and unlike ``warnings.catch_warnings`` around each call it is thread-safe.
``max_pixels`` therefore cannot exceed Pillow's default limit; larger rasters are scenes, which
``satrec`` cuts into chips instead of decoding whole.

Pillow is imported lazily, so ``ImageSettings`` (part of ``dataset.json``'s settings) is usable by
the control plane without the ``image`` extra.
"""

from __future__ import annotations

import io
import math
import struct
import sys
import warnings
import zlib
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from satrec.errors import ImageRejected, UsageError

if TYPE_CHECKING:
    from PIL import Image as PILImage

# Pillow's own default (``PIL.Image.MAX_IMAGE_PIXELS``): 1 GiB of 24-bit pixels / 4 / 3.
PILLOW_MAX_PIXELS = 89_478_485

ENCODINGS = (".jpg", ".png")
HIGH_BIT_DEPTH = ("scale", "stretch")
# Filters for shrinking, fastest last. Bicubic is the default: measured on 512 px inputs it is ~25%
# faster than Lanczos for 0.05-0.1 dB less PSNR, and both beat im2rec's OpenCV INTER_LINEAR by
# 1-1.5 dB (docs/decisions/0020-image-decoding-and-resampling.md). Hamming and bilinear save ~11-15%
# of a 512 px conversion but leave no margin over im2rec on smooth water scenes (decision 0090).
RESAMPLE = ("lanczos", "bicubic", "bilinear")
SUBSAMPLING = ("4:4:4", "4:2:2", "4:2:0")

# Formats we are willing to decode. Anything else (EPS runs Ghostscript, PDF, ICO, ...) is
# refused before Pillow touches the data. (Camera JPEGs that Pillow reports as MPO are opened
# through the JPEG entry.)
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "DIB", "WEBP", "TIFF", "PPM", "TGA")
# Formats whose bytes MXNet (cv2.imdecode) and the SageMaker algorithm read as they are.
PASS_THROUGH_FORMATS = ("JPEG", "PNG")

# Short stable reason codes (rejects.jsonl ``reason``); documented in the README.
REASON_EMPTY = "empty"
REASON_NOT_IMAGE = "not_image"
REASON_UNSUPPORTED = "unsupported_format"
REASON_TRUNCATED = "truncated"
REASON_CORRUPT = "corrupt"
REASON_BOMB = "decompression_bomb"
REASON_TOO_SMALL = "too_small"
REASON_TOO_LARGE = "too_large"
REASONS = (REASON_EMPTY, REASON_NOT_IMAGE, REASON_UNSUPPORTED, REASON_TRUNCATED, REASON_CORRUPT,
           REASON_BOMB, REASON_TOO_SMALL, REASON_TOO_LARGE)

# EXIF tag 0x0112; values 5-8 swap width and height.
_ORIENTATION_TAG = 0x0112
# Pillow's resize(reducing_gap=...): integer-factor reduce() first, then the filter on at most
# this many times the target size. 3.0 is indistinguishable from a full Lanczos in PSNR.
_REDUCING_GAP = 3.0


@dataclass(frozen=True)
class ImageSettings:
    """How every image of a dataset is normalised (stored in ``dataset.json`` ``settings.image``).

    resize: target length of the shorter side (0 keeps the size), as im2rec's ``--resize``.
    center_crop: cut the central square first, as im2rec's ``--center-crop``.
    min_size: upscale so that both sides are at least this (SageMaker fails on images smaller
        than ``image_shape``); 0 disables. With ``pass_through`` smaller images are rejected.
    quality: JPEG quality 1-100; for ``.png`` the zlib level, values above 9 meaning 9 (im2rec
        hands ``--quality`` to OpenCV, which clamps it the same way).
    encoding: ``.jpg`` or ``.png``.
    pass_through: store conforming inputs' original bytes (JPEG/PNG, 8-bit gray or RGB, upright);
        resize/crop do not apply to them; non-conforming inputs are re-encoded.
    max_pixels: refuse images with more pixels than this (decompression bombs).
    high_bit_depth: ``scale`` maps the type's full range linearly onto 0..255; ``stretch`` maps
        each image's own min..max onto 0..255 (for 10-14 bit sensors stored in 16 bits).
    background: RGB colour that alpha is composited over.
    subsampling: JPEG chroma subsampling. ``4:4:4`` (default) keeps full colour resolution: at
        q95 it measured +6 to +11 dB PSNR over ``4:2:0`` (im2rec's) for ~40-55% more bytes.
    resample: filter used when shrinking (``lanczos``, ``bicubic``, ``bilinear``; all are
        antialiased, unlike OpenCV's); enlarging (``min_size``) always uses bicubic.
    """

    resize: int = 0
    center_crop: bool = False
    min_size: int = 0
    quality: int = 95
    encoding: str = ".jpg"
    pass_through: bool = False
    max_pixels: int = PILLOW_MAX_PIXELS
    high_bit_depth: str = "scale"
    background: tuple[int, int, int] = (0, 0, 0)
    resample: str = "bicubic"
    subsampling: str = "4:4:4"

    def validate(self) -> ImageSettings:
        """Raise ``UsageError`` naming the bad option; return self for chaining."""
        if self.resize < 0:
            raise UsageError(f"--resize must be 0 (keep) or a positive pixel count, not {self.resize}")
        if self.min_size < 0:
            raise UsageError(f"--min-size must be 0 (off) or a positive pixel count, not {self.min_size}")
        if self.encoding not in ENCODINGS:
            raise UsageError(f"--encoding must be one of {', '.join(ENCODINGS)} (got {self.encoding!r})")
        if self.encoding == ".jpg" and not 1 <= self.quality <= 100:
            raise UsageError(f"--quality must be 1-100 for JPEG, not {self.quality}")
        if self.encoding == ".png" and not 0 <= self.quality <= 100:
            raise UsageError(f"--quality must be 0-9 (PNG compression level) for PNG, not {self.quality}")
        if not 1 <= self.max_pixels <= PILLOW_MAX_PIXELS:
            raise UsageError(f"--max-pixels must be 1-{PILLOW_MAX_PIXELS} (Pillow's safety limit), not "
                             f"{self.max_pixels}; cut larger scenes into chips instead")
        if self.high_bit_depth not in HIGH_BIT_DEPTH:
            raise UsageError(f"high_bit_depth must be one of {', '.join(HIGH_BIT_DEPTH)} "
                             f"(got {self.high_bit_depth!r})")
        if self.resample not in RESAMPLE:
            raise UsageError(f"resample must be one of {', '.join(RESAMPLE)} (got {self.resample!r})")
        if self.subsampling not in SUBSAMPLING:
            raise UsageError(f"subsampling must be one of {', '.join(SUBSAMPLING)} (got {self.subsampling!r})")
        if len(self.background) != 3 or not all(0 <= int(c) <= 255 for c in self.background):
            raise UsageError(f"background must be three values 0-255, not {self.background!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["background"] = list(self.background)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageSettings:
        """Build from a dict (``dataset.json``, ``satrec.json``); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"unknown image setting(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        values = dict(data)
        if isinstance(values.get("encoding"), str):
            # Accept what people type in satrec.json: "jpg", "JPEG", ".png".
            text = values["encoding"].lower().lstrip(".")
            values["encoding"] = ".jpg" if text in ("jpg", "jpeg") else f".{text}"
        if "background" in values:
            values["background"] = tuple(int(c) for c in values["background"])
        for name in ("resize", "min_size", "quality", "max_pixels"):
            if name in values:
                values[name] = int(values[name])
        for name in ("center_crop", "pass_through"):
            if name in values:
                values[name] = bool(values[name])
        return cls(**values).validate()


@dataclass(frozen=True)
class NormalisedImage:
    """The bytes to store in a record, their pixel size, and whether they are the input's own."""

    data: bytes
    width: int
    height: int
    passed_through: bool


# --------------------------------------------------------------------------- Pillow set-up

def _install_bomb_filter() -> None:
    """Make Pillow's ``DecompressionBombWarning`` an error for this process (see module doc).

    Checked on every call rather than remembered: test runners and ``warnings.catch_warnings``
    blocks elsewhere may restore the filter list. ``filterwarnings`` de-duplicates, so a race
    between threads only inserts the same filter twice.
    """
    from PIL import Image

    for action, _message, category, _module, _line in warnings.filters:
        if category is Image.DecompressionBombWarning and action == "error":
            return
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def _pixel_limit(max_pixels: int) -> int:
    """Our limit, or Pillow's process-wide one if someone lowered it below ours.

    Pillow is not imported for this: nobody can have lowered its limit before it was loaded, and the
    pass-through fast path must not pay Pillow's import (~15 ms) to find that out.
    """
    image_module = sys.modules.get("PIL.Image")
    if image_module is None:
        return max_pixels
    pillow = image_module.MAX_IMAGE_PIXELS
    return min(max_pixels, int(pillow)) if pillow else max_pixels


def _open(data: bytes, name: str) -> PILImage.Image:
    """Open (header only) or raise ``ImageRejected`` with the right reason."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageRejected(REASON_EMPTY, f"{name or 'input'} is 0 bytes")
    _install_bomb_filter()
    try:
        return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(REASON_BOMB, str(exc)) from None
    except UnidentifiedImageError:
        pass
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        # Recognised by a plugin, but its header is damaged.
        raise ImageRejected(_reason_for(exc), f"unreadable header: {exc}") from None
    # Not one of ours: name the format if Pillow knows it at all, without decoding anything.
    try:
        with Image.open(io.BytesIO(data)) as other:
            fmt = other.format
    except Exception:
        fmt = None
    looks = _looks_like(data)
    if looks:
        raise ImageRejected(REASON_CORRUPT, f"starts like a {looks} file but its header cannot be read")
    if fmt:
        raise ImageRejected(REASON_UNSUPPORTED, f"{fmt} images are not accepted "
                                                f"(accepted: {', '.join(ACCEPTED_FORMATS)})")
    raise ImageRejected(REASON_NOT_IMAGE, f"not a recognised image ({_sniff(data)})")


# Signatures of the formats we accept: a file that starts like one but cannot be opened is damaged,
# not "not an image".
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
               (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"))


def _looks_like(data: bytes) -> str | None:
    for signature, fmt in _SIGNATURES:
        if data.startswith(signature):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _sniff(data: bytes) -> str:
    head = data[:8]
    return "starts with " + (repr(head) if head else "nothing")


def _check_png_chunks(data: bytes) -> None:
    """Verify every PNG chunk's CRC: zlib happily inflates damaged IDAT data into wrong pixels.

    crc32 runs at several GB/s, so this costs far less than the decode it protects.
    """
    pos, end = 8, len(data)
    while pos + 8 <= end:
        length, kind = struct.unpack_from(">I4s", data, pos)
        body_end = pos + 8 + length
        if body_end + 4 > end:
            raise ImageRejected(REASON_TRUNCATED, f"PNG chunk {kind!r} at byte {pos} runs past the end of the file")
        (crc,) = struct.unpack_from(">I", data, body_end)
        if zlib.crc32(memoryview(data)[pos + 4:body_end]) != crc:
            raise ImageRejected(REASON_CORRUPT, f"PNG chunk {kind!r} at byte {pos} fails its CRC check")
        if kind == b"IEND":
            return
        pos = body_end + 4
    raise ImageRejected(REASON_TRUNCATED, "PNG ends without an IEND chunk")


def _reason_for(exc: BaseException) -> str:
    text = str(exc).lower()
    if "truncated" in text or isinstance(exc, EOFError):
        return REASON_TRUNCATED
    return REASON_CORRUPT


def _check_pixels(width: int, height: int, limit: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageRejected(REASON_CORRUPT, f"header announces {width}x{height} pixels")
    if width * height > limit:
        raise ImageRejected(REASON_BOMB, f"{width}x{height} = {width * height} pixels is over the limit of "
                                         f"{limit} (max_pixels)")


# What Pillow raises on bad data (never a bug of ours): decoding failures become reason codes.
_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, MemoryError)


def _load(im: PILImage.Image, data: bytes | None = None) -> None:
    """Decode the pixels, mapping Pillow's many failure types onto reason codes."""
    from PIL import Image

    if data is not None and im.format == "PNG":
        _check_png_chunks(data)
    try:
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(REASON_BOMB, str(exc)) from None
    except _PILLOW_ERRORS as exc:
        raise ImageRejected(_reason_for(exc), f"cannot decode: {exc}") from None


# --------------------------------------------------------------------------- public API


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header, without decoding pixels; EXIF orientation not applied.

    Raises ``ImageRejected`` like ``normalise`` for data that is not an accepted image.
    """
    im = _open(data, "")
    with im:
        return int(im.size[0]), int(im.size[1])


@dataclass(frozen=True)
class ImageInfo:
    """What ``check_decodes`` learnt about stored image bytes."""

    format: str
    mode: str
    width: int
    height: int


def check_decodes(data: bytes, *, max_pixels: int = PILLOW_MAX_PIXELS) -> ImageInfo:
    """Prove that image bytes decode completely, as cheaply as possible (for ``satrec verify``).

    JPEGs are decoded at 1/8 scale, which still reads and Huffman-decodes every entropy-coded byte
    (so truncation and most damage are found); PNG chunk CRCs are checked. Returns the stored size.
    """
    im = _open(data, "")
    with im:
        width, height = int(im.size[0]), int(im.size[1])
        _check_pixels(width, height, _pixel_limit(max_pixels))
        fmt, mode = im.format or "", im.mode
        try:
            _prove_decodes(im, fmt, data)
        except _PILLOW_ERRORS as exc:
            raise ImageRejected(_reason_for(exc), f"cannot decode: {exc}") from None
        return ImageInfo(fmt, mode, width, height)


def decode_rgb(data: bytes, *, max_pixels: int = PILLOW_MAX_PIXELS,
               draft_size: tuple[int, int] | None = None) -> PILImage.Image:
    """Decode any accepted image to an upright 8-bit RGB Pillow image (for inspect's thumbnails).

    ``draft_size`` lets JPEG decoding downscale in the DCT domain to at least that size.
    """
    settings = ImageSettings(max_pixels=max_pixels)
    im = _open(data, "")
    _check_pixels(im.size[0], im.size[1], _pixel_limit(settings.max_pixels))
    orientation = _orientation(im)
    if draft_size and im.format in ("JPEG", "MPO"):
        want = draft_size if orientation < 5 else (draft_size[1], draft_size[0])
        im.draft("RGB", want)
    _load(im, data)
    try:
        return _to_rgb(_apply_orientation(im, orientation), settings)
    except _PILLOW_ERRORS as exc:
        raise ImageRejected(_reason_for(exc), f"cannot decode: {exc}") from None


def normalise(data: bytes, settings: ImageSettings, *, name: str = "") -> NormalisedImage:
    """Return the record bytes for one input image, or raise ``ImageRejected``.

    ``name`` only improves messages. ``settings`` should have been validated once by the caller.
    """
    if settings.pass_through:
        fast = _pass_through_plain_jpeg(data, settings)
        if fast is not None:
            return fast
    im = _open(data, name)
    try:
        return _normalise(im, data, settings)
    except _PILLOW_ERRORS as exc:
        # Lazily decoded formats (TIFF strips, GIF frames) can fail after load(): still bad input.
        raise ImageRejected(_reason_for(exc), f"cannot decode: {exc}") from None
    finally:
        im.close()


def _normalise(im: PILImage.Image, data: bytes, settings: ImageSettings) -> NormalisedImage:
    width, height = int(im.size[0]), int(im.size[1])
    _check_pixels(width, height, _pixel_limit(settings.max_pixels))
    orientation = _orientation(im)
    fmt = im.format or ""

    if settings.pass_through and _conforms(im, fmt, orientation, data):
        if settings.min_size and min(width, height) < settings.min_size:
            raise ImageRejected(REASON_TOO_SMALL, f"{width}x{height} is smaller than --min-size "
                                                  f"{settings.min_size} and --pass-through keeps images as they are")
        _prove_decodes(im, fmt, data)
        return NormalisedImage(bytes(data), width, height, True)

    # Output geometry, in upright (oriented) coordinates.
    up_w, up_h = (height, width) if orientation >= 5 else (width, height)
    crop = _center_box(up_w, up_h) if settings.center_crop and not settings.pass_through else (0, 0, up_w, up_h)
    crop_w, crop_h = crop[2] - crop[0], crop[3] - crop[1]
    out_w, out_h = (crop_w, crop_h) if settings.pass_through else _target_size(crop_w, crop_h, settings.resize)
    out_w, out_h = _at_least(out_w, out_h, settings.min_size)
    if out_w * out_h > settings.max_pixels:
        # A 1-pixel-high strip resized to a 224 px shorter side would explode in memory.
        raise ImageRejected(REASON_TOO_LARGE, f"{width}x{height} would become {out_w}x{out_h}, over the "
                                              f"limit of {settings.max_pixels} pixels (max_pixels)")

    if fmt in ("JPEG", "MPO") and (out_w < crop_w or out_h < crop_h):
        # DCT-domain downscale to the smallest 1/2^k size still >= what the crop needs.
        need_w = math.ceil(out_w * up_w / crop_w)
        need_h = math.ceil(out_h * up_h / crop_h)
        want = (need_w, need_h) if orientation < 5 else (need_h, need_w)
        im.draft(_draft_mode(im.mode), want)
    _load(im, data)
    scale_x = im.size[0] / width
    scale_y = im.size[1] / height
    im = _apply_orientation(im, orientation)
    if orientation >= 5:
        scale_x, scale_y = scale_y, scale_x
    im = _to_rgb(im, settings)

    box = (crop[0] * scale_x, crop[1] * scale_y, crop[2] * scale_x, crop[3] * scale_y)
    if (out_w, out_h) != im.size or box != (0, 0, im.size[0], im.size[1]):
        im = _resize(im, (out_w, out_h), box, settings.resample)
    return NormalisedImage(_encode(im, settings), out_w, out_h, False)


def _pass_through_plain_jpeg(data: bytes, settings: ImageSettings) -> NormalisedImage | None:
    """Pass-through of an ordinary JPEG: the general path's proof (libjpeg-turbo decodes every
    entropy-coded byte at 1/8 scale) without Image.open's Python marker parsing and image objects,
    which cost more than the decode itself on small chips.

    Returns None, leaving the decision to the general path, for anything that is not plainly a
    conforming JPEG: EXIF (orientation may need applying) or an MPF segment (Pillow opens it as MPO),
    CMYK, a damaged header, or a stream the decoder does not finish (the general path then names the
    reason). So this path never accepts what the general path would reject, nor rejects anything
    itself except by the same size rules.
    """
    frame = _plain_jpeg_frame(data)
    if frame is None:
        return None
    width, height, mode = frame
    _check_pixels(width, height, _pixel_limit(settings.max_pixels))
    if settings.min_size and min(width, height) < settings.min_size:
        return None   # the general path rejects it with the full message
    if not _decodes_scaled(data, width, height, mode):
        return None
    return NormalisedImage(bytes(data), width, height, True)


_simplejpeg: Any = None   # the simplejpeg module once load_simplejpeg() has run in this process


def load_simplejpeg() -> bool:
    """Prove plain JPEGs with simplejpeg from now on in this process; False if it is not installed.

    Both decoders are libjpeg-turbo. simplejpeg's is 12-15 us cheaper per image: the libjpeg-turbo in
    Pillow's wheels (3.2 here) probes the CPU's SIMD support with CPUID for every image, and each CPUID
    is a VM exit on a cloud machine (~40% of decoding a 64 px chip, measured). But simplejpeg imports
    numpy, ~0.06 s of CPU: worth it in a process that proves thousands of images, or would otherwise wait.
    """
    global _simplejpeg
    try:
        import simplejpeg
    except ImportError:
        return False
    _simplejpeg = simplejpeg
    return True


def _decodes_scaled(data: bytes, width: int, height: int, mode: str) -> bool:
    """True if libjpeg-turbo reads the stream to its end at 1/8 scale: strictly through simplejpeg
    (any libjpeg warning fails), else through Pillow's decoder exactly as ``im.draft(mode, (1, 1));
    im.load()`` calls it (same scale, arguments and end-of-data rule)."""
    if _simplejpeg is not None:
        try:
            _simplejpeg.decode_jpeg(data, colorspace="GRAY" if mode == "L" else "RGB", min_height=1,
                                    min_width=1, min_factor=8, strict=True)
        except ValueError:
            return False
        return True
    try:
        from PIL import _imaging as core  # what PIL.Image calls ``core``: no need to import PIL.Image
    except ImportError:
        return False
    scale = next(s for s in (8, 4, 2, 1) if min(width, height) >= s)   # JpegImageFile.draft's choice
    size = ((width + scale - 1) // scale, (height + scale - 1) // scale)
    try:
        decoder = core.jpeg_decoder(mode, mode, "", scale, 0)
        decoder.setimage(core.new(mode, size), (0, 0, *size))
        try:
            consumed, error = decoder.decode(data)
        finally:
            decoder.cleanup()
    except Exception:   # any surprise (a changed private API too) leaves the verdict to the general path
        return False
    return consumed < 0 and error >= 0


_JPEG_SOS = 0xDA
_JPEG_APP1 = 0xE1
_JPEG_APP2 = 0xE2
_JPEG_PLAIN_SOF = (0xC0, 0xC1, 0xC2)   # baseline, extended and progressive Huffman
_JPEG_MAX_SEGMENTS = 64
_JPEG_SEGMENT = struct.Struct(">BBH")   # 0xFF, marker code, segment length
_JPEG_SOF = struct.Struct(">BHHB")      # precision, height, width, components


def _plain_jpeg_frame(data: bytes) -> tuple[int, int, str] | None:
    """(width, height, Pillow mode) of a JPEG whose markers up to the scan are plain: one 8-bit
    gray or 3-component frame, no EXIF, no MPF. None for anything else (the general path decides)."""
    if not data.startswith(b"\xff\xd8\xff"):
        return None
    pos, end = 2, len(data)
    frame: tuple[int, int, str] | None = None
    segment = _JPEG_SEGMENT.unpack_from
    for _ in range(_JPEG_MAX_SEGMENTS):
        if pos + 4 > end:
            return None
        marker, code, length = segment(data, pos)
        if marker != 0xFF:
            return None   # not a plain marker sequence
        if code == _JPEG_SOS:
            return frame
        if code == 0xFF:   # fill byte
            pos += 1
            continue
        if code == _JPEG_APP1 and data[pos + 4:pos + 10] == b"Exif\0\0":
            return None
        if code == _JPEG_APP2 and data[pos + 4:pos + 8] == b"MPF\0":
            return None
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):   # a start of frame
            if frame is not None or code not in _JPEG_PLAIN_SOF or length < 8 or pos + 10 > end:
                return None
            bits, height, width, layers = _JPEG_SOF.unpack_from(data, pos + 4)
            if bits != 8 or layers not in (1, 3) or not width or not height:
                return None
            frame = (width, height, "L" if layers == 1 else "RGB")
        pos += 2 + length
    return None


# --------------------------------------------------------------------------- steps


def _orientation(im: PILImage.Image) -> int:
    if im.format in ("JPEG", "MPO") and "exif" not in im.info:
        return 1   # a JPEG's EXIF (APP1) is read at open: without it there is no tag to parse
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a damaged EXIF block must not reject an otherwise good image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_orientation(im: PILImage.Image, orientation: int) -> PILImage.Image:
    from PIL import Image

    ops = {
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_270],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_90],
    }.get(orientation, [])
    for op in ops:
        im = im.transpose(op)
    return im


# Byte offset of the bit depth in a PNG: signature (8), IHDR length and type (8), width, height (8).
_PNG_BIT_DEPTH_OFFSET = 24


def _conforms(im: PILImage.Image, fmt: str, orientation: int, data: bytes) -> bool:
    """Bytes a reader decodes to what we would have produced: 8-bit gray/RGB JPEG or PNG, upright."""
    if fmt not in PASS_THROUGH_FORMATS or orientation != 1:
        return False
    if im.mode not in ("L", "RGB"):
        return False
    if fmt == "PNG" and data[_PNG_BIT_DEPTH_OFFSET:_PNG_BIT_DEPTH_OFFSET + 1] != b"\x08":
        # Pillow opens 16-bit RGB PNGs as 8-bit RGB (high byte), but the stored bytes stay 16-bit.
        return False
    # 16-bit PNGs open as I;16 (excluded above); a PNG with a tRNS chunk carries transparency.
    return "transparency" not in im.info


def _prove_decodes(im: PILImage.Image, fmt: str, data: bytes) -> None:
    """Decode the whole input cheaply: a JPEG at 1/8 scale still reads every entropy-coded byte."""
    if fmt == "JPEG":
        im.draft(_draft_mode(im.mode), (1, 1))
    _load(im, data)


def _draft_mode(mode: str) -> str:
    # Asking libjpeg for RGB directly saves a YCbCr->RGB pass; gray and CMYK stay as they are.
    return "RGB" if mode in ("RGB", "YCbCr") else mode


def _center_box(w: int, h: int) -> tuple[int, int, int, int]:
    """im2rec's centre crop: the central square, margin rounded down."""
    if h > w:
        top = (h - w) // 2
        return 0, top, w, top + w
    left = (w - h) // 2
    return left, 0, left + h, h


def _target_size(w: int, h: int, resize: int) -> tuple[int, int]:
    """im2rec's ``--resize``: shorter side to ``resize``, the longer one scaled and rounded down."""
    if not resize:
        return w, h
    if h > w:
        return resize, max(1, h * resize // w)
    return max(1, w * resize // h), resize


def _at_least(w: int, h: int, min_size: int) -> tuple[int, int]:
    if not min_size or min(w, h) >= min_size:
        return w, h
    factor = min_size / min(w, h)
    return max(min_size, round(w * factor)), max(min_size, round(h * factor))


def _resize(im: PILImage.Image, size: tuple[int, int], box: tuple[float, float, float, float],
            resample: str) -> PILImage.Image:
    from PIL import Image

    box_w, box_h = box[2] - box[0], box[3] - box[1]
    upscale = size[0] > box_w or size[1] > box_h
    # Enlargement always uses bicubic: Lanczos rings visibly on the hard edges of field boundaries.
    filters = {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC,
               "bilinear": Image.Resampling.BILINEAR}
    chosen = Image.Resampling.BICUBIC if upscale else filters[resample]
    return im.resize(size, chosen, box=box, reducing_gap=None if upscale else _REDUCING_GAP)


def _to_rgb(im: PILImage.Image, settings: ImageSettings) -> PILImage.Image:
    from PIL import Image

    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("L", "CMYK", "YCbCr", "1"):
        return im.convert("RGB")
    if mode.startswith(("I", "F")):
        return _to_8bit(im, settings.high_bit_depth).convert("RGB")
    if mode == "P":
        has_alpha = "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")
        im = im.convert("RGBA" if has_alpha else "RGB")
        mode = im.mode
        if mode == "RGB":
            return im
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*settings.background, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return im.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageRejected(REASON_UNSUPPORTED, f"pixel mode {mode} cannot be converted to RGB: {exc}") from None


def _to_8bit(im: PILImage.Image, how: str) -> PILImage.Image:
    """Map a high-bit-depth single-channel image linearly onto 0..255 (mode ``L``).

    ``scale``: by the full range of the stored type, the same formula for every image so that
    brightness stays comparable: 16-bit ``v -> round(v * 255 / 65535)``; float images whose values
    lie in [0, 1] ``v -> round(v * 255)``; 32-bit integer (``I``) images whose values fit in
    0..65535 are treated as 16-bit (Pillow opens some 16-bit files as ``I``); anything else
    (negative or wider values) falls back to ``stretch``.
    ``stretch``: each image's own minimum..maximum -> 0..255 (a constant image becomes 0).
    Both are rounding linear maps: no value wraps (truncation) or clips (saturation).
    """
    import numpy as np
    from PIL import Image

    arr = np.asarray(im)
    if arr.ndim != 2:
        raise ImageRejected(REASON_UNSUPPORTED, f"pixel mode {im.mode} with shape {arr.shape} is not supported")
    values = arr.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        values = np.where(finite, values, 0.0)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if how == "scale":
        if arr.dtype.kind in "ui" and lo >= 0 and hi <= 65535:
            lo, hi = 0.0, 65535.0
        elif arr.dtype.kind == "f" and lo >= 0 and hi <= 1:
            lo, hi = 0.0, 1.0
    span = hi - lo
    if span <= 0:  # a constant image carries no contrast to keep
        return Image.new("L", im.size, 0)
    out = np.rint((values - lo) * (255.0 / span)).astype(np.uint8)
    return Image.fromarray(out, mode="L")


def _encode(im: PILImage.Image, settings: ImageSettings) -> bytes:
    buf = io.BytesIO()
    if settings.encoding == ".png":
        # im2rec passes --quality to OpenCV as the PNG compression level, which clamps to 0..9.
        im.save(buf, "PNG", compress_level=min(settings.quality, 9))
    else:
        # Baseline and not optimised (Huffman optimisation costs ~30% encode time for ~5% bytes).
        im.save(buf, "JPEG", quality=settings.quality, subsampling=settings.subsampling, optimize=False)
    return buf.getvalue()


__all__ = [
    "ACCEPTED_FORMATS", "PILLOW_MAX_PIXELS", "REASONS", "ImageInfo", "ImageSettings", "NormalisedImage",
    "check_decodes", "decode_rgb", "image_size", "normalise",
]
