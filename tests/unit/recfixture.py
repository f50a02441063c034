"""A tiny dataset builder for verify/inspect tests: writes satrec's layout with satrec.recordio directly."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from satrec import layout, recordio
from satrec.documents import DatasetDoc, ImageStats, ShardInfo, SplitInfo


def jpeg(w: int = 32, h: int = 24, seed: int = 0, fmt: str = "JPEG") -> bytes:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(base).resize((w, h), Image.Resampling.BILINEAR).save(buf, fmt)
    return buf.getvalue()


def build_dataset(root: Path, *, classes=("forest", "river", "urban"), per_split=None, name="ds",
                  label_width: int = 1) -> DatasetDoc:
    """``per_split``: {split: [(labels tuple, image bytes), ...]}; one shard per split; keys 0..n-1."""
    if per_split is None:
        per_split = {
            "train": [((float(i % len(classes)),), jpeg(seed=i)) for i in range(6)],
            "validation": [((float(i % len(classes)),), jpeg(seed=100 + i)) for i in range(3)],
        }
    (root / layout.META_DIR).mkdir(parents=True, exist_ok=True)
    splits = {}
    key = 0
    for split, items in per_split.items():
        rec_rel, idx_rel, lst_rel = (layout.rec_path(name, split, 0), layout.idx_path(name, split, 0),
                                     layout.lst_path(name, split, 0))
        (root / rec_rel).parent.mkdir(parents=True, exist_ok=True)
        per_class: Counter[str] = Counter()
        with open(root / rec_rel, "wb") as rec, open(root / idx_rel, "wb") as idx, open(root / lst_rel, "w") as lst:
            writer = recordio.RecordWriter(rec, idx)
            for labels, image in items:
                multi = True if label_width > 1 else None
                writer.write(recordio.pack_image_record(labels, image, id=key, multi=multi), key=key)
                folder = classes[int(labels[0])] if 0 <= labels[0] < len(classes) else "unknown"
                lst.write(f"{key}\t" + "".join(f"{x:f}\t" for x in labels) + f"{folder}/{key}.jpg\n")
                if label_width == 1 and folder != "unknown" and labels[0] == int(labels[0]):
                    per_class[classes[int(labels[0])]] += 1
                key += 1
        data = (root / rec_rel).read_bytes()
        shard = ShardInfo(split, rec_rel, idx_rel, lst_rel, len(items), len(data), hashlib.sha256(data).hexdigest())
        splits[split] = SplitInfo(len(items), dict(per_class), [shard])
    (root / layout.meta_path(layout.CLASSES_JSON)).write_text(json.dumps({c: i for i, c in enumerate(classes)}))
    doc = DatasetDoc(name=name, classes=list(classes), label_width=label_width, splits=splits,
                     image=ImageStats(32, 24, 32, 24),
                     inputs={"total": key, "packed": key, "rejected": 0, "skipped": 0},
                     rejects_by_reason={}, settings={}, satrec_version="test")
    (root / layout.meta_path(layout.DATASET_JSON)).write_text(doc.to_json())
    return doc
