"""Our container, index and header bytes equal MXNet's own for the same payloads."""

from __future__ import annotations

import io
import struct

import pytest

from satrec import recordio

mx = pytest.importorskip("mxnet")
pytestmark = pytest.mark.mxnet

MAGIC = struct.pack("<I", recordio.MAGIC)

PAYLOADS = [
    b"",
    b"a",
    b"abc",
    b"abcd",
    b"abcde",
    MAGIC,
    MAGIC + MAGIC,
    b"xx" + MAGIC + b"yy",              # unaligned magic: not split
    b"abcd" + MAGIC + b"efgh",          # aligned magic in the middle
    b"abcd" + MAGIC,                    # aligned magic at the end
    b"abcd" + MAGIC + b"e",
    MAGIC + b"x" * 7 + MAGIC + b"y" * 5 + MAGIC,
    bytes(range(256)) * 40,
]


def _mxnet_bytes(tmp_path, payloads: list[bytes], keys: list[int]) -> tuple[bytes, bytes]:
    rec, idx = tmp_path / "mx.rec", tmp_path / "mx.idx"
    writer = mx.recordio.MXIndexedRecordIO(str(idx), str(rec), "w")
    for key, payload in zip(keys, payloads, strict=True):
        writer.write_idx(key, payload)
    writer.close()
    return rec.read_bytes(), idx.read_bytes()


def test_container_and_index_bytes_equal_mxnet_indexed_writer(tmp_path):
    keys = list(range(len(PAYLOADS)))
    rec, idx = io.BytesIO(), io.BytesIO()
    writer = recordio.RecordWriter(rec, idx)
    for key, payload in zip(keys, PAYLOADS, strict=True):
        writer.write(payload, key)
    mx_rec, mx_idx = _mxnet_bytes(tmp_path, PAYLOADS, keys)
    assert rec.getvalue() == mx_rec
    assert idx.getvalue() == mx_idx


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_framed_size_matches_frame(payload):
    assert recordio.framed_size(payload) == len(recordio.frame(payload))


def test_mxnet_reads_back_every_payload_we_wrote(tmp_path):
    rec_path, idx_path = tmp_path / "ours.rec", tmp_path / "ours.idx"
    with open(rec_path, "wb") as rec, open(idx_path, "wb") as idx:
        writer = recordio.RecordWriter(rec, idx)
        for key, payload in enumerate(PAYLOADS):
            writer.write(payload, key)
    reader = mx.recordio.MXIndexedRecordIO(str(idx_path), str(rec_path), "r")
    assert [reader.read_idx(k) for k in range(len(PAYLOADS))] == PAYLOADS


def test_our_reader_reads_what_mxnet_wrote(tmp_path):
    mx_rec, _ = _mxnet_bytes(tmp_path, PAYLOADS, list(range(len(PAYLOADS))))
    got = [r.payload for r in recordio.iter_records(io.BytesIO(mx_rec))]
    assert got == PAYLOADS


@pytest.mark.parametrize(
    ("labels", "id_", "id2"),
    [
        ((3.0,), 7, 0),
        ((0.1,), 0, 0),                       # float32 rounding like a C cast
        ((1.0, 2.0, 3.5), 42, 9),             # multi-label: flag N + N float32
        ((struct.unpack("<f", MAGIC)[0],), recordio.MAGIC, recordio.MAGIC),  # header bits equal the magic
    ],
)
def test_image_header_equals_mxnet_pack(labels, id_, id2):
    import numpy as np

    label = labels[0] if len(labels) == 1 else np.array(labels, dtype=np.float32)
    header = mx.recordio.IRHeader(0, label, id_, id2)
    expected = mx.recordio.pack(header, b"IMG")
    assert recordio.pack_image_record(labels, b"IMG", id_, id2) == expected
    parsed, image = recordio.unpack_image_record(expected)
    mx_header, mx_image = mx.recordio.unpack(expected)
    assert image == mx_image == b"IMG"
    assert parsed.id == mx_header.id and parsed.id2 == mx_header.id2
    assert parsed.labels == tuple(float(x) for x in np.atleast_1d(mx_header.label))


def test_header_whose_bits_equal_magic_round_trips_through_mxnet_container(tmp_path):
    payload = recordio.pack_image_record((struct.unpack("<f", MAGIC)[0],), MAGIC * 3, recordio.MAGIC, 0)
    mx_rec, _ = _mxnet_bytes(tmp_path, [payload], [0])
    assert recordio.frame(payload) == mx_rec
