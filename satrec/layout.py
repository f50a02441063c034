"""Where things live: the dataset folder layout and the S3 key conventions.

Defined once here and imported by the CDK stacks (event filters, IAM prefixes), the Lambda
handlers, the container entrypoint and the CLI, so that they cannot drift apart. Pure functions,
no I/O.

Dataset layout (a local folder or an S3 prefix), following the SageMaker channel rule that a
channel prefix holds the RecordIO and nothing else::

    <root>/train/<name>-train-00000.rec
    <root>/validation/<name>-validation-00000.rec
    <root>/test/<name>-test-00000.rec            (only when a test split was asked for)
    <root>/meta/<name>-train-00000.idx | .lst     (same base name as the .rec)
    <root>/meta/classes.json  rejects.jsonl  dataset.json (written last)
"""

from __future__ import annotations

import hashlib
import re

from satrec.errors import UsageError

META_DIR = "meta"
DATASET_JSON = "dataset.json"
CLASSES_JSON = "classes.json"
REJECTS_JSONL = "rejects.jsonl"
CHANNELS = {"train": "train", "validation": "validation", "test": "test"}

# ---------------------------------------------------------------- local / dataset-relative paths


def shard_base(name: str, split: str, index: int) -> str:
    return f"{name}-{split}-{index:05d}"


def rec_path(name: str, split: str, index: int) -> str:
    return f"{CHANNELS[split]}/{shard_base(name, split, index)}.rec"


def idx_path(name: str, split: str, index: int) -> str:
    return f"{META_DIR}/{shard_base(name, split, index)}.idx"


def lst_path(name: str, split: str, index: int) -> str:
    return f"{META_DIR}/{shard_base(name, split, index)}.lst"


def chips_path(name: str, split: str, index: int) -> str:
    """Provenance of chipped records (one JSON object per line, keyed like the ``.idx``)."""
    return f"{META_DIR}/{shard_base(name, split, index)}.chips.jsonl"


def shard_file_pattern(name: str) -> re.Pattern[str]:
    """Matches the dataset-relative path of any shard file (any split, index, kind) of ``name``."""
    splits = "|".join(re.escape(s) for s in CHANNELS)
    return re.compile(rf"^(?:{splits}|{META_DIR})/{re.escape(name)}-(?:{splits})-\d{{5}}"
                      r"\.(?:rec|idx|lst|chips\.jsonl)$")


def meta_path(filename: str) -> str:
    return f"{META_DIR}/{filename}"


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_name(name: str, *, what: str = "--name") -> str:
    """Dataset and shard names become S3 keys, file names and SageMaker job names."""
    if not _NAME.match(name):
        raise UsageError(f"{what} {name!r} is not valid: use 1-100 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return name


# ---------------------------------------------------------------- S3 key conventions (cloud)

# Landing bucket: users upload class-per-folder trees here.
INCOMING_PREFIX = "incoming/"
DATASET_SETTINGS_FILE = "satrec.json"   # incoming/<dataset>/satrec.json: per-dataset settings
READY_MARKER = "_READY"                 # incoming/<dataset>/_READY: start the pipeline

# Data bucket: everything satrec derives from the uploads.
NORMALISED_PREFIX = "normalised/"       # normalised/<dataset>/<class>/<stem>-<digest>.<ext>
LEDGER_PREFIX = "ledger/"               # ledger/<dataset>/<digest of the landing key>.json
BATCHES_PREFIX = "batches/"             # batches/<batch id>.json: key lists for array jobs
PLANS_PREFIX = "plans/"                 # plans/<dataset>/<run id>/plan.json
DATASETS_PREFIX = "datasets/"           # datasets/<dataset>/<run id>/{train,validation,meta}/

# Artifacts bucket.
MODELS_PREFIX = "models/"               # models/<dataset>/<training job name>/
CHECKPOINTS_PREFIX = "checkpoints/"     # checkpoints/<dataset>/<training job name>/
REPORTS_PREFIX = "reports/"             # reports/<dataset>/<run id>.json


def incoming_dataset_prefix(dataset: str) -> str:
    return f"{INCOMING_PREFIX}{dataset}/"


def parse_incoming_key(key: str) -> tuple[str, str, str] | None:
    """``incoming/<dataset>/<class>/<rest>`` -> (dataset, class, rest); None for anything else."""
    if not key.startswith(INCOMING_PREFIX):
        return None
    parts = key[len(INCOMING_PREFIX):].split("/", 2)
    if len(parts) < 3 or not parts[0] or not parts[1] or not parts[2]:
        return None
    return parts[0], parts[1], parts[2]


def normalised_prefix(dataset: str) -> str:
    return f"{NORMALISED_PREFIX}{dataset}/"


def ledger_prefix(dataset: str) -> str:
    return f"{LEDGER_PREFIX}{dataset}/"


def dataset_run_prefix(dataset: str, run_id: str) -> str:
    return f"{DATASETS_PREFIX}{dataset}/{run_id}/"


def plan_key(dataset: str, run_id: str) -> str:
    return f"{PLANS_PREFIX}{dataset}/{run_id}/plan.json"


def report_key(dataset: str, run_id: str) -> str:
    return f"{REPORTS_PREFIX}{dataset}/{run_id}.json"


# ---------------------------------------------------------------- cloud conversion keys (issue 4)

KEY_DIGEST_CHARS = 16   # 64 bits of sha256: collisions between landing keys of one dataset are negligible


def key_digest(key: str) -> str:
    """A short stable digest of a landing key: names its ledger entry and tags its normalised image."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:KEY_DIGEST_CHARS]


def dataset_settings_key(dataset: str) -> str:
    return f"{incoming_dataset_prefix(dataset)}{DATASET_SETTINGS_FILE}"


def ledger_key(dataset: str, landing_key: str) -> str:
    """One ledger entry per landing key: re-uploads of the key overwrite the same entry."""
    return f"{ledger_prefix(dataset)}{key_digest(landing_key)}.json"


def normalised_key(landing_key: str, ext: str) -> str:
    """``incoming/<ds>/<class>/<dirs>/<stem>.<any>`` -> ``normalised/<ds>/<class>/<dirs>/<stem>-<digest>.<ext>``.

    The digest of the full landing key keeps ``a.png`` and ``a.jpg`` of one class apart.
    """
    parsed = parse_incoming_key(landing_key)
    if parsed is None:
        raise UsageError(f"{landing_key!r} is not under {INCOMING_PREFIX}<dataset>/<class>/")
    dataset, class_name, rest = parsed
    stem = rest.rsplit(".", 1)[0] if "." in rest.rsplit("/", 1)[-1] else rest
    return f"{normalised_prefix(dataset)}{class_name}/{stem}-{key_digest(landing_key)}.{ext.lstrip('.')}"


def normalised_chip_key(landing_key: str, col: int, row: int, ext: str) -> str:
    """One chip of an uploaded scene: ``normalised/<ds>/<class>/<dirs>/<stem>-<digest>/chip-<col>-<row>.<ext>``.

    Derived from the landing key and the chip's pixel window (its top-left corner), so a rerun
    overwrites the same objects; the folder holds one scene's chips and nothing else.
    """
    image_key = normalised_key(landing_key, ext)
    return f"{image_key.rsplit('.', 1)[0]}/chip-{int(col)}-{int(row)}.{ext.lstrip('.')}"


_CHIP_SUFFIX = re.compile(rf"^(.*-[0-9a-f]{{{KEY_DIGEST_CHARS}}})/chip-\d+-\d+\.[A-Za-z0-9]+$")


def normalised_split_key(key: str) -> str:
    """The split unit of a normalised object: a chip's scene folder, else the key itself.

    The chips of one scene are near-duplicates of each other; splitting them apart would leak
    validation data into training.
    """
    match = _CHIP_SUFFIX.match(key)
    return match.group(1) if match else key


def batch_key(batch_id: str) -> str:
    return f"{BATCHES_PREFIX}{batch_id}.json"


# ---------------------------------------------------------------- training pipeline keys (issue 5)

# Per run, in the data bucket: plans/<ds>/<run>/{plan.json, reconcile.json, shards/, parts/}.
# Packed parts live here, never under a channel prefix (SageMaker streams every object there).


def classes_registry_key(dataset: str) -> str:
    """The dataset's class list across runs: known classes keep their ids, new ones are appended."""
    return f"{DATASETS_PREFIX}{dataset}/{CLASSES_JSON}"


def plan_run_prefix(dataset: str, run_id: str) -> str:
    return f"{PLANS_PREFIX}{dataset}/{run_id}/"


def plan_shard_key(dataset: str, run_id: str, index: int) -> str:
    return f"{plan_run_prefix(dataset, run_id)}shards/{index:05d}.json"


def plan_part_key(dataset: str, run_id: str, split: str, index: int, ext: str) -> str:
    return f"{plan_run_prefix(dataset, run_id)}parts/{split}-{index:05d}.{ext}"


def reconcile_report_key(dataset: str, run_id: str) -> str:
    return f"{plan_run_prefix(dataset, run_id)}reconcile.json"


def run_dataset_key(dataset: str, run_id: str, relpath: str) -> str:
    """A dataset-relative path (``train/x.rec``, ``meta/dataset.json``) inside the run's versioned prefix."""
    return f"{dataset_run_prefix(dataset, run_id)}{relpath}"


def model_output_prefix(dataset: str) -> str:
    return f"{MODELS_PREFIX}{dataset}/"


def checkpoint_prefix(dataset: str, job_name: str) -> str:
    return f"{CHECKPOINTS_PREFIX}{dataset}/{job_name}/"
