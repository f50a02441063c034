"""The RecordIO engine on its own: framing rules, index, header, corruption reporting."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from satrec import recordio
from satrec.errors import RecordIOCorruptError, RecordTooLargeError, SatrecError

MAGIC = recordio.MAGIC_BYTES


def _write(payloads: list[bytes]) -> bytes:
    out = io.BytesIO()
    writer = recordio.RecordWriter(out)
    for payload in payloads:
        writer.write(payload)
    return out.getvalue()


@given(st.lists(st.one_of(st.binary(max_size=64), st.builds(lambda a, b: a + MAGIC + b,
                                                             st.binary(max_size=12), st.binary(max_size=12))),
                max_size=8))
def test_any_payloads_round_trip_through_writer_and_reader(payloads):
    data = _write(payloads)
    assert len(data) % 4 == 0
    assert [r.payload for r in recordio.iter_records(io.BytesIO(data))] == payloads


@given(st.binary(max_size=200))
def test_framed_size_predicts_frame_length(payload):
    assert recordio.framed_size(payload) == len(recordio.frame(payload))


def test_aligned_magic_splits_into_first_and_last_parts():
    framed = recordio.frame(b"abcd" + MAGIC + b"efgh")
    words = struct.unpack("<6I", framed[:24])
    assert words[0] == recordio.MAGIC and recordio.decode_lrec(words[1]) == (recordio.CFLAG_FIRST, 4)
    assert framed[8:12] == b"abcd"
    assert words[3] == recordio.MAGIC and recordio.decode_lrec(words[4]) == (recordio.CFLAG_LAST, 4)


def test_unaligned_magic_is_left_in_one_part():
    framed = recordio.frame(b"ab" + MAGIC + b"cd")
    assert recordio.decode_lrec(struct.unpack_from("<I", framed, 4)[0]) == (recordio.CFLAG_WHOLE, 8)


def test_payload_of_two_to_the_29_bytes_is_refused_with_a_clear_error():
    with pytest.raises(RecordTooLargeError, match="too large"):
        recordio.frame(memoryview(bytearray(recordio.MAX_RECORD_BYTES + 1)))


def test_offsets_in_index_point_at_each_record():
    rec, idx = io.BytesIO(), io.BytesIO()
    writer = recordio.RecordWriter(rec, idx)
    payloads = [b"one", b"", MAGIC * 2, b"four!"]
    for key, payload in enumerate(payloads):
        writer.write(payload, key)
    entries = recordio.parse_index(idx.getvalue().decode())
    assert [k for k, _ in entries] == ["0", "1", "2", "3"]
    for (_, offset), payload in zip(entries, payloads, strict=True):
        assert recordio.read_record_at(rec, offset).payload == payload


def test_bad_magic_is_reported_with_its_byte_offset():
    data = bytearray(_write([b"abcd", b"efgh"]))
    data[12:16] = b"\xde\xad\xbe\xef"   # magic of the second record (first is 8 + 4 bytes)
    with pytest.raises(RecordIOCorruptError, match=r"bad magic .* at byte 12"):
        list(recordio.iter_records(io.BytesIO(bytes(data))))


def test_truncated_record_is_reported_not_returned():
    data = _write([b"hello world!"])[:-3]
    with pytest.raises(RecordIOCorruptError, match="truncated"):
        list(recordio.iter_records(io.BytesIO(data)))


def test_trailing_bytes_after_the_last_record_are_reported():
    data = _write([b"abcd"]) + b"\0\0"
    with pytest.raises(RecordIOCorruptError, match="byte 12"):
        list(recordio.iter_records(io.BytesIO(data)))


def test_continued_record_without_last_part_is_truncation():
    data = recordio.frame(b"abcd" + MAGIC + b"efgh")[:12]   # first part only
    with pytest.raises(RecordIOCorruptError, match="no last part"):
        list(recordio.iter_records(io.BytesIO(data)))


def test_index_with_non_increasing_offsets_is_rejected():
    with pytest.raises(RecordIOCorruptError, match="does not increase"):
        recordio.parse_index("0\t0\n1\t16\n2\t16\n")


def test_index_line_without_tab_is_rejected_with_its_line_number():
    with pytest.raises(RecordIOCorruptError, match=r"\.idx:2"):
        recordio.parse_index("0\t0\n1 16\n")


def test_index_key_with_tab_cannot_be_written():
    with pytest.raises(SatrecError):
        recordio.format_index_line("a\tb", 0)


def test_label_rounds_like_a_c_float_cast():
    assert recordio.float32(0.1) == struct.unpack("<f", struct.pack("<f", 0.1))[0]
    with pytest.raises(SatrecError, match="float32"):
        recordio.float32(1e300)


def test_multi_label_header_stores_flag_and_vector():
    payload = recordio.pack_image_record((1.0, 2.0), b"img", 5)
    flag, label, id_, id2 = recordio.HEADER.unpack_from(payload)
    assert (flag, label, id_, id2) == (2, 0.0, 5, 0)
    header, image = recordio.unpack_image_record(payload)
    assert header.labels == (1.0, 2.0) and image == b"img"


def test_forced_vector_form_for_a_single_label():
    header, _ = recordio.unpack_image_record(recordio.pack_image_record((3.0,), b"", multi=True))
    assert header.labels == (3.0,)
    assert recordio.HEADER.unpack_from(recordio.pack_image_record((3.0,), b"", multi=True))[0] == 1


def test_header_announcing_more_labels_than_present_is_corrupt():
    payload = recordio.HEADER.pack(5, 0.0, 0, 0) + b"\0" * 8
    with pytest.raises(RecordIOCorruptError, match="5 labels"):
        recordio.unpack_image_record(payload)
