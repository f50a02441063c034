"""A class histogram as a horizontal bar chart PNG (Pillow only: no plotting library needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from satrec.contact_sheet import BACKGROUND, MUTED, TEXT, fit_text, load_font

if TYPE_CHECKING:
    from PIL import Image as PILImage

BAR = (86, 156, 214)


def draw_histogram(counts: Sequence[tuple[str, int]], *, title: str = "", width: int = 720,
                   font_size: int = 15) -> PILImage.Image:
    """Bars for (class name, count) pairs in the given order, each labelled with count and share."""
    from PIL import Image, ImageDraw

    font = load_font(font_size)
    title_font = load_font(font_size + 2)
    pad = font_size
    bar_h = font_size + 8
    row_h = bar_h + 6
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = min(width // 3, max([int(probe.textlength(n, font=font)) for n, _ in counts] + [40]) + pad)
    count_w = int(probe.textlength("000000 (100.0%)", font=font)) + pad
    title_h = font_size + 2 * pad if title else pad
    height = title_h + max(1, len(counts)) * row_h + pad
    im = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(im)
    if title:
        draw.text((pad, pad // 2 + 2), fit_text(draw, title, title_font, width - 2 * pad), font=title_font, fill=TEXT)
    total = sum(c for _, c in counts)
    top = max((c for _, c in counts), default=0)
    bar_space = width - label_w - count_w - 2 * pad
    if not counts:
        draw.text((pad, title_h), "(no records)", font=font, fill=MUTED)
    for i, (name, count) in enumerate(counts):
        y = title_h + i * row_h
        draw.text((pad, y + 4), fit_text(draw, name, font, label_w - pad), font=font, fill=TEXT)
        length = max(1, round(bar_space * count / top)) if top else 1
        x0 = pad + label_w
        draw.rectangle((x0, y, x0 + length, y + bar_h), fill=BAR)
        share = 100.0 * count / total if total else 0.0
        draw.text((x0 + length + 6, y + 4), f"{count} ({share:.1f}%)", font=font, fill=MUTED)
    return im


__all__ = ["draw_histogram"]
