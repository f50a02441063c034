"""Build a satrec dataset folder directly with satrec.recordio + DatasetDoc, without `satrec convert`.

Lets the train-local tests run on a dataset whose contents they control exactly. The layout and
dataset.json follow satrec.layout and satrec.documents, as `satrec convert` writes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from satrec import __version__, layout
from satrec.documents import DatasetDoc, ImageStats, ShardInfo, SplitInfo
from satrec.recordio import RecordWriter, pack_image_record
from satrec.sample_data import CLASSES, encode_jpeg, render_chip


def write_dataset(root: Path, *, name: str = "tiny", classes: Sequence[str] = CLASSES[:3],
                  train_per_class: int = 4, val_per_class: int = 2, size: int = 32, seed: int = 0,
                  shards: int = 1) -> DatasetDoc:
    """Synthetic chips of ``classes``, split per class, packed into ``shards`` train shards and one validation shard."""
    splits: dict[str, SplitInfo] = {}
    for split, per_class, offset in (("train", train_per_class, 0), ("validation", val_per_class, 10_000)):
        items = [(label, encode_jpeg(render_chip(cls, seed=seed, index=offset + i, size=size)))
                 for i in range(per_class) for label, cls in enumerate(classes)]
        n_shards = shards if split == "train" else 1
        infos = []
        for shard in range(n_shards):
            part = items[shard::n_shards]
            rec = root / layout.rec_path(name, split, shard)
            idx = root / layout.idx_path(name, split, shard)
            lst = root / layout.lst_path(name, split, shard)
            rec.parent.mkdir(parents=True, exist_ok=True)
            idx.parent.mkdir(parents=True, exist_ok=True)
            with open(rec, "wb") as rf, open(idx, "wb") as xf:
                writer = RecordWriter(rf, xf)
                for key, (label, data) in enumerate(part):
                    writer.write(pack_image_record([float(label)], data, id=key), key)
            lst.write_text("".join(f"{k}\t{label}\t{classes[label]}/{k}.jpg\n" for k, (label, _) in enumerate(part)))
            blob = rec.read_bytes()
            infos.append(ShardInfo(split=split, rec=layout.rec_path(name, split, shard),
                                   idx=layout.idx_path(name, split, shard), lst=layout.lst_path(name, split, shard),
                                   records=len(part), bytes=len(blob), sha256=hashlib.sha256(blob).hexdigest()))
        splits[split] = SplitInfo(records=len(items), per_class={c: per_class for c in classes}, shards=infos)
    doc = DatasetDoc(
        name=name, classes=list(classes), label_width=1, splits=splits,
        image=ImageStats(min_width=size, min_height=size, max_width=size, max_height=size),
        inputs={"total": sum(s.records for s in splits.values()), "packed": sum(s.records for s in splits.values()),
                "rejected": 0, "skipped": 0},
        rejects_by_reason={}, settings={"test_helper": True}, satrec_version=__version__,
    )
    meta = root / layout.META_DIR
    meta.mkdir(parents=True, exist_ok=True)
    (meta / layout.DATASET_JSON).write_text(doc.to_json())
    return doc
