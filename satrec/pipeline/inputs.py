"""The execution input of the training pipeline: a documented schema with defaults.

Users start an execution with as little as ``{"dataset": "eurosat"}``; every other field has a
default (see ``FIELDS``, which the README table mirrors). A bad value fails the first state with
a message that names the field, long before any container or GPU starts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from satrec.errors import UsageError
from satrec.layout import INCOMING_PREFIX, READY_MARKER, check_name

INPUT_VERSION = 1

# field -> (default, one-line description); the README's schema table is generated from the same words.
FIELDS: dict[str, tuple[Any, str]] = {
    "dataset": (None, "required: the folder name under incoming/ (letters, digits, '.', '_', '-')"),
    "validation_fraction": (0.2, "share of each class that goes to the validation channel, 0 < f < 1"),
    "shard_size_mb": (256, "target size of one packed shard in MiB (1-4096); shards pack in parallel"),
    "seed": (0, "seed of the hash-stable split and of the record shuffle (same seed, same dataset)"),
    "reconcile": (True, "convert landing objects whose upload event was missed before planning"),
    "train": (True, "false: stop after the dataset is published (no SageMaker job)"),
    "instance_type": ("ml.g4dn.xlarge", "GPU training instance; must match the stack's allow-list"),
    "instance_count": (1, "number of training instances (1-16)"),
    "volume_size_gb": (50, "training volume in GiB (File mode copies the channels there)"),
    "spot": (False, "managed Spot training with checkpoints (MaxWait > MaxRuntime)"),
    "max_runtime_seconds": (86400, "MaxRuntimeInSeconds (60 s - 28 days)"),
    "max_wait_seconds": (None, "Spot only: MaxWaitTimeInSeconds, default twice max_runtime_seconds"),
    "input_mode": ("File", "'File' (default) or 'Pipe' for the train/validation channels"),
    "hyperparameters": ({}, "overrides of the hyperparameters derived from dataset.json"),
    "base_model": (None, "s3:// URI of a model.tar.gz to continue training from (the 'model' channel)"),
    "ready_marker": (None, "set by the auto-start rule: the incoming/<dataset>/_READY key (gives the dataset)"),
}

MAX_RUNTIME_LIMIT = 28 * 24 * 3600
INPUT_MODES = ("File", "Pipe")
_INSTANCE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+")


class InputInvalid(UsageError):
    """The execution input does not match the schema; the message names the field."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"execution input field {field_name!r}: {problem}")
        self.field = field_name


@dataclass(frozen=True)
class PipelineInput:
    dataset: str
    run_id: str
    validation_fraction: float = 0.2
    shard_size_mb: int = 256
    seed: int = 0
    reconcile: bool = True
    train: bool = True
    instance_type: str = "ml.g4dn.xlarge"
    instance_count: int = 1
    volume_size_gb: int = 50
    spot: bool = False
    max_runtime_seconds: int = 86400
    max_wait_seconds: int | None = None
    input_mode: str = "File"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    base_model: str | None = None
    version: int = INPUT_VERSION

    @property
    def incremental(self) -> bool:
        return self.base_model is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineInput:
        """Re-read a document this module wrote (already validated)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _bool(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, FIELDS[name][0])
    if not isinstance(value, bool):
        raise InputInvalid(name, f"expected true or false, got {value!r}")
    return value


def _int(data: dict[str, Any], name: str, low: int, high: int) -> int:
    value = data.get(name, FIELDS[name][0])
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputInvalid(name, f"expected a whole number, got {value!r}")
    if not low <= value <= high:
        raise InputInvalid(name, f"{value} is outside {low}..{high}")
    return value


def run_id_from_execution(execution_name: str) -> str:
    """Execution names allow 1-80 characters of a wider set; run ids become S3 key segments."""
    cleaned = re.sub(r"[^A-Za-z0-9-]+", "-", execution_name).strip("-")
    if not cleaned:
        raise InputInvalid("execution name", f"{execution_name!r} has no letters or digits to name the run")
    return cleaned[:80]


def _dataset_of_marker(marker: Any) -> str:
    parts = marker.split("/") if isinstance(marker, str) else []
    if (len(parts) != 3 or f"{parts[0]}/" != INCOMING_PREFIX or parts[2] != READY_MARKER or not parts[1]):
        raise InputInvalid("ready_marker", f"expected {INCOMING_PREFIX}<dataset>/{READY_MARKER}, got {marker!r}")
    return parts[1]


def parse_input(data: Any, *, execution_name: str, allowed_instance_prefixes: tuple[str, ...] = ()) -> PipelineInput:
    """Validate an execution input against the schema and fill in the defaults.

    ``allowed_instance_prefixes`` (e.g. ``("ml.p3.", "ml.g4dn.", "ml.g5.")``) rejects any other
    instance type here, so a CPU instance never reaches the training state.
    """
    if not isinstance(data, dict):
        raise InputInvalid("(input)", f"expected a JSON object such as {{\"dataset\": \"eurosat\"}}, got {data!r}")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InputInvalid(unknown[0], f"unknown field; known fields are {', '.join(FIELDS)}")
    dataset = data.get("dataset")
    marker = data.get("ready_marker")
    if dataset is None and marker is not None:
        dataset = _dataset_of_marker(marker)
    if not isinstance(dataset, str):
        raise InputInvalid("dataset", "required: the dataset's folder name under incoming/, e.g. \"eurosat\"")
    try:
        check_name(dataset, what="dataset")
    except UsageError as exc:
        raise InputInvalid("dataset", str(exc)) from None

    fraction = data.get("validation_fraction", FIELDS["validation_fraction"][0])
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise InputInvalid("validation_fraction", f"expected a number strictly between 0 and 1, got {fraction!r}")

    instance_type = data.get("instance_type", FIELDS["instance_type"][0])
    if not isinstance(instance_type, str) or not _INSTANCE.match(instance_type):
        raise InputInvalid("instance_type", f"expected a SageMaker instance type such as ml.g4dn.xlarge, "
                                            f"got {instance_type!r}")
    if allowed_instance_prefixes and not instance_type.startswith(allowed_instance_prefixes):
        raise InputInvalid("instance_type", f"{instance_type} is not an allowed GPU training instance; "
                                            f"use one of the families {', '.join(allowed_instance_prefixes)}*")

    max_runtime = _int(data, "max_runtime_seconds", 60, MAX_RUNTIME_LIMIT)
    spot = _bool(data, "spot")
    max_wait_raw = data.get("max_wait_seconds")
    max_wait: int | None = None
    if max_wait_raw is not None:
        if not spot:
            raise InputInvalid("max_wait_seconds", "only applies to Spot training; set \"spot\": true or drop it")
        max_wait = _int(data, "max_wait_seconds", 61, MAX_RUNTIME_LIMIT)
        if max_wait <= max_runtime:
            raise InputInvalid("max_wait_seconds", f"must be greater than max_runtime_seconds ({max_runtime}), "
                                                   f"got {max_wait}")
    elif spot:
        max_wait = min(2 * max_runtime, MAX_RUNTIME_LIMIT)
        if max_wait <= max_runtime:
            raise InputInvalid("max_runtime_seconds", "leaves no room for Spot waiting time; lower it below 28 days")

    input_mode = data.get("input_mode", FIELDS["input_mode"][0])
    if input_mode not in INPUT_MODES:
        raise InputInvalid("input_mode", f"expected 'File' or 'Pipe', got {input_mode!r}")

    overrides = data.get("hyperparameters", {})
    if not isinstance(overrides, dict):
        raise InputInvalid("hyperparameters", f"expected an object of name: value, got {overrides!r}")
    for key, value in overrides.items():
        if isinstance(value, dict | list) or value is None:
            raise InputInvalid(f"hyperparameters.{key}", f"expected a string, number or boolean, got {value!r}")

    base_model = data.get("base_model")
    if base_model is not None and (not isinstance(base_model, str) or not _S3_URI.match(base_model)):
        raise InputInvalid("base_model", f"expected an s3://bucket/key URI of a model.tar.gz, got {base_model!r}")

    return PipelineInput(
        dataset=dataset,
        run_id=run_id_from_execution(execution_name),
        validation_fraction=float(fraction),
        shard_size_mb=_int(data, "shard_size_mb", 1, 4096),
        seed=_int(data, "seed", 0, 2**31 - 1),
        reconcile=_bool(data, "reconcile"),
        train=_bool(data, "train"),
        instance_type=instance_type,
        instance_count=_int(data, "instance_count", 1, 16),
        volume_size_gb=_int(data, "volume_size_gb", 1, 16384),
        spot=spot,
        max_runtime_seconds=max_runtime,
        max_wait_seconds=max_wait,
        input_mode=input_mode,
        # Passed on as given: the hyperparameter document (satrec.hyperparams) owns their types.
        hyperparameters={str(k): v for k, v in overrides.items()},
        base_model=base_model,
    )

