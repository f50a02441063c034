"""A contact sheet: thumbnails of records in a grid, each labelled with its key and class name(s)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from satrec.errors import ImageRejected

if TYPE_CHECKING:
    from PIL import Image as PILImage

BACKGROUND = (24, 24, 28)
CELL_BACKGROUND = (44, 44, 50)
TEXT = (235, 235, 235)
MUTED = (150, 150, 160)
ERROR = (230, 90, 80)


def load_font(size: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    # Pillow >= 10.1 ships a scalable default font (needs FreeType, present in the wheels).
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def fit_text(draw, text: str, font, width: int) -> str:  # type: ignore[no-untyped-def]
    """Shorten ``text`` with an ellipsis until it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def draw_contact_sheet(images: Sequence[bytes], captions: Sequence[tuple[str, str]], *, title: str = "",
                       thumb: int = 128, columns: int | None = None) -> PILImage.Image:
    """Return the sheet as an RGB image.

    ``captions``: (first line, second line) per image, e.g. ("#12", "forest"). Images that do not
    decode get a red "cannot decode" cell instead of failing the sheet.
    """
    from PIL import Image, ImageDraw

    from satrec.imaging import decode_rgb

    count = len(images)
    cols = columns or max(1, min(count, 8, math.ceil(math.sqrt(count * 1.5))))
    rows = max(1, math.ceil(count / cols))
    if not columns:
        cols = max(1, math.ceil(count / rows))   # balance the grid: 16 -> 4x4, not 5+5+5+1
    font_size = max(12, thumb // 8)
    font, small = load_font(font_size), load_font(max(10, font_size - 2))
    pad = max(4, thumb // 16)
    text_h = font_size * 2 + pad + 4
    cell_w, cell_h = thumb + 2 * pad, thumb + text_h + 2 * pad
    title_h = font_size + 3 * pad if title else pad
    sheet = Image.new("RGB", (cols * cell_w + pad, rows * cell_h + title_h + pad), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad * 2, pad * 2), fit_text(draw, title, font, sheet.width - 4 * pad), font=font, fill=TEXT)
    for i, (data, (line1, line2)) in enumerate(zip(images, captions, strict=True)):
        x0 = pad + (i % cols) * cell_w
        y0 = title_h + (i // cols) * cell_h
        draw.rectangle((x0 + pad // 2, y0 + pad // 2, x0 + cell_w - pad // 2, y0 + cell_h - pad // 2),
                       fill=CELL_BACKGROUND)
        try:
            im = decode_rgb(data, draft_size=(thumb, thumb))
            # Fit the cell both ways: 64 px chips are enlarged so that a person can see them.
            scale = min(thumb / im.width, thumb / im.height)
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                           Image.Resampling.BICUBIC)
            sheet.paste(im, (x0 + pad + (thumb - im.width) // 2, y0 + pad + (thumb - im.height) // 2))
        except ImageRejected as exc:
            draw.text((x0 + pad, y0 + pad + thumb // 2 - font_size), "cannot decode", font=small, fill=ERROR)
            reason = fit_text(draw, exc.reason, small, thumb)
            draw.text((x0 + pad, y0 + pad + thumb // 2), reason, font=small, fill=ERROR)
        ty = y0 + pad + thumb + 4
        draw.text((x0 + pad, ty), fit_text(draw, line1, font, thumb), font=font, fill=TEXT)
        draw.text((x0 + pad, ty + font_size + 2), fit_text(draw, line2, small, thumb), font=small, fill=MUTED)
    return sheet


__all__ = ["draw_contact_sheet", "fit_text", "load_font"]
