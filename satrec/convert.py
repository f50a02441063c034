"""``satrec convert``: inputs -> RecordIO shards, side files and ``meta/dataset.json``.

The flow, one pass, streaming:

1. enumerate the source (``satrec.sources``): items, early rejects, skipped files;
2. plan (``satrec.plan``): split per item, record order, shard cuts;
3. workers read and normalise each image (``satrec.imaging``) and frame the record; the main
   process writes bytes in plan order (ordered results, bounded prefetch), so the output is
   byte-identical whatever the number of workers. For pass-through, where shipping a record
   between processes costs as much as making it, the main process packs batches too;
4. each shard (``.rec``, ``.idx``, ``.lst``) is written under a staging name and published by
   rename / one PUT; shards of an earlier run that this run did not produce are removed;
5. ``classes.json``, ``rejects.jsonl`` and, last, ``dataset.json``.

``dataset.json`` is deleted before anything else is touched, so a killed run leaves none, and a
rerun rewrites everything to the same bytes. Memory holds the plan (one small object per input)
and counters; records, index lines and rejects stream to disk.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any, BinaryIO

from satrec import __version__, layout
from satrec.documents import DatasetDoc, ImageStats, Reject, ShardInfo, SplitInfo
from satrec.errors import ImageRejected, RecordTooLargeError, SatrecError, SourceError, UsageError
from satrec.geo import is_scene_path
from satrec.imaging import ImageSettings, normalise
from satrec.plan import ShardPolicy, SplitPlan, make_plan
from satrec.recordio import HEADER, frame, pack_header
from satrec.sources import DEFAULT_EXTS, InputItem, Source, load_input, open_source, printable_path
from satrec.split import Ratios
from satrec.storage import STAGING_PREFIX, LocalStorage, S3Storage, open_storage

# Reject reason codes decided here (imaging.py owns the decoding ones).
REASON_RECORD_TOO_LARGE = "record_too_large"
REASON_ERROR = "error"   # an unexpected failure on one input: reported, never a crash


@dataclass(frozen=True)
class ConvertOptions:
    src: str
    dst: str
    name: str | None = None
    image: ImageSettings = field(default_factory=ImageSettings)
    exts: tuple[str, ...] = DEFAULT_EXTS
    root: str | None = None
    train_ratio: float | None = None     # None: 1.0 for a .lst (already a split), else 0.8
    val_ratio: float | None = None
    test_ratio: float = 0.0
    seed: int = 0
    shuffle: bool = True
    stratify: bool = False
    shards: int | None = None
    shard_size_mb: float | None = None
    pack_label: bool = False
    num_workers: int = 0                 # 0: one per CPU
    fail_on_reject: bool = False
    scenes: Any = None                   # satrec.geo.options.ChipOptions; None: TIFFs chip only when they must


@dataclass
class ConvertResult:
    doc: DatasetDoc
    published: bool
    seconds: float
    destination: str
    foreign_files: list[str] = field(default_factory=list)   # in channel folders, not written by this run

    @property
    def rejected(self) -> int:
        return self.doc.inputs.get("rejected", 0)

    def warnings(self) -> list[str]:
        """Things that will fail later (SageMaker rejects empty channels), said now."""
        out = [f"the {split} split is empty: add images or change the ratios (SageMaker fails on empty channels)"
               for split, info in self.doc.splits.items() if info.records == 0]
        if self.doc.inputs.get("packed", 0) and self.doc.num_classes < 2 and self.doc.label_width == 1:
            out.append(f"only {self.doc.num_classes} class: a classifier needs at least 2")
        if self.foreign_files:
            shown = ", ".join(self.foreign_files[:3]) + (", ..." if len(self.foreign_files) > 3 else "")
            out.append(f"{len(self.foreign_files)} other file(s) in the channel folders ({shown}): SageMaker "
                       "would train on them too; remove them or use another DST")
        return out

    def summary(self) -> dict[str, Any]:
        doc = self.doc
        return {
            "name": doc.name,
            "destination": self.destination,
            "published": self.published,
            "inputs": dict(doc.inputs),
            "splits": {k: {"records": v.records, "shards": [s.rec for s in v.shards]} for k, v in doc.splits.items()},
            "num_classes": doc.num_classes,
            "label_width": doc.label_width,
            "rejects_by_reason": dict(sorted(doc.rejects_by_reason.items())),
            "skipped_by_reason": doc.extra.get("skipped_by_reason", {}),
            "warnings": self.warnings(),
            "seconds": round(self.seconds, 3),
            "images_per_second": round(doc.inputs.get("packed", 0) / self.seconds, 1) if self.seconds > 0 else None,
        }


# --------------------------------------------------------------------------- worker side

_SETTINGS: ImageSettings | None = None

# A task: (location, loader, pre-read bytes or a (reason, detail) failure or None, header bytes).
Task = tuple[str, "str | None", "bytes | tuple[str, str] | None", bytes]
# A result: (framed record, width, height) or (None, reason, detail).
Result = tuple[Any, Any, Any]


def _use_settings(settings: ImageSettings) -> None:
    global _SETTINGS
    _SETTINGS = settings


def _init_worker(settings: ImageSettings) -> None:
    import signal

    _use_settings(settings)
    _import_decoders(settings)
    # Ctrl-C goes to the main process, which stops the pool; workers must not print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Die with the main process even when it is SIGKILLed (Linux), instead of lingering.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# ~0.06 s of numpy import / ~15 us saved per proof by simplejpeg (imaging.load_simplejpeg). Measured in
# one process on 5,000 chips: 0.29 s with Pillow's decoder, 0.27 s with simplejpeg.
PROOFS_TO_REPAY_NUMPY = 4_000


def _import_decoders(settings: ImageSettings, *, images: int | None = None) -> None:
    """Import what a process's images need before its first batch: for pass-through, the JPEG proof's
    decoder (simplejpeg where it repays numpy's import, see ``imaging.load_simplejpeg``); else Pillow,
    its JPEG/PNG plugins and EXIF tables (the other ~40 plugins load only if an input needs them).

    Pool workers (``images`` None) start before the source is scanned, so their imports overlap the
    main process's scan and plan. The main process (``images``: how many it may prove itself) takes
    simplejpeg only when that many proofs repay the import on its own critical path.
    """
    if settings.pass_through:
        if images is None or images > PROOFS_TO_REPAY_NUMPY:
            from satrec.imaging import load_simplejpeg

            if load_simplejpeg():
                return
        try:
            from PIL import _imaging  # noqa: F401  (the decoder core: plain JPEGs need no PIL.Image)
        except ImportError:
            pass
        return
    try:
        from PIL import ExifTags, Image  # noqa: F401
    except ImportError:
        return
    Image.preinit()


# A batch's results in one message: the framed records of its packed inputs concatenated, then per
# input its record length (0: rejected), width and height, and (index, reason, detail) per reject.
BatchResult = tuple[bytes, list[int], list[int], list[int], list[tuple[int, str, str]]]


def process_batch(batch: list[Task]) -> BatchResult:
    """One message each way per batch: ``Pool.imap``'s own chunking still hands results over one
    by one (a lock round trip per image), which costs as much as packing a small chip. The records
    travel as one blob so the main process writes a batch with one call, not one per record."""
    parts: list[bytes] = []
    lengths: list[int] = []
    widths: list[int] = []
    heights: list[int] = []
    failures: list[tuple[int, str, str]] = []
    for i, task in enumerate(batch):
        record, a, b = process_one(task)
        if record is None:
            failures.append((i, a, b))
            lengths.append(0)
            widths.append(0)
            heights.append(0)
        else:
            parts.append(record)
            lengths.append(len(record))
            widths.append(a)
            heights.append(b)
    return b"".join(parts), lengths, widths, heights, failures


BATCH_BYTES = 4 << 20   # a batch's records (or pre-read inputs) stay around this size (big pass-through files)
IN_PROCESS_BATCH = 16   # images per batch without a pool
FIRST_BATCH = 4         # images per batch until the first records tell how big they are


class _RecordSizes:
    """Running total of the record bytes coming back, which the feeder thread reads to size batches.

    Batches used to be cut by a stat() of every input: in the feeder thread that released the GIL per
    file and, with the main thread hashing and writing, cost ~20 us per 64 px chip in lock hand-overs
    (measured), as much as packing it. Records are what a batch holds in flight anyway.
    """

    def __init__(self) -> None:
        self.bytes = 0
        self.records = 0

    def add(self, result: BatchResult) -> None:
        self.bytes += len(result[0])
        self.records += len(result[1])

    def per_batch(self, limit: int) -> int:
        if not self.records:
            return min(limit, FIRST_BATCH)
        return max(1, min(limit, BATCH_BYTES * self.records // max(1, self.bytes)))


def _batched(tasks: Iterator[Task], size: int, gate: threading.Semaphore | None, sizes: _RecordSizes, *,
             total: int, workers: int) -> Iterator[list[Task]]:
    """Lists of at most ``size`` tasks and about ``BATCH_BYTES`` of records (by the mean so far) or of
    pre-read input; at most the gate's count of them in flight, so memory stays bounded whatever the
    number or size of the images.

    Batches shrink towards the end (at most a quarter of each worker's share of what is left), so
    the workers finish together: big batches save per-message overhead, small last ones balance.
    """
    sent = 0
    while True:
        if gate is not None:
            gate.acquire()
        batch: list[Task] = []
        limit = max(1, min(sizes.per_batch(size), (total - sent) // (4 * workers)))
        held = 0
        for task in tasks:
            batch.append(task)
            data = task[2]
            if isinstance(data, bytes):
                held += len(data)
            if len(batch) >= limit or held >= BATCH_BYTES:
                break
        if not batch:
            return
        sent += len(batch)
        yield batch


def _released(batches: Iterator[BatchResult], gate: threading.Semaphore | None,
              sizes: _RecordSizes) -> Iterator[BatchResult]:
    """Batch results in order; a batch's place in the gate is given back once it is consumed."""
    for batch in batches:
        sizes.add(batch)
        yield batch
        if gate is not None:
            gate.release()


def _helped(pool: Any, batches: Iterator[list[Task]], sizes: _RecordSizes, *, ahead: int,
            spare: int) -> Iterator[BatchResult]:
    """Batch results in order, from the pool's workers and from this process: whenever the next
    result is not ready, the main process packs the next batch itself instead of waiting.

    For pass-through: a record there costs about as much to ship between processes (pickling, pipe,
    GIL hand-overs in the pool's threads) as to make, so the main process is one of the workers (N
    workers: N-1 processes and this one), and on two cores that is one process per core, not three
    competing. At most ``ahead`` batches are the pool's (queued, in work, or done and not yet
    consumed) and ``spare`` are done here and wait their turn, so memory stays bounded.
    """
    from collections import deque

    slots: deque[Any] = deque()   # AsyncResult (the pool's) or BatchResult (done here), in batch order
    pooled = 0                    # AsyncResults among the slots
    exhausted = False

    def draw() -> list[Task] | None:
        nonlocal exhausted
        batch = next(batches, None) if not exhausted else None
        exhausted = batch is None
        return batch

    def here(batch: list[Task]) -> BatchResult:
        result = process_batch(batch)
        sizes.add(result)   # sizes the next batches now, not when this result's turn comes
        return result

    # The first batch is packed here: its records tell how big the pool's batches should be.
    first = draw()
    if first is not None:
        slots.append(here(first))
    while True:
        while pooled < ahead and (batch := draw()) is not None:
            slots.append(pool.apply_async(process_batch, (batch,)))
            pooled += 1
        if not slots:
            return
        head = slots[0]
        if isinstance(head, tuple):
            slots.popleft()
            yield head
            continue
        if not head.ready() and len(slots) - pooled < spare and (batch := draw()) is not None:
            slots.append(here(batch))
            continue
        slots.popleft()
        pooled -= 1
        result = head.get()
        sizes.add(result)
        yield result


def process_one(task: Task) -> Result:
    """Read, normalise and frame one input. Never raises: failures come back as reject values."""
    location, loader, data, header = task
    settings = _SETTINGS
    assert settings is not None, "worker not initialised"
    try:
        if isinstance(data, tuple):
            return None, data[0], data[1]
        if data is None:
            data = load_input(location, loader)
        image = normalise(data, settings, name=location)
        return frame(header + image.data), image.width, image.height
    except ImageRejected as exc:
        return None, exc.reason, exc.detail
    except RecordTooLargeError as exc:
        return None, REASON_RECORD_TOO_LARGE, str(exc)
    except MemoryError:
        return None, REASON_ERROR, "out of memory while decoding"
    except Exception as exc:   # one bad input must never stop a conversion of millions
        return None, REASON_ERROR, f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- shard writing


@dataclass
class _Shard:
    index: int
    rec_rel: str
    idx_rel: str
    lst_rel: str
    chips_rel: str | None
    staged: dict[str, str]
    rec: BinaryIO
    idx: BinaryIO
    lst: BinaryIO
    chips: BinaryIO | None
    sha: Any = field(default_factory=hashlib.sha256)
    offset: int = 0
    records: int = 0
    # Records not yet hashed and written: hashlib releases the GIL for every buffer over 2 KiB, and each
    # hand-over to the pool's feeder thread cost ~15 us per small record (measured); one per 64 KiB is cheap.
    pending: list[bytes | memoryview] = field(default_factory=list)
    pending_bytes: int = 0

    def write_record(self, record: bytes | memoryview) -> None:
        self.pending.append(record)
        self.pending_bytes += len(record)
        if self.pending_bytes >= REC_FLUSH_BYTES:
            self.flush_records()

    def flush_records(self) -> None:
        if self.pending:
            data = b"".join(self.pending)
            self.sha.update(data)
            self.rec.write(data)
            self.pending = []
            self.pending_bytes = 0


REC_FLUSH_BYTES = 64 << 10   # small enough that memory stays flat; a GIL release per ~30 chips


class SplitWriter:
    """Writes one split's shards in order, cutting by planned position or by size."""

    def __init__(self, storage: LocalStorage | S3Storage, name: str, plan: SplitPlan, policy: ShardPolicy,
                 *, with_chips: bool, classes: list[str],
                 labels_of: Callable[[InputItem], tuple[float, ...]]) -> None:
        self.storage = storage
        self.name = name
        self.plan = plan
        self.policy = policy
        self.with_chips = with_chips
        self.classes = classes
        self.shards: list[ShardInfo] = []
        self.written: set[str] = set()
        self.per_class: Counter[str] = Counter()
        self.current: _Shard | None = None
        self.next_index = 0
        self._label_text: dict[tuple[float, ...], str] = {}
        self.labels_of = labels_of   # the labels an item's record carries

    def _open(self) -> _Shard:
        index = self.next_index
        self.next_index += 1
        split = self.plan.split
        rels = {"rec": layout.rec_path(self.name, split, index), "idx": layout.idx_path(self.name, split, index),
                "lst": layout.lst_path(self.name, split, index)}
        if self.with_chips:
            rels["chips"] = layout.chips_path(self.name, split, index)
        staged = {kind: self.storage.staging_path(rel) for kind, rel in rels.items()}
        # Closed in _close()/abort(): a shard stays open across many add() calls.
        # The .rec gets 64 KiB writes from _Shard.flush_records.
        handles = {kind: open(path, "wb", buffering=1 << 16)  # noqa: SIM115
                   for kind, path in staged.items()}
        return _Shard(index, rels["rec"], rels["idx"], rels["lst"], rels.get("chips"), staged,
                      handles["rec"], handles["idx"], handles["lst"], handles.get("chips"))

    def _close(self) -> None:
        shard = self.current
        if shard is None:
            return
        self.current = None
        shard.flush_records()
        for handle in (shard.rec, shard.idx, shard.lst, shard.chips):
            if handle is not None:
                handle.close()
        self.storage.commit(shard.staged["rec"], shard.rec_rel)
        self.storage.commit(shard.staged["idx"], shard.idx_rel)
        self.storage.commit(shard.staged["lst"], shard.lst_rel)
        if shard.chips_rel:
            self.storage.commit(shard.staged["chips"], shard.chips_rel)
        self.written.update(rel for rel in (shard.rec_rel, shard.idx_rel, shard.lst_rel, shard.chips_rel) if rel)
        self.shards.append(ShardInfo(self.plan.split, shard.rec_rel, shard.idx_rel, shard.lst_rel, shard.records,
                                     shard.offset, shard.sha.hexdigest()))

    def abort(self) -> None:
        shard = self.current
        self.current = None
        if shard is None:
            return
        for handle in (shard.rec, shard.idx, shard.lst, shard.chips):
            if handle is not None:
                handle.close()
        for path in shard.staged.values():
            self.storage.discard(path)

    def add_run(self, position: int, items: list[InputItem], lengths: list[int], data: memoryview) -> None:
        """Write consecutive planned inputs from ``position`` on: ``lengths[i]`` is the framed record
        of ``items[i]`` (0: rejected, nothing written), ``data`` their records concatenated.

        Whole runs, not records: one .rec write and one .idx/.lst write per shard touched (per record
        the calls cost the main process as much as a worker's proof of a 64 px chip). Shards are cut
        exactly where record-by-record writing cut them: at planned positions (``--shards``), or
        before the record that would overflow (``--shard-size``)."""
        start = 0
        at = 0   # bytes of data before items[start]
        n = len(items)
        policy = self.policy
        while start < n:
            if policy.count:
                target = self.plan.shard_of(position + start)
                while self.current is None or self.current.index < target:
                    self._close()
                    self.current = self._open()
                end = n if target >= len(self.plan.cuts) else min(n, self.plan.cuts[target] - position)
            else:
                if self.current is None:
                    self.current = self._open()
                end = n
                if policy.max_bytes:
                    end = self._fits(lengths, start, n, policy.max_bytes)
                    if end == start:   # the next record would overflow a shard that holds records
                        self._close()
                        self.current = self._open()
                        end = self._fits(lengths, start, n, policy.max_bytes)
            nbytes = sum(lengths[start:end])
            self._write_span(self.current, items[start:end], lengths[start:end], data[at:at + nbytes])
            at += nbytes
            start = end

    def _fits(self, lengths: list[int], start: int, stop: int, max_bytes: int) -> int:
        """The end of the run from ``start`` that still fits the current shard (a shard's first
        record always fits; rejected inputs take no room)."""
        shard = self.current
        assert shard is not None
        offset, records = shard.offset, shard.records
        for i in range(start, stop):
            length = lengths[i]
            if not length:
                continue
            if records and offset + length > max_bytes:
                return i
            offset += length
            records += 1
        return stop

    def _write_span(self, shard: _Shard, items: list[InputItem], lengths: list[int], data: memoryview) -> None:
        if 0 in lengths:
            items = [it for it, length in zip(items, lengths, strict=True) if length]
            lengths = [length for length in lengths if length]
        if not items:
            return
        shard.write_record(data)
        keys = [it.index if it.key is None else it.key for it in items]
        offsets = accumulate(lengths[:-1], initial=shard.offset)
        shard.idx.write(b"".join([b"%d\t%d\n" % pair for pair in zip(keys, offsets, strict=True)]))
        # A dataset has few distinct label tuples: format each once.
        texts = self._label_text
        labels_of = self.labels_of
        lines = []
        for key, item in zip(keys, items, strict=True):
            labels = labels_of(item)
            text = texts.get(labels)
            if text is None:
                text = texts[labels] = "".join(f"{x:f}\t" for x in labels)
            lines.append(f"{key}\t{text}{item.relpath}\n")
            if item.cls is None:
                self._count(item, labels)
        shard.lst.write("".join(lines).encode("utf-8", "surrogateescape"))
        self.per_class.update([it.cls for it in items if it.cls is not None])
        if shard.chips is not None:
            for key, item in zip(keys, items, strict=True):
                line = {"key": key, "path": item.relpath, **(item.provenance or {})}
                shard.chips.write((json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n").encode())
        shard.offset += len(data)
        shard.records += len(items)

    def _count(self, item: InputItem, labels: tuple[float, ...]) -> None:
        if item.cls is not None:
            self.per_class[item.cls] += 1
        elif len(labels) == len(self.classes) > 1:
            # A multi-hot vector: count every class present.
            for name, value in zip(self.classes, labels, strict=True):
                if value > 0:
                    self.per_class[name] += 1

    def finish(self) -> SplitInfo:
        if not self.plan.items:
            return SplitInfo(0, {}, [])
        # Count policy: every planned shard exists, even one whose inputs were all rejected.
        total = self.plan.shard_count or 1
        if self.current is None and self.next_index < total:
            self.current = self._open()
        while self.current is not None:
            self._close()
            if self.next_index < total:
                self.current = self._open()
        records = sum(s.records for s in self.shards)
        return SplitInfo(records, dict(sorted(self.per_class.items())), self.shards)


# --------------------------------------------------------------------------- orchestration


def _workers(requested: int) -> int:
    if requested and requested > 0:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _default_ratios(options: ConvertOptions, source: Source) -> Ratios:
    train = options.train_ratio
    if train is None:
        if options.val_ratio is not None:
            # --val-ratio alone: train takes the rest (what a user asking for 30% validation means).
            train = max(0.0, 1.0 - options.val_ratio - options.test_ratio)
        elif source.kind == "lst" and not options.test_ratio:
            train = 1.0   # a .lst is usually already one split (im2rec writes prefix_train/_val.lst)
        else:
            train = 0.8   # with --test-ratio over 0.2, Ratios.resolve asks for an explicit --train-ratio
    return Ratios.resolve(train, options.val_ratio, options.test_ratio)


def _packed_labels(item: InputItem, source: Source, pack_label: bool) -> tuple[float, ...]:
    """The labels a record carries. For a .lst, as im2rec: every label column only with --pack-label
    and more than one column, else the first."""
    if source.kind == "lst" and not (pack_label and len(item.labels) > 1):
        return item.labels[:1]
    return item.labels


def _header_for(item: InputItem, source: Source, pack_label: bool) -> bytes:
    labels = _packed_labels(item, source, pack_label)
    key = item.record_key
    if len(labels) == 1 and not source.multi_label and type(labels[0]) is float and 0 <= key < 2**64:
        # The common case, without pack_header's per-call checks: struct packs the float like a
        # C float cast (sources already rounded labels to float32), flag 0, id = key.
        return HEADER.pack(0, labels[0], key, 0)
    return pack_header(labels, key, multi=source.multi_label or len(labels) > 1)


def _settings_dict(options: ConvertOptions, source: Source, ratios: Ratios, policy: ShardPolicy,
                   exts: tuple[str, ...]) -> dict[str, Any]:
    # Everything that shapes the bytes; nothing that does not (worker count, progress, paths of DST).
    return {
        "source": options.src,
        "source_kind": source.kind,
        "root": options.root,
        "exts": list(exts),
        "ratios": ratios.to_dict(),
        "seed": options.seed,
        "shuffle": options.shuffle,
        "stratify": options.stratify,
        "sharding": policy.to_dict(),
        "pack_label": options.pack_label,
        "image": options.image.to_dict(),
        **({"scenes": _scene_settings(options.scenes)} if options.scenes is not None else {}),
    }


def _scene_settings(scenes: Any) -> dict[str, Any] | None:
    from satrec.geo.cli_options import options_to_dict

    return options_to_dict(scenes)


S3_FETCH_THREADS = 16    # S3 GETs are latency-bound (~10-50 ms each): overlap them


def _fetch(s3_reader: S3Storage, key: str) -> bytes | tuple[str, str]:
    try:
        data = s3_reader.client.get_object(Bucket=s3_reader.bucket, Key=key)["Body"].read()
    except Exception as exc:
        return "unreadable", f"{type(exc).__name__}: {exc}"
    return bytes(data) if data else ("zero_byte", "input is 0 bytes")


def _tasks(items: Iterable[InputItem], source: Source, pack_label: bool, s3_reader: S3Storage | None,
           gate: threading.Semaphore | None) -> Iterator[Task]:
    """Worker tasks in plan order. S3 inputs are fetched here, in the main process (by a few threads,
    in order, a bounded window ahead), so workers never need an AWS client."""
    if s3_reader is None:
        for item in items:
            if gate is not None:
                gate.acquire()
            yield item.location, item.loader, None, _header_for(item, source, pack_label)
        return
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    window: deque[tuple[InputItem, Future[bytes | tuple[str, str]] | None]] = deque()
    with ThreadPoolExecutor(S3_FETCH_THREADS, thread_name_prefix="satrec-s3") as fetchers:
        for item in items:
            window.append((item, fetchers.submit(_fetch, s3_reader, item.location) if item.loader is None else None))
            if len(window) < 2 * S3_FETCH_THREADS:
                continue
            yield _s3_task(window.popleft(), source, pack_label, gate)
        while window:
            yield _s3_task(window.popleft(), source, pack_label, gate)


def _s3_task(entry: tuple[InputItem, Any], source: Source, pack_label: bool,
             gate: threading.Semaphore | None) -> Task:
    item, future = entry
    data = future.result() if future is not None else None
    if gate is not None:
        gate.acquire()
    return item.location, item.loader, data, _header_for(item, source, pack_label)


def _remove_stale(storage: LocalStorage | S3Storage, name: str, keep: set[str]) -> list[str]:
    """Delete this dataset's shard files that this run did not write, and leftover staging files.

    Returns the other files found in channel folders: not ours to delete, but SageMaker Pipe mode
    would stream them into training along with ours.
    """
    pattern = layout.shard_file_pattern(name)
    foreign = []
    for prefix in (*layout.CHANNELS.values(), layout.META_DIR):
        for rel, _size in list(storage.list(prefix + "/")):
            base = rel.rsplit("/", 1)[-1]
            if (pattern.match(rel) and rel not in keep) or base.startswith(STAGING_PREFIX):
                storage.delete(rel)
            elif prefix != layout.META_DIR and rel not in keep:
                foreign.append(rel)
    return foreign


def convert(options: ConvertOptions, *, s3_client: Any = None, progress: Callable[[int], None] | None = None,
            on_plan: Callable[[int], None] | None = None, source: Source | None = None) -> ConvertResult:
    """Run one conversion; raise ``SatrecError`` for fatal problems (bad options, SRC, DST).

    ``source`` replaces the enumeration of ``options.src`` (scene chipping builds its own items, with
    loaders, split keys and provenance); ``options.src`` is then only recorded in the settings.
    """
    started = time.perf_counter()
    settings = options.image.validate()
    workers = _workers(options.num_workers)
    pool = None
    if workers > 1 and source is None and not options.src.startswith("s3://"):
        # Workers spend 0.02-0.06 s starting and importing their decoders (simplejpeg pulls in numpy),
        # as long as a 5,000-chip folder takes to scan and plan: start them first, so both happen at
        # once. (S3 sources start them later: no fork while boto3's threads may hold locks.)
        pool = _start_pool(workers, settings)
    try:
        return _convert(options, settings, workers, pool, started, s3_client=s3_client, progress=progress,
                        on_plan=on_plan, source=source)
    except BaseException:
        if pool is not None:
            pool.terminate()
        raise


def _main_packs_too(settings: ImageSettings) -> bool:
    """Pass-through: the main process is one of the workers (``_helped``); else it only writes."""
    return settings.pass_through


def _start_pool(workers: int, settings: ImageSettings) -> Any:
    """The worker processes: one per worker, or one fewer when the main process packs too."""
    import multiprocessing
    from multiprocessing.pool import Pool

    class QuietPool(Pool):
        """A Pool whose worker-maintenance thread sleeps until a worker exits or the pool changes.

        The stock one also wakes whenever results wait in the pipe (needed only to replace workers
        under ``maxtasksperchild``, which convert never sets), and while a big result message is being
        read it spins: ~2,000 wake-ups and 0.04-0.06 s of the main process's CPU in a 5,000-chip
        pass-through (measured per thread), taking the GIL from the threads that do the work. Worker
        deaths still wake it (worker sentinels), as do close/terminate and the end of all tasks
        (the change notifier)."""

        def _get_sentinels(self) -> list[Any]:
            return [self._change_notifier._reader]   # type: ignore[attr-defined]

    fork = "fork" in multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if fork else "spawn")
    processes = workers - 1 if _main_packs_too(settings) else workers
    return QuietPool(processes, initializer=_init_worker, initargs=(settings,), context=ctx)


def _convert(options: ConvertOptions, settings: ImageSettings, workers: int, pool: Any, started: float, *,
             s3_client: Any, progress: Callable[[int], None] | None, on_plan: Callable[[int], None] | None,
             source: Source | None) -> ConvertResult:
    policy = ShardPolicy.from_options(options.shards, options.shard_size_mb)
    name = layout.check_name(options.name or _default_name(options.src))
    if source is None:
        source = open_source(options.src, exts=options.exts, root=options.root, s3_client=s3_client)
        if options.scenes is not None or any(is_scene_path(it.relpath) for it in source.items):
            # GeoTIFF scenes -> chips (satrec/geo); imported only when there may be scenes.
            from satrec.geo.scenes_source import expand_source

            source = expand_source(source, options.scenes)
    if not source.items and not source.rejects:
        skipped_text = ", ".join(f"{n} {why}" for why, n in sorted(source.skipped.items())) or "none"
        raise SourceError(f"found no input images in {options.src!r} (extensions {' '.join(options.exts)}; "
                          f"skipped: {skipped_text}); check SRC, or widen --exts")
    ratios = _default_ratios(options, source)
    plans = make_plan(source.items, seed=options.seed, ratios=ratios, shuffle=options.shuffle,
                      stratify=options.stratify, policy=policy)
    planned = sum(len(p.items) for p in plans)
    if on_plan:
        on_plan(planned)

    storage = open_storage(options.dst, s3_client=s3_client)
    storage.prepare()
    # First thing written: no dataset.json, so nobody reads a dataset while it changes.
    storage.delete(layout.meta_path(layout.DATASET_JSON))

    with_chips = any(it.provenance for it in source.items)
    s3_reader = S3Storage(source.bucket, "", client=s3_client) if source.kind == "s3" and source.bucket else None
    rejects_rel = layout.meta_path(layout.REJECTS_JSONL)
    rejects_staged = storage.staging_path(rejects_rel)
    reasons: Counter[str] = Counter()
    sizes = [0, 0, 0, 0]   # min w, min h, max w, max h
    packed = 0
    split_infos: dict[str, SplitInfo] = {}
    written: set[str] = set()

    label_width = max((len(_packed_labels(it, source, options.pack_label)) for p in plans for it in p.items),
                      default=source.label_width)

    # A worker gets and returns a batch of images per message (at most `chunk` images and about
    # BATCH_BYTES of records); at most 3 batches per worker are in flight, so memory is bounded by a few
    # batches whatever the dataset size. Every message costs the main process's threads (pickling,
    # pipes, GIL hand-overs) far more than its bytes: measured with 2 workers, 5,000 x 64 px
    # pass-through took 0.31 s with 256 per batch and 0.33 s with 64; 1,000 x 512 px -> 224 px used
    # 0.34 s of main-process CPU with 4 per batch, 0.23 s with 16 and 0.16 s with 64 (wall 1.30 ->
    # 1.06 s). _batched shrinks the last batches so that the workers still finish together.
    chunk = 256 if settings.pass_through else 64
    gate: threading.Semaphore | None = None
    task_iter = _tasks((it for p in plans for it in p.items), source, options.pack_label, s3_reader, None)
    writer: SplitWriter | None = None
    try:
        with open(rejects_staged, "wb") as rejects_out:
            for reject in source.rejects:
                _write_reject(rejects_out, reject)
                reasons[reject.reason] += 1
            if pool is None and workers > 1 and planned > 1:
                pool = _start_pool(workers, settings)
            in_pool = pool is not None and planned > 1
            helped = in_pool and _main_packs_too(settings)
            gate = threading.Semaphore(workers * 3) if in_pool and not helped else None
            record_sizes = _RecordSizes()
            # In-process batches stay small: no messages to save there, only the writer's calls per run,
            # and a batch's records are held twice (parts and blob) while it is built.
            batches = _batched(task_iter, chunk if in_pool else IN_PROCESS_BATCH, gate, record_sizes, total=planned,
                               workers=workers if in_pool else 1)
            _use_settings(settings)
            if helped:
                # The main process packs less than a worker's share (it also writes): about one in workers + 1.
                _import_decoders(settings, images=planned // (workers + 1))
                # Three batches queued per worker process keep it busy while this one packs a batch.
                results = _helped(pool, batches, record_sizes, ahead=3 * (workers - 1), spare=3)
            elif in_pool:
                results = _released(pool.imap(process_batch, batches, chunksize=1), gate, record_sizes)
            else:
                _import_decoders(settings, images=planned)
                results = _released(map(process_batch, batches), None, record_sizes)
            labels_of = functools.partial(_packed_labels, source=source, pack_label=options.pack_label)
            # The current batch result, and how far into it (inputs, record bytes) the writers are.
            blob: memoryview = memoryview(b"")
            lengths: list[int] = []
            failures: list[tuple[int, str, str]] = []
            at = byte_at = 0
            for plan in plans:
                writer = SplitWriter(storage, name, plan, policy, with_chips=with_chips, classes=source.classes,
                                     labels_of=labels_of)
                position, total = 0, len(plan.items)
                while position < total:
                    if at == len(lengths):
                        data, lengths, widths, heights, failures = next(results)
                        blob, at, byte_at = memoryview(data), 0, 0
                        packed, sizes = _image_sizes(packed, sizes, lengths, widths, heights, failures)
                    take = min(total - position, len(lengths) - at)
                    run = lengths[at:at + take]
                    nbytes = sum(run)
                    writer.add_run(position, plan.items[position:position + take], run,
                                   blob[byte_at:byte_at + nbytes])
                    for i, reason, detail in failures:
                        if at <= i < at + take:
                            item = plan.items[position + i - at]
                            _write_reject(rejects_out, Reject(printable_path(item.relpath), reason, detail))
                            reasons[reason] += 1
                    at += take
                    byte_at += nbytes
                    position += take
                    if progress:
                        progress(take)
                split_infos[plan.split] = writer.finish()
                written.update(writer.written)
                writer = None
        storage.commit(rejects_staged, rejects_rel)
    except BaseException:
        if writer is not None:
            writer.abort()
        storage.discard(rejects_staged)
        if gate is not None:
            gate.release(1 << 20)   # unblock the pool's feeder thread so terminate() can join it
        if pool is not None:
            pool.terminate()
            pool = None
        raise
    finally:
        if pool is not None:
            pool.close()
            pool.join()

    foreign = _remove_stale(storage, name, written)
    rejected = sum(reasons.values())
    skipped = sum(source.skipped.values())
    classes = source.classes
    storage.write_bytes(layout.meta_path(layout.CLASSES_JSON),
                        (json.dumps({c: i for i, c in enumerate(classes)}, indent=2, ensure_ascii=False) + "\n")
                        .encode())
    doc = DatasetDoc(
        name=name,
        classes=list(classes),
        label_width=label_width,
        splits=split_infos,
        image=ImageStats(*sizes) if packed else None,
        inputs={"total": packed + rejected + skipped, "packed": packed, "rejected": rejected, "skipped": skipped},
        rejects_by_reason=dict(reasons),
        settings=_settings_dict(options, source, ratios, policy, tuple(options.exts)),
        satrec_version=__version__,
        recipe=source.recipe,
        extra={"skipped_by_reason": dict(sorted(source.skipped.items()))},
    )
    publish = not (options.fail_on_reject and rejected)
    if publish:
        storage.write_bytes(layout.meta_path(layout.DATASET_JSON), doc.to_json().encode())
    if isinstance(storage, S3Storage):
        storage.close()
    return ConvertResult(doc, publish, time.perf_counter() - started, storage.uri, foreign)


def _image_sizes(packed: int, sizes: list[int], lengths: list[int], widths: list[int], heights: list[int],
                 failures: list[tuple[int, str, str]]) -> tuple[int, list[int]]:
    """Packed count and [min w, min h, max w, max h] after one batch's results."""
    if failures:
        widths = [w for w, length in zip(widths, lengths, strict=True) if length]
        heights = [h for h, length in zip(heights, lengths, strict=True) if length]
    if not widths:
        return packed, sizes
    low_w, low_h, high_w, high_h = min(widths), min(heights), max(widths), max(heights)
    if not packed:
        return len(widths), [low_w, low_h, high_w, high_h]
    return packed + len(widths), [min(sizes[0], low_w), min(sizes[1], low_h), max(sizes[2], high_w),
                                  max(sizes[3], high_h)]


def _write_reject(out: BinaryIO, reject: Reject) -> None:
    out.write((json.dumps(reject.to_dict(), ensure_ascii=False) + "\n").encode())


def _default_name(src: str) -> str:
    """The SRC folder's name (a list's or manifest's stem), made safe for file names and S3 keys."""
    if src.startswith("s3://"):
        base = src.rstrip("/").rsplit("/", 1)[-1]
        if base.startswith("s3:") or not base:
            base = "dataset"
    else:
        path = Path(src)
        base = path.stem if path.suffix.lower() in (".lst", ".csv") else Path(src).resolve().name
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "-" for ch in base).strip("-._")
    if not safe:
        raise UsageError(f"cannot derive a dataset name from {src!r}; give --name")
    return safe[:100]


__all__ = ["ConvertOptions", "ConvertResult", "SatrecError", "convert", "process_one"]
