"""Check a dataset (or one ``.rec``) against its ``.idx``, ``.lst`` and ``dataset.json``.

``verify_dataset(root)`` is what ``satrec verify`` and the cloud pipeline's validation step call, on a
local folder or on shards downloaded from S3. It streams every ``.rec`` once (memory bounded by one
shard's index, not the dataset) and reports problems as values with short stable codes, never by
raising: only an unusable PATH raises ``SourceError``.

What is checked, per shard:

* framing: the dmlc container parses to the end (``satrec.recordio`` streaming reader);
* size and sha256 of the ``.rec`` equal ``dataset.json``'s, and its record count;
* ``.idx``: one line per record, in order, each offset where the record really starts, keys unique;
* ``.lst`` (im2rec's ``index<TAB>label(s)<TAB>relpath``): one line per record, same key, same labels;
* image header: id equals the record key (im2rec's contract), label count equals ``label_width``,
  every label a whole number in ``[0, num_classes)``;
* every image decodes completely, is JPEG or PNG (what the SageMaker algorithm reads), and with
  ``min_size`` both sides are at least that;

and per dataset: split and per-class counts add up, ``classes.json`` agrees with ``dataset.json``,
and channel folders hold nothing but the listed ``.rec`` files (SageMaker Pipe mode streams every
object under a channel prefix).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from satrec import layout, recordio
from satrec.documents import DatasetDoc, ShardInfo
from satrec.errors import ImageRejected, RecordIOCorruptError, SatrecError, SourceError

DEFAULT_MAX_PROBLEMS = 20
SAGEMAKER_FORMATS = ("JPEG", "PNG")


@dataclass(frozen=True)
class Problem:
    """One finding. ``code`` is short and stable (README lists them); ``where`` is a file, with
    ``#key`` appended when one record is at fault."""

    code: str
    where: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "where": self.where, "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.where}: {self.code}: {self.detail}"


@dataclass
class ShardReport:
    rec: str
    split: str | None
    records: int = 0
    bytes: int = 0
    sha256: str = ""
    images_checked: int = 0
    problems: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"rec": self.rec, "split": self.split, "records": self.records, "bytes": self.bytes,
                "sha256": self.sha256, "images_checked": self.images_checked, "problems": self.problems}


@dataclass
class VerifyReport:
    """The outcome: ``ok`` when no problem was found. ``problems`` holds the first ``max_problems``;
    ``problem_count`` counts them all."""

    path: str
    shards: list[ShardReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    max_problems: int = DEFAULT_MAX_PROBLEMS
    problem_codes: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def records(self) -> int:
        return sum(s.records for s in self.shards)

    def add(self, code: str, where: str, detail: str) -> None:
        self.problem_count += 1
        self.problem_codes[code] += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(Problem(code, where, detail))

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "records": self.records,
            "shards": [s.to_dict() for s in self.shards],
            "problem_count": self.problem_count,
            "problems_by_code": dict(sorted(self.problem_codes.items())),
            "problems": [p.to_dict() for p in self.problems],
        }


# --------------------------------------------------------------------------- entry points


def verify_dataset(root: str | os.PathLike[str], *, min_size: int = 0, decode: bool = True,
                   max_problems: int = DEFAULT_MAX_PROBLEMS) -> VerifyReport:
    """Verify a dataset folder (``<root>/meta/dataset.json`` and everything it lists)."""
    base = Path(root)
    if not base.is_dir():
        raise SourceError(f"{root} is not a folder; give a dataset folder (with meta/dataset.json) or a .rec file")
    doc_path = base / layout.meta_path(layout.DATASET_JSON)
    if not doc_path.is_file():
        raise SourceError(f"{root} has no {layout.meta_path(layout.DATASET_JSON)}: not a satrec dataset, or its "
                          "conversion did not finish (dataset.json is written last); to check one file, give "
                          "the .rec")
    report = VerifyReport(os.fspath(root), max_problems=max_problems)
    doc = _load_doc(doc_path, report)
    if doc is None:
        return report
    _check_classes_json(base, doc, report)
    listed: set[str] = set()
    for split, info in doc.splits.items():
        shard_total = 0
        per_class: Counter[str] = Counter()
        for shard in info.shards:
            listed.add(shard.rec)
            shard_total += shard.records
            if shard.split != split:
                report.add("split_mismatch", shard.rec, f"listed under split {split!r} but says {shard.split!r}")
            counts = _verify_shard(base, shard, doc, report, min_size=min_size, decode=decode)
            per_class.update(counts)
        if shard_total != info.records:
            report.add("split_count", layout.meta_path(layout.DATASET_JSON),
                       f"split {split!r} announces {info.records} records, its shards {shard_total}")
        if doc.label_width == 1 and doc.classes:
            _check_per_class(split, info.per_class, per_class, report)
    _check_channels(base, listed, report)
    return report


def verify_path(path: str | os.PathLike[str], *, min_size: int = 0, decode: bool = True,
                num_classes: int | None = None, max_problems: int = DEFAULT_MAX_PROBLEMS) -> VerifyReport:
    """``satrec verify PATH``: a dataset folder, or one ``.rec`` (its side files found beside it or
    in ``../meta/``, and ``../meta/dataset.json`` used when present)."""
    target = Path(path)
    if target.is_dir():
        return verify_dataset(target, min_size=min_size, decode=decode, max_problems=max_problems)
    if not target.is_file():
        raise SourceError(f"{path} does not exist; give a dataset folder or a .rec file")
    if target.suffix.lower() != ".rec":
        raise SourceError(f"{path} is not a .rec file or a dataset folder")
    return verify_rec(target, min_size=min_size, decode=decode, num_classes=num_classes, max_problems=max_problems)


def verify_rec(rec: str | os.PathLike[str], *, idx: str | os.PathLike[str] | None = None,
               lst: str | os.PathLike[str] | None = None, num_classes: int | None = None, min_size: int = 0,
               decode: bool = True, max_problems: int = DEFAULT_MAX_PROBLEMS, expected: ShardInfo | None = None,
               label_width: int | None = None) -> VerifyReport:
    """Verify one ``.rec`` with whatever side files exist (im2rec's layout or satrec's).

    ``expected`` (records, bytes, sha256) and ``label_width`` override what ``../meta/dataset.json``
    says, for callers that hold a plan instead of a finished dataset (the pipeline's shard check).
    """
    rec_path = Path(rec)
    report = VerifyReport(os.fspath(rec), max_problems=max_problems)
    found = find_side_files(rec_path)
    idx_path = Path(idx) if idx else found.idx
    lst_path = Path(lst) if lst else found.lst
    doc = _load_doc(found.dataset_json, report) if found.dataset_json else None
    shard: ShardInfo | None = None
    if doc is not None and found.root is not None:
        rel = rec_path.resolve().relative_to(found.root.resolve()).as_posix()
        shard = next((s for split in doc.splits.values() for s in split.shards if s.rec == rel), None)
        if shard is None and expected is None:
            report.add("unlisted_shard", rel, "dataset.json beside it does not list this .rec")
    classes = num_classes if num_classes is not None else (doc.num_classes if doc else None)
    if label_width is None and doc is not None:
        label_width = doc.label_width
    _verify_files(rec_path, idx_path, lst_path, report, name=rec_path.name, expected=expected or shard,
                  num_classes=classes, label_width=label_width, min_size=min_size, decode=decode)
    return report


@dataclass(frozen=True)
class SideFiles:
    idx: Path | None
    lst: Path | None
    dataset_json: Path | None
    root: Path | None           # the dataset folder, when the .rec sits in satrec's layout


def find_side_files(rec: Path) -> SideFiles:
    """``.idx``/``.lst`` beside the ``.rec`` (im2rec) or in ``../meta/`` (satrec), and dataset.json."""
    meta = rec.parent.parent / layout.META_DIR

    def first(suffix: str) -> Path | None:
        for candidate in (rec.with_suffix(suffix), meta / (rec.stem + suffix)):
            if candidate.is_file():
                return candidate
        return None

    doc = meta / layout.DATASET_JSON
    return SideFiles(first(".idx"), first(".lst"), doc if doc.is_file() else None,
                     rec.parent.parent if doc.is_file() else None)


# --------------------------------------------------------------------------- dataset-level checks


def _load_doc(path: Path, report: VerifyReport) -> DatasetDoc | None:
    try:
        return DatasetDoc.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (SatrecError, KeyError, TypeError, ValueError) as exc:
        report.add("dataset_json", path.name, f"cannot be read as a satrec dataset.json: {exc}")
        return None


def _check_classes_json(base: Path, doc: DatasetDoc, report: VerifyReport) -> None:
    rel = layout.meta_path(layout.CLASSES_JSON)
    path = base / rel
    if not path.is_file():
        report.add("missing_file", rel, "classes.json is missing")
        return
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.add("classes_json", rel, f"not readable JSON: {exc}")
        return
    expected = {name: i for i, name in enumerate(doc.classes)}
    if mapping != expected:
        report.add("classes_json", rel, f"maps {len(mapping) if isinstance(mapping, dict) else '?'} names, "
                                        f"disagreeing with dataset.json's class list of {len(expected)}")


def _check_per_class(split: str, announced: dict[str, int], counted: Counter[str], report: VerifyReport) -> None:
    for name in sorted(set(announced) | set(counted)):
        if announced.get(name, 0) != counted.get(name, 0):
            report.add("class_count", layout.meta_path(layout.DATASET_JSON),
                       f"split {split!r} class {name!r}: dataset.json says {announced.get(name, 0)}, "
                       f"records hold {counted.get(name, 0)}")


def _check_channels(base: Path, listed: set[str], report: VerifyReport) -> None:
    for channel in layout.CHANNELS.values():
        folder = base / channel
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_dir():
                continue
            rel = path.relative_to(base).as_posix()
            if rel not in listed:
                report.add("stray_file", rel, "channel folders must hold only the dataset's .rec files "
                                              "(SageMaker Pipe mode streams every object under the prefix)")


# --------------------------------------------------------------------------- shard checks


def _verify_shard(base: Path, shard: ShardInfo, doc: DatasetDoc, report: VerifyReport, *, min_size: int,
                  decode: bool) -> Counter[str]:
    rec = base / shard.rec
    idx = base / shard.idx if shard.idx else None
    lst = base / shard.lst if shard.lst else None
    for rel, path in ((shard.idx, idx), (shard.lst, lst)):
        if path is not None and not path.is_file():
            report.add("missing_file", rel, f"listed for {shard.rec} in dataset.json but missing")
    labels = _verify_files(rec, idx if idx and idx.is_file() else None, lst if lst and lst.is_file() else None,
                           report, name=shard.rec, base=base, expected=shard, num_classes=doc.num_classes,
                           label_width=doc.label_width, min_size=min_size, decode=decode, split=shard.split)
    counts: Counter[str] = Counter()
    for label in labels:
        if 0 <= label < doc.num_classes and label == int(label):
            counts[doc.classes[int(label)]] += 1
    return counts


class _HashingReader:
    """Wraps a binary file: counts and hashes every byte read, so one pass serves all checks."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self.sha.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _verify_files(rec: Path, idx: Path | None, lst: Path | None, report: VerifyReport, *, name: str,
                  base: Path | None = None, expected: ShardInfo | None, num_classes: int | None,
                  label_width: int | None, min_size: int, decode: bool, split: str | None = None) -> list[float]:
    """Check one shard; return its single labels (for per-class counts)."""
    shard = ShardReport(rec=name, split=split)
    report.shards.append(shard)
    before = report.problem_count
    if not rec.is_file():
        report.add("missing_file", name, "the .rec file is missing")
        return []
    index = _read_index(idx, _display(idx, base), report) if idx else None
    listing = _read_listing(lst, _display(lst, base), report) if lst else None
    index_rel = _display(idx, base)
    lst_rel = _display(lst, base)
    single_labels: list[float] = []
    seen_keys: set[str] = set()
    position = 0
    try:
        with open(rec, "rb") as stream_file:
            reader = _HashingReader(stream_file)
            try:
                for record in recordio.iter_records(reader, source=name):  # type: ignore[arg-type]
                    key = _check_index_entry(index, position, record.offset, name, index_rel, report)
                    where = f"{name}#{key if key is not None else position}"
                    labels = _check_record(record.payload, key, where, report, listing=listing, lst_rel=lst_rel,
                                           num_classes=num_classes, label_width=label_width, min_size=min_size,
                                           decode=decode)
                    if labels is not None and len(labels) == 1:
                        single_labels.append(labels[0])
                    if key is not None:
                        if key in seen_keys:
                            report.add("index_key", index_rel, f"key {key} appears more than once")
                        seen_keys.add(key)
                    if decode:
                        shard.images_checked += 1
                    position += 1
            except RecordIOCorruptError as exc:
                report.add("framing", name, str(exc).removeprefix(f"{name}: "))
            reader.drain()   # size and sha256 cover the whole file, even past damage
    except OSError as exc:
        raise SourceError(f"cannot read {rec}: {exc.strerror or exc}") from None
    shard.records = position
    shard.bytes = reader.size
    shard.sha256 = reader.sha.hexdigest()
    if index is not None and len(index) != position:
        report.add("index_count", index_rel, f"{len(index)} lines for {position} records in {name}")
    if listing is not None:
        if len(listing) != position:
            report.add("list_count", lst_rel, f"{len(listing)} lines for {position} records in {name}")
        if index is not None:
            missing = [k for k, _ in index if k not in listing]
            if missing:
                report.add("list_key", lst_rel, f"{len(missing)} record keys have no line, first {missing[0]}")
    if expected is not None:
        if expected.records != position:
            report.add("record_count", name, f"dataset.json says {expected.records} records, the file holds "
                                             f"{position}")
        if expected.bytes != shard.bytes:
            report.add("size_mismatch", name, f"dataset.json says {expected.bytes} bytes, the file has {shard.bytes}")
        elif expected.sha256 != shard.sha256:
            report.add("sha256_mismatch", name, f"sha256 {shard.sha256} differs from dataset.json's {expected.sha256}")
    shard.problems = report.problem_count - before
    return single_labels


def _display(path: Path | None, base: Path | None) -> str:
    if path is None:
        return ""
    if base is not None:
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            pass
    return path.name


def _read_index(path: Path, rel: str, report: VerifyReport) -> list[tuple[str, int]] | None:
    try:
        return recordio.parse_index(path.read_text(encoding="utf-8"), source=rel)
    except RecordIOCorruptError as exc:
        report.add("index_parse", rel, str(exc).removeprefix(f"{rel}: "))
    except (OSError, UnicodeDecodeError) as exc:
        report.add("index_parse", rel, f"unreadable: {exc}")
    return None


@dataclass(frozen=True)
class ListEntry:
    labels: tuple[float, ...]
    relpath: str


def parse_lst_line(line: str) -> tuple[str, tuple[float, ...], str]:
    """im2rec's ``.lst`` line: ``index<TAB>label...<TAB>relpath`` -> (key, labels, relpath).

    Raises ``ValueError`` when the line does not have that shape.
    """
    parts = line.rstrip("\n").rstrip("\r").split("\t")
    if len(parts) < 3:
        raise ValueError(f"expected index, label(s) and path separated by tabs, got {len(parts)} column(s)")
    key = parts[0].strip()
    int(key)   # im2rec keys are integers
    labels = tuple(float(x) for x in parts[1:-1])
    return key, labels, parts[-1]


def _read_listing(path: Path, rel: str, report: VerifyReport) -> dict[str, ListEntry] | None:
    entries: dict[str, ListEntry] = {}
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="\n") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    key, labels, relpath = parse_lst_line(line)
                except ValueError as exc:
                    report.add("list_parse", f"{rel}:{number}", str(exc))
                    continue
                if key in entries:
                    report.add("list_key", f"{rel}:{number}", f"index {key} appears more than once")
                entries[key] = ListEntry(labels, relpath)
    except OSError as exc:
        report.add("list_parse", rel, f"unreadable: {exc}")
        return None
    return entries


def _check_index_entry(index: list[tuple[str, int]] | None, position: int, offset: int, name: str,
                       index_rel: str, report: VerifyReport) -> str | None:
    if index is None:
        return None
    if position >= len(index):
        if position == len(index):   # report once; index_count gives the totals
            report.add("index_offset", index_rel, f"no line for record {position} at byte {offset} of {name}")
        return None
    key, indexed = index[position]
    if indexed != offset:
        report.add("index_offset", f"{index_rel}", f"key {key}: offset {indexed}, but record {position} of {name} "
                                                   f"starts at byte {offset}")
    return key


def _check_record(payload: bytes, key: str | None, where: str, report: VerifyReport, *,
                  listing: dict[str, ListEntry] | None, lst_rel: str, num_classes: int | None,
                  label_width: int | None, min_size: int, decode: bool) -> tuple[float, ...] | None:
    try:
        header, image = recordio.unpack_image_record(payload)
    except RecordIOCorruptError as exc:
        report.add("header", where, str(exc))
        return None
    labels = header.labels
    if key is not None and key.isdigit() and header.id != int(key):
        report.add("header_id", where, f"image header id {header.id} differs from the index key {key}")
    if label_width is not None and len(labels) != label_width:
        report.add("label_width", where, f"{len(labels)} label(s), dataset.json says label_width {label_width}")
    for value in labels:
        if not math.isfinite(value) or value != int(value):
            report.add("label_not_integer", where, f"label {value} is not a whole class number")
            break
        if num_classes is not None and not 0 <= value < num_classes:
            report.add("label_range", where, f"label {value:g} is outside [0, {num_classes})")
            break
    if listing is not None and key is not None:
        entry = listing.get(key)
        if entry is not None and not _same_labels(entry.labels, labels):
            report.add("list_labels", where, f"record labels {list(labels)} differ from {lst_rel}'s "
                                             f"{list(entry.labels)}")
    if decode:
        _check_image(image, where, report, min_size)
    elif min_size:
        _check_size_only(image, where, report, min_size)
    return labels


def _same_labels(listed: tuple[float, ...], stored: tuple[float, ...]) -> bool:
    if len(listed) != len(stored):
        # im2rec stores only the first .lst label unless --pack-label.
        return len(stored) == 1 and bool(listed) and recordio.float32(listed[0]) == stored[0]
    return all(recordio.float32(a) == b for a, b in zip(listed, stored, strict=True))


def _check_image(image: bytes, where: str, report: VerifyReport, min_size: int) -> None:
    from satrec.imaging import check_decodes

    try:
        info = check_decodes(image)
    except ImageRejected as exc:
        report.add("image", where, f"does not decode ({exc.reason}): {exc.detail}")
        return
    if info.format not in SAGEMAKER_FORMATS:
        report.add("image_format", where, f"{info.format} image; MXNet and SageMaker read JPEG and PNG")
    if min_size and min(info.width, info.height) < min_size:
        report.add("too_small", where, f"{info.width}x{info.height} is smaller than --min-size {min_size}")


def _check_size_only(image: bytes, where: str, report: VerifyReport, min_size: int) -> None:
    from satrec.imaging import image_size

    try:
        width, height = image_size(image)
    except ImageRejected as exc:
        report.add("image", where, f"unreadable header ({exc.reason}): {exc.detail}")
        return
    if min(width, height) < min_size:
        report.add("too_small", where, f"{width}x{height} is smaller than --min-size {min_size}")


def iter_problem_lines(report: VerifyReport) -> Iterator[str]:
    """Human-readable lines for the CLI."""
    for problem in report.problems:
        yield str(problem)
    hidden = report.problem_count - len(report.problems)
    if hidden > 0:
        yield f"... and {hidden} more problem(s) ({', '.join(f'{c} x{n}' for c, n in report.problem_codes.items())})"


__all__ = ["DEFAULT_MAX_PROBLEMS", "Problem", "ShardReport", "VerifyReport", "find_side_files", "iter_problem_lines",
           "parse_lst_line", "verify_dataset", "verify_path", "verify_rec"]
