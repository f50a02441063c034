"""The dmlc RecordIO container, its ``.idx`` index and MXNet's image record header.

Pure Python, no MXNet import. Byte-for-byte what ``dmlc::RecordIOWriter`` and
``mxnet.recordio.MXIndexedRecordIO`` write (proven against MXNet in tests/compat).

Container layout, per record (all words little-endian uint32)::

    MAGIC  LREC  payload-part  zero-padding-to-4-bytes

``LREC = cflag << 29 | part_length``. A payload that contains the magic word at a
4-byte-aligned offset is split there into continuation parts (cflag 1 = first,
2 = middle, 3 = last; 0 = whole record) and the magic word itself is dropped from
the data, because the reader re-inserts it between parts. Padding is computed on
the whole payload's length, exactly as dmlc-core does.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from satrec.errors import RecordIOCorruptError, RecordTooLargeError, SatrecError

MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack("<I", MAGIC)
LREC_FLAG_SHIFT = 29
LREC_LENGTH_MASK = (1 << LREC_FLAG_SHIFT) - 1
MAX_RECORD_BYTES = (1 << LREC_FLAG_SHIFT) - 1  # dmlc-core: CHECK(size < 2^29)

CFLAG_WHOLE = 0
CFLAG_FIRST = 1
CFLAG_MIDDLE = 2
CFLAG_LAST = 3

_WORD = struct.Struct("<I")
_FRAME = struct.Struct("<II")

# MXNet's IRHeader: uint32 flag, float32 label, uint64 id, uint64 id2.
HEADER = struct.Struct("<IfQQ")
HEADER_SIZE = HEADER.size  # 24
_FLOAT32 = struct.Struct("<f")


def _pad(length: int) -> int:
    return (-length) & 3


_PADDING = tuple(b"\0" * _pad(n) for n in range(4))   # by length & 3


def encode_lrec(cflag: int, length: int) -> int:
    return (cflag << LREC_FLAG_SHIFT) | length


def decode_lrec(lrec: int) -> tuple[int, int]:
    return lrec >> LREC_FLAG_SHIFT, lrec & LREC_LENGTH_MASK


def frame(payload: bytes | bytearray | memoryview) -> bytes:
    """Return the container bytes of one record, as dmlc-core's writer emits them."""
    data = bytes(payload)
    length = len(data)
    if length > MAX_RECORD_BYTES:
        raise RecordTooLargeError(
            f"record of {length} bytes is too large for RecordIO "
            f"(the format's limit is {MAX_RECORD_BYTES} bytes, 2^29 - 1)"
        )
    pos = data.find(MAGIC_BYTES)
    if pos < 0:   # the common case, one part (~2x cheaper than the general loop for a small chip)
        return b"".join((_FRAME.pack(MAGIC, length), data, _PADDING[length & 3]))
    lower_align = length & ~3
    parts: list[bytes] = []
    start = 0
    while 0 <= pos < lower_align:
        if pos % 4:
            pos = data.find(MAGIC_BYTES, pos + 1)
            continue
        cflag = CFLAG_FIRST if start == 0 else CFLAG_MIDDLE
        parts.append(_FRAME.pack(MAGIC, encode_lrec(cflag, pos - start)))
        parts.append(data[start:pos])
        start = pos + 4
        pos = data.find(MAGIC_BYTES, start)
    cflag = CFLAG_LAST if start else CFLAG_WHOLE
    parts.append(_FRAME.pack(MAGIC, encode_lrec(cflag, length - start)))
    parts.append(data[start:])
    parts.append(b"\0" * _pad(length))
    return b"".join(parts)


# --------------------------------------------------------------------------- header


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """MXNet's ``IRHeader``. ``labels`` holds one label, or N for multi-label records."""

    labels: tuple[float, ...]
    id: int = 0
    id2: int = 0

    @property
    def label(self) -> float:
        return self.labels[0]


def float32(value: float) -> float:
    """Round a label to float32 the way a C ``(float)`` cast does (overflow is an error)."""
    try:
        return float(_FLOAT32.unpack(_FLOAT32.pack(value))[0])
    except (OverflowError, struct.error) as exc:
        raise SatrecError(f"label {value!r} does not fit in a float32") from exc


def pack_header(labels: Sequence[float], id: int = 0, id2: int = 0, *, multi: bool | None = None) -> bytes:
    """Pack MXNet's image header (+ label vector when multi-label).

    ``multi=None`` chooses like ``mxnet.recordio.pack``: a single label is stored in the header
    with flag 0; more than one is stored after it with flag N. ``multi=True`` forces the vector
    form even for one label (im2rec's ``--pack-label`` with a single label column does this).
    """
    if not labels:
        raise SatrecError("an image record needs at least one label")
    if not (0 <= id < 2**64 and 0 <= id2 < 2**64):
        raise SatrecError(f"record id {id} / id2 {id2} outside the uint64 range")
    use_vector = len(labels) > 1 if multi is None else multi
    if not use_vector:
        return HEADER.pack(0, float32(labels[0]), id, id2)
    vector = b"".join(_FLOAT32.pack(float32(x)) for x in labels)
    return HEADER.pack(len(labels), 0.0, id, id2) + vector


def pack_image_record(labels: Sequence[float], image: bytes, id: int = 0, id2: int = 0,
                      *, multi: bool | None = None) -> bytes:
    return pack_header(labels, id, id2, multi=multi) + image


def unpack_image_record(payload: bytes) -> tuple[ImageHeader, bytes]:
    """Split a record payload into its header and the encoded image bytes."""
    if len(payload) < HEADER_SIZE:
        raise RecordIOCorruptError(f"record of {len(payload)} bytes is shorter than the 24-byte image header")
    flag, label, id_, id2 = HEADER.unpack_from(payload)
    if flag == 0:
        return ImageHeader((float(label),), id_, id2), payload[HEADER_SIZE:]
    end = HEADER_SIZE + 4 * flag
    if end > len(payload):
        raise RecordIOCorruptError(f"record header announces {flag} labels but the record holds only "
                                   f"{len(payload) - HEADER_SIZE} bytes after the header")
    labels = struct.unpack_from(f"<{flag}f", payload, HEADER_SIZE)
    return ImageHeader(tuple(float(x) for x in labels), id_, id2), payload[end:]


# --------------------------------------------------------------------------- index


def format_index_line(key: int | str, offset: int) -> str:
    key_text = str(key)
    if "\t" in key_text or "\n" in key_text:
        raise SatrecError(f"index key {key_text!r} contains a tab or newline")
    return f"{key_text}\t{offset}\n"


def parse_index(text: str, *, source: str = ".idx") -> list[tuple[str, int]]:
    """Parse ``key<TAB>offset`` lines; offsets must be strictly increasing."""
    entries: list[tuple[str, int]] = []
    last = -1
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise RecordIOCorruptError(f"{source}:{lineno}: expected 'key<TAB>offset', got {line!r}")
        key, offset_text = fields
        try:
            offset = int(offset_text)
        except ValueError:
            raise RecordIOCorruptError(f"{source}:{lineno}: offset {offset_text!r} is not an integer") from None
        if offset <= last:
            raise RecordIOCorruptError(f"{source}:{lineno}: offset {offset} does not increase (previous {last})")
        last = offset
        entries.append((key, offset))
    return entries


# --------------------------------------------------------------------------- writer


class RecordWriter:
    """Append records to a ``.rec`` stream, and optionally their ``.idx`` lines.

    Works on any binary file object (a local file, a spooled upload). Offsets are counted
    here, so the stream need not be seekable.
    """

    def __init__(self, rec: BinaryIO, idx: BinaryIO | None = None, *, start_offset: int = 0) -> None:
        self._rec = rec
        self._idx = idx
        self.offset = start_offset
        self.count = 0

    def write(self, payload: bytes, key: int | str | None = None) -> int:
        """Write one record; return the byte offset it starts at."""
        data = frame(payload)
        start = self.offset
        self._rec.write(data)
        self.offset += len(data)
        self.count += 1
        if self._idx is not None:
            self._idx.write(format_index_line(self.count - 1 if key is None else key, start).encode())
        return start


# --------------------------------------------------------------------------- reader


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    payload: bytes


def framed_size(payload: bytes) -> int:
    """Bytes the record will occupy in the container, without building it."""
    data = bytes(payload)
    lower_align = len(data) & ~3
    splits = 0
    pos = data.find(MAGIC_BYTES)
    while 0 <= pos < lower_align:
        if pos % 4 == 0:
            splits += 1
            pos = data.find(MAGIC_BYTES, pos + 4)
        else:
            pos = data.find(MAGIC_BYTES, pos + 1)
    return 8 * (splits + 1) + len(data) - 4 * splits + _pad(len(data))


def read_record_at(stream: BinaryIO, offset: int, *, source: str = "<stream>") -> Record:
    stream.seek(offset)
    found = _read_one(stream, offset, source)
    if found is None:
        raise RecordIOCorruptError(f"{source}: no record at offset {offset} (end of file)")
    return found[0]


def iter_records(stream: BinaryIO, *, source: str = "<stream>", start: int = 0) -> Iterator[Record]:
    """Yield every record; raise ``RecordIOCorruptError`` naming the byte offset on damage."""
    offset = start
    if start:
        stream.seek(start)
    while True:
        found = _read_one(stream, offset, source)
        if found is None:
            return
        record, offset = found
        yield record


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks = []
    remaining = n
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_one(stream: BinaryIO, offset: int, source: str) -> tuple[Record, int] | None:
    """Read the record at ``offset``; return it and the offset just past it."""
    parts: list[bytes] = []
    pos = offset
    expected_first = True
    while True:
        head = _read_exact(stream, 8)
        if not head:
            if expected_first:
                return None
            raise RecordIOCorruptError(f"{source}: truncated at byte {pos}: a continued record has no last part")
        if len(head) < 8:
            if expected_first and not any(head):
                raise RecordIOCorruptError(f"{source}: {len(head)} stray zero bytes at the end (byte {pos})")
            raise RecordIOCorruptError(f"{source}: truncated record header at byte {pos} ({len(head)} of 8 bytes)")
        magic, lrec = _FRAME.unpack(head)
        if magic != MAGIC:
            raise RecordIOCorruptError(
                f"{source}: bad magic 0x{magic:08X} at byte {pos} (expected 0x{MAGIC:08X}); "
                "the file is not RecordIO or is damaged here"
            )
        cflag, length = decode_lrec(lrec)
        if expected_first and cflag not in (CFLAG_WHOLE, CFLAG_FIRST):
            raise RecordIOCorruptError(f"{source}: record at byte {pos} starts with continuation flag {cflag}")
        if not expected_first and cflag not in (CFLAG_MIDDLE, CFLAG_LAST):
            raise RecordIOCorruptError(f"{source}: continuation part at byte {pos} has flag {cflag}")
        body = _read_exact(stream, length)
        if len(body) < length:
            raise RecordIOCorruptError(
                f"{source}: truncated at byte {pos + 8 + len(body)}: record part at byte {pos} "
                f"announces {length} bytes, {len(body)} present"
            )
        parts.append(body)
        pos += 8 + length
        if cflag in (CFLAG_WHOLE, CFLAG_LAST):
            break
        if length % 4:
            raise RecordIOCorruptError(f"{source}: continuation part at byte {pos - 8 - length} is not 4-byte aligned")
        parts.append(MAGIC_BYTES)
        expected_first = False
    payload = b"".join(parts)
    pad = _pad(len(payload))
    if pad:
        padding = _read_exact(stream, pad)
        if len(padding) < pad:
            raise RecordIOCorruptError(f"{source}: truncated padding at byte {pos}")
    return Record(offset, payload), pos + pad


def count_records(path: str | os.PathLike[str]) -> int:
    with open(path, "rb") as stream:
        return sum(1 for _ in iter_records(stream, source=os.fspath(path)))


__all__ = [
    "HEADER_SIZE", "MAGIC", "MAGIC_BYTES", "MAX_RECORD_BYTES", "ImageHeader", "Record", "RecordWriter",
    "count_records", "decode_lrec", "encode_lrec", "float32", "format_index_line", "frame", "framed_size",
    "iter_records", "pack_header", "pack_image_record", "parse_index", "read_record_at", "unpack_image_record",
]
