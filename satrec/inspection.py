"""Look inside a ``.rec``: its records (key, labels with class names, bytes, size) and a class histogram.

(Named ``inspection``, not ``inspect``: a module called ``inspect`` shadows the standard library
whenever this folder lands on ``sys.path``.)

``inspect_rec`` streams the file once: the first ``limit`` records are described in full (their image
header is probed for the size, and their bytes are kept when a contact sheet needs them); every record
counts towards the histogram from its header alone, so memory stays bounded by ``limit``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satrec import layout, recordio
from satrec.errors import ImageRejected, RecordIOCorruptError, SourceError


@dataclass(frozen=True)
class RecordInfo:
    position: int                 # 0-based order in the file
    offset: int                   # byte offset of the record
    key: int                      # the image header id (im2rec: the .lst index, also the .idx key)
    labels: tuple[float, ...]
    names: tuple[str, ...]        # class names for the labels ("" when unknown)
    bytes: int                    # size of the encoded image
    width: int | None
    height: int | None
    format: str | None
    error: str | None = None      # why the header or image could not be read

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "offset": self.offset, "key": self.key, "labels": list(self.labels),
                "classes": list(self.names), "bytes": self.bytes, "width": self.width, "height": self.height,
                "format": self.format, "error": self.error}


@dataclass
class Inspection:
    path: str
    classes: list[str] | None
    classes_source: str | None
    total_records: int = 0
    records: list[RecordInfo] = field(default_factory=list)
    images: list[tuple[RecordInfo, bytes]] = field(default_factory=list)   # first ``keep_images`` records
    histogram: Counter[str] = field(default_factory=Counter)
    error: str | None = None                               # framing damage that stopped the scan

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "classes": self.classes, "classes_source": self.classes_source,
                "total_records": self.total_records, "records": [r.to_dict() for r in self.records],
                "histogram": dict(sorted(self.histogram.items(), key=lambda kv: (-kv[1], kv[0]))),
                "error": self.error}


def find_class_names(rec: Path) -> tuple[list[str] | None, str | None]:
    """Class names for a ``.rec``: satrec's ``../meta/dataset.json`` or ``classes.json``, or the same
    files beside it. Returns (names indexed by class id, the file they came from)."""
    for folder in (rec.parent.parent / layout.META_DIR, rec.parent):
        doc = folder / layout.DATASET_JSON
        if doc.is_file():
            try:
                data = json.loads(doc.read_text(encoding="utf-8"))
                return [str(c) for c in data["classes"]], os.fspath(doc)
            except (OSError, ValueError, KeyError, TypeError):
                pass
        classes = folder / layout.CLASSES_JSON
        if classes.is_file():
            try:
                mapping = json.loads(classes.read_text(encoding="utf-8"))
                names = [""] * (max(mapping.values()) + 1 if mapping else 0)
                for name, index in mapping.items():
                    names[int(index)] = str(name)
                return names, os.fspath(classes)
            except (OSError, ValueError, AttributeError, TypeError, IndexError):
                pass
    return None, None


def label_names(labels: tuple[float, ...], classes: list[str] | None) -> tuple[str, ...]:
    """Names for a record's labels. A 0/1 vector as long as the class list is multi-hot: the names of
    the classes set; otherwise each label is a class id."""
    if classes and len(labels) == len(classes) > 1 and all(x in (0.0, 1.0) for x in labels):
        return tuple(name for name, x in zip(classes, labels, strict=True) if x == 1.0)
    return tuple(_name(x, classes) for x in labels)


def _name(label: float, classes: list[str] | None) -> str:
    if classes and label == int(label) and 0 <= label < len(classes):
        return classes[int(label)]
    return f"{label:g}"


def inspect_rec(path: str | os.PathLike[str], *, limit: int = 20, keep_images: int = 0,
                classes: list[str] | None = None) -> Inspection:
    """Describe the first ``limit`` records and count every record's classes.

    ``keep_images``: keep the encoded bytes of the first N records (for a contact sheet).
    """
    from satrec.imaging import image_size

    rec = Path(path)
    if not rec.is_file():
        raise SourceError(f"{path} does not exist or is not a file; give a .rec file")
    source = None
    if classes is None:
        classes, source = find_class_names(rec)
    result = Inspection(os.fspath(path), classes, source)
    want = max(limit, keep_images)
    try:
        with open(rec, "rb") as stream:
            for position, record in enumerate(recordio.iter_records(stream, source=os.fspath(path))):
                result.total_records += 1
                try:
                    header, image = recordio.unpack_image_record(record.payload)
                except RecordIOCorruptError as exc:
                    if position < want:
                        result.records.append(RecordInfo(position, record.offset, -1, (), (), len(record.payload),
                                                         None, None, None, str(exc)))
                    result.histogram["(bad header)"] += 1
                    continue
                names = label_names(header.labels, classes)
                result.histogram.update(names or ("(none)",))
                if position >= want:
                    continue
                width = height = None
                fmt = error = None
                try:
                    width, height = image_size(image)
                    fmt = _format(image)
                except ImageRejected as exc:
                    error = f"{exc.reason}: {exc.detail}"
                info = RecordInfo(position, record.offset, header.id, header.labels, names, len(image), width,
                                  height, fmt, error)
                if position < limit:
                    result.records.append(info)
                if position < keep_images:
                    result.images.append((info, image))
    except RecordIOCorruptError as exc:
        result.error = str(exc)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    return result


def _format(image: bytes) -> str:
    if image.startswith(b"\xff\xd8"):
        return "JPEG"
    if image.startswith(b"\x89PNG"):
        return "PNG"
    return "other"


def format_table(result: Inspection) -> list[str]:
    """The records as aligned text lines."""
    rows = [("key", "label(s)", "bytes", "size")]
    for r in result.records:
        label_text = " ".join(f"{x:g}" for x in r.labels)
        named = ",".join(n for n in r.names if n)
        if named and named != label_text:
            label_text = f"{label_text} {named}"
        size = f"{r.width}x{r.height}" if r.width is not None else (r.error or "?")
        rows.append((str(r.key), label_text, str(r.bytes), size))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [f"{row[0]:>{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}" for row in rows]


def format_histogram(histogram: Counter[str], total: int, width: int = 40) -> list[str]:
    """A text bar chart, most frequent class first."""
    if not histogram:
        return ["(no records)"]
    items = sorted(histogram.items(), key=lambda kv: (-kv[1], kv[0]))
    top = items[0][1]
    name_width = max(len(name) for name, _ in items)
    lines = []
    for name, count in items:
        bar = "#" * max(1, round(width * count / top))
        share = 100.0 * count / total if total else 0.0
        lines.append(f"{name:<{name_width}}  {bar:<{width}}  {count} ({share:.1f}%)")
    return lines


__all__ = ["Inspection", "RecordInfo", "find_class_names", "format_histogram", "format_table", "inspect_rec",
           "label_names"]
