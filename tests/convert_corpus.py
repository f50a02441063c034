"""Tiny input corpora for the `satrec convert` tests: clean class trees and a hostile one.

Images are a few dozen pixels: the tests prove behaviour, not speed. ``hostile_corpus`` returns
what must happen to every file it creates, so a test can check that each input is accounted for
exactly once.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


def image_bytes(w: int = 24, h: int = 24, *, seed: int = 0, fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (max(1, h // 4), max(1, w // 4), 3), dtype=np.uint8)
    im = Image.fromarray(arr).resize((w, h), Image.Resampling.BILINEAR)
    if mode != "RGB":
        im = im.convert(mode)
    buf = io.BytesIO()
    params = {"quality": 90} if fmt == "JPEG" else {}
    im.save(buf, fmt, **params)
    return buf.getvalue()


def class_tree(root: Path, classes: dict[str, int], *, size: int = 24, fmt: str = "JPEG") -> list[str]:
    """root/<class>/<class>_<i>.jpg; returns the relative paths in im2rec's walk order."""
    ext = ".jpg" if fmt == "JPEG" else ".png"
    rels = []
    for ci, (cls, count) in enumerate(sorted(classes.items())):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            rel = f"{cls}/{cls}_{i:03d}{ext}"
            (root / rel).write_bytes(image_bytes(size, size, seed=ci * 1000 + i, fmt=fmt))
            rels.append(rel)
    return rels


def _png_header_only(w: int, h: int) -> bytes:
    """A 1-bit grayscale PNG announcing w x h pixels; its data is all zero rows (compresses to bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = (b"\0" + b"\0" * ((w + 7) // 8)) * h
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


@dataclass
class Expected:
    packed: set[str]
    rejected: dict[str, str]     # relpath (as rejects.jsonl prints it) -> reason, or "a|b" for either
    skipped: int

    @property
    def total(self) -> int:
        return len(self.packed) + len(self.rejected) + self.skipped


BOMB_MAX_PIXELS = 1_000_000


def hostile_corpus(root: Path, outside: Path) -> Expected:
    """Every kind of bad and odd input. Convert it with ``max_pixels=BOMB_MAX_PIXELS``."""
    packed: set[str] = set()
    rejected: dict[str, str] = {}
    skipped = 0
    for d in ("cats", "dogs/sub/deeper", "__MACOSX/cats", ".git"):
        (root / d).mkdir(parents=True, exist_ok=True)

    def put(rel: str, data: bytes) -> None:
        (root / rel).write_bytes(data)

    good = image_bytes(40, 30, seed=1)
    for rel in ("cats/ok.jpg", "cats/UPPER.JPG", "cats/ünïcödé 猫.jpg", "cats/with space.jpg", "cats/-dash.jpg",
                "cats/dup1.jpg", "cats/dup2.jpg"):
        put(rel, good)
        packed.add(rel)
    put("dogs/sub/deeper/nested.png", image_bytes(20, 20, seed=2, fmt="PNG"))
    put("dogs/anim.gif", image_bytes(20, 20, seed=3, fmt="GIF", mode="P"))
    put("dogs/w.webp", image_bytes(20, 20, seed=4, fmt="WEBP"))
    put("dogs/b.bmp", image_bytes(20, 20, seed=5, fmt="BMP"))
    put("dogs/tiny.png", image_bytes(1, 1, seed=6, fmt="PNG"))
    put("dogs/wide.jpg", image_bytes(1200, 3, seed=7))
    put("dogs/cmyk.jpg", image_bytes(20, 20, seed=8, mode="CMYK"))
    put("dogs/alpha.png", image_bytes(20, 20, seed=9, fmt="PNG", mode="RGBA"))
    buf = io.BytesIO()
    Image.fromarray(np.arange(400, dtype=np.uint16).reshape(20, 20) * 150).save(buf, "PNG")
    put("dogs/deep16.png", buf.getvalue())
    packed.update({"dogs/sub/deeper/nested.png", "dogs/anim.gif", "dogs/w.webp", "dogs/b.bmp", "dogs/tiny.png",
                   "dogs/wide.jpg", "dogs/cmyk.jpg", "dogs/alpha.png", "dogs/deep16.png"})

    put("cats/truncated.jpg", good[: len(good) // 2])
    put("cats/corrupt.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    put("cats/zero.jpg", b"")
    put("cats/text.jpg", b"this is not an image, only text pretending\n" * 3)
    put("cats/bomb.png", _png_header_only(2000, 1000))
    rejected.update({"cats/truncated.jpg": "truncated|corrupt", "cats/corrupt.png": "truncated|corrupt",
                     "cats/zero.jpg": "zero_byte", "cats/text.jpg": "not_image",
                     "cats/bomb.png": "decompression_bomb"})
    put("cats/tab\tname.jpg", good)
    put("cats/new\nline.jpg", good)
    put("cats/bell\x07.jpg", good)
    rejected.update({"cats/tab\tname.jpg": "bad_name", "cats/new\nline.jpg": "bad_name",
                     "cats/bell\x07.jpg": "bad_name"})
    os.close(os.open(os.fsencode(root / "cats") + b"/latin1-\xe9.jpg", os.O_CREAT | os.O_WRONLY, 0o644))
    rejected["cats/latin1-\\xe9.jpg"] = "bad_name"
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.jpg").write_bytes(good)
    (root / "cats/escape.jpg").symlink_to(outside / "secret.jpg")
    (root / "dogs/escape-dir").symlink_to(outside, target_is_directory=True)
    rejected.update({"cats/escape.jpg": "symlink_outside_root", "dogs/escape-dir": "symlink_outside_root"})
    (root / "cats/inside-link.jpg").symlink_to(root / "cats/ok.jpg")
    packed.add("cats/inside-link.jpg")
    os.mkfifo(root / "cats/fifo.jpg")
    rejected["cats/fifo.jpg"] = "unreadable"
    put("loose.jpg", good)
    rejected["loose.jpg"] = "no_class"

    for rel in ("cats/.hidden.jpg", "cats/.DS_Store", "__MACOSX/cats/._ok.jpg", ".git/config", "cats/notes.txt",
                "dogs/Thumbs.db"):
        put(rel, b"x")
        skipped += 1
    return Expected(packed, rejected, skipped)
