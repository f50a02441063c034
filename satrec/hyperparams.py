"""The one hyperparameter document for the SageMaker built-in Image Classification algorithm.

Used unchanged by ``satrec train-local`` and by the cloud pipeline's training step, so what trains
locally is what SageMaker is asked to train. Pure Python on purpose: the control-plane Lambda
imports this module, so no numpy, Pillow or MXNet here.

Names, meanings and defaults are the algorithm's (``IC-Hyperparameter`` in the SageMaker developer
guide). The life of a document::

    hp = Hyperparameters.from_dataset(doc, {"epochs": "8"})   # dataset.json + user overrides
    hp.validate(doc)                                           # the algorithm's rules, before anything runs
    job["HyperParameters"] = hp.to_sagemaker()                 # dict[str, str] for CreateTrainingJob
    Hyperparameters.from_sagemaker(job["HyperParameters"]) == hp
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from satrec.documents import DatasetDoc
from satrec.errors import HyperparameterError

OPTIMIZERS = ("sgd", "adam", "rmsprop", "nag")
AUGMENTATION_TYPES = ("crop", "crop_color", "crop_color_transform")
PRECISION_DTYPES = ("float32", "float16")
KV_STORES = ("dist_sync", "dist_async")
# ResNet depths the algorithm builds. The small-image (CIFAR-style) network exists only for images
# of height <= 28 (MXNet's ResNet symbol code switches on that height); above it the ImageNet-style
# network takes only the large-image depths.
LARGE_IMAGE_DEPTHS = (18, 34, 50, 101, 152, 200)
SMALL_IMAGE_DEPTHS = (20, 32, 44, 56, 110)
SMALL_IMAGE_MAX_HEIGHT = 28
PRETRAINED_SIDE = 224  # pretrained weights exist only for 3x224x224
CHANNELS = 3           # satrec stores 8-bit RGB

# What satrec chooses where the algorithm's own default is a poor fit, applied by from_dataset
# before the user's overrides. The rest of the algorithm's defaults stand (see the dataclass).
RECOMMENDED: dict[str, Any] = {
    "mini_batch_size": 32,    # the algorithm's default, capped at the train records
    # The algorithm's 0.1 gave loss spikes training from scratch; on the demo data batch 32 at 0.025
    # ended at 0.96-0.97 where batch 64 at 0.05 spiked and ended at 0.905-0.93 (decision 0030).
    "learning_rate": 0.025,
    "epochs": 30,
}
# lr_scheduler_step, when not given: decay at these fractions of the epochs.
RECOMMENDED_STEP_FRACTIONS = (0.6, 0.85)


@dataclass(frozen=True)
class Violation:
    """One broken rule: which parameter, and a message that says how to fix it."""

    parameter: str
    message: str

    def __str__(self) -> str:
        return f"{self.parameter}: {self.message}"


@dataclass(frozen=True)
class Hyperparameters:
    """The algorithm's hyperparameters; field defaults are the algorithm's documented defaults."""

    num_classes: int
    num_training_samples: int
    image_shape: tuple[int, int, int] = (3, 224, 224)
    num_layers: int = 152
    use_pretrained_model: bool = False
    mini_batch_size: int = 32
    epochs: int = 30
    learning_rate: float = 0.1
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0001
    beta_1: float = 0.9
    beta_2: float = 0.999
    eps: float = 1e-8
    gamma: float = 0.9
    lr_scheduler_step: tuple[int, ...] = ()
    lr_scheduler_factor: float = 0.1
    augmentation_type: str | None = None
    resize: int | None = None
    multi_label: bool = False
    use_weighted_loss: bool = False
    precision_dtype: str = "float32"
    early_stopping: bool = False
    early_stopping_min_epochs: int = 10
    early_stopping_patience: int = 5
    early_stopping_tolerance: float = 0.0
    checkpoint_frequency: int | None = None
    top_k: int = 5
    kv_store: str | None = None

    # ------------------------------------------------------------------ building

    @classmethod
    def from_dataset(cls, doc: DatasetDoc, overrides: Mapping[str, Any] | None = None) -> Hyperparameters:
        """The document for ``doc``: dataset-derived values, satrec's recommendations, then ``overrides``.

        Overrides are strings (CLI ``--hp key=value``, execution input) or typed values; unknown
        names and unparsable values raise HyperparameterError. Not validated: call ``validate``.
        """
        given = {name: _coerce(name, value) for name, value in (overrides or {}).items()}
        train = doc.records("train")
        height, width = _derived_image_size(doc)
        values: dict[str, Any] = {
            "num_classes": doc.num_classes,
            "num_training_samples": train,
            "image_shape": (CHANNELS, height, width),
            "multi_label": doc.label_width > 1,
            "top_k": max(2, min(5, doc.num_classes)),
            **RECOMMENDED,
        }
        # A channel smaller than one batch cannot be read (see the validation rule below).
        smallest = min(n for n in (train, doc.records("validation")) if n > 0) if train else 1
        values["mini_batch_size"] = max(1, min(int(RECOMMENDED["mini_batch_size"]), smallest))
        values.update(given)
        if "num_layers" not in given:
            small = values["image_shape"][1] <= SMALL_IMAGE_MAX_HEIGHT
            values["num_layers"] = SMALL_IMAGE_DEPTHS[0] if small else LARGE_IMAGE_DEPTHS[0]
        if "lr_scheduler_step" not in given:
            values["lr_scheduler_step"] = recommended_steps(int(values["epochs"]))
        return cls(**values)

    @classmethod
    def from_sagemaker(cls, params: Mapping[str, str]) -> Hyperparameters:
        """Parse a CreateTrainingJob ``HyperParameters`` map (absent keys take the algorithm's defaults)."""
        parsed = {name: _coerce(name, value) for name, value in params.items()}
        missing = [n for n in ("num_classes", "num_training_samples") if n not in parsed]
        if missing:
            raise HyperparameterError(f"{missing[0]}: required by the algorithm and missing; set it "
                                      "(Hyperparameters.from_dataset fills it from dataset.json)")
        return cls(**parsed)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Hyperparameters:
        return replace(self, **{name: _coerce(name, value) for name, value in overrides.items()})

    # ------------------------------------------------------------------ the wire format

    def to_sagemaker(self) -> dict[str, str]:
        """``HyperParameters`` for CreateTrainingJob: every value a string; unset optionals omitted."""
        out: dict[str, str] = {}
        for f in fields(self):
            text = _to_text(f.name, getattr(self, f.name))
            if text is not None:
                out[f.name] = text
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly typed values (metrics.json, reports)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    # ------------------------------------------------------------------ rules

    def violations(self, dataset: DatasetDoc | None = None) -> list[Violation]:
        """Every broken rule, in field order; with ``dataset`` also the rules that compare against it."""
        found = _own_violations(self)
        if dataset is not None:
            found.extend(_dataset_violations(self, dataset))
        return found

    def validate(self, dataset: DatasetDoc | None = None) -> Hyperparameters:
        """Return self, or raise HyperparameterError listing every violation."""
        found = self.violations(dataset)
        if found:
            raise HyperparameterError("; ".join(str(v) for v in found))
        return self

    @property
    def height(self) -> int:
        return self.image_shape[1]

    @property
    def width(self) -> int:
        return self.image_shape[2]


def recommended_steps(epochs: int) -> tuple[int, ...]:
    """Learning-rate decay epochs for ``epochs``: strictly inside (0, epochs), ascending, unique."""
    steps = sorted({round(epochs * f) for f in RECOMMENDED_STEP_FRACTIONS})
    return tuple(s for s in steps if 0 < s < epochs)


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["epochs=8", "learning_rate=0.01"]`` -> ``{"epochs": "8", ...}`` (CLI ``--hp``)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise HyperparameterError(f"--hp {item!r}: write NAME=VALUE, for example --hp epochs=8")
        out[name.strip()] = value.strip()
    return out


# ---------------------------------------------------------------------- parsing and printing

_FIELDS = {f.name: f for f in fields(Hyperparameters)}
_INTS = {"num_classes", "num_training_samples", "num_layers", "mini_batch_size", "epochs",
         "early_stopping_min_epochs", "early_stopping_patience", "top_k"}
_OPTIONAL_INTS = {"resize", "checkpoint_frequency"}
_FLOATS = {"learning_rate", "momentum", "weight_decay", "beta_1", "beta_2", "eps", "gamma",
           "lr_scheduler_factor", "early_stopping_tolerance"}
_ZERO_ONE_FLAGS = {"use_pretrained_model", "multi_label", "use_weighted_loss"}  # "0"/"1" on the wire
_TRUE_FALSE_FLAGS = {"early_stopping"}                                           # "True"/"False"
_OPTIONAL_STRS = {"augmentation_type", "kv_store"}
_STRS = {"optimizer", "precision_dtype"}


def _unknown(name: str) -> HyperparameterError:
    close = difflib.get_close_matches(name, list(_FIELDS), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known names: {', '.join(_FIELDS)}"
    return HyperparameterError(f"{name}: not a hyperparameter of the image-classification algorithm{hint}")


def _bad(name: str, value: Any, expected: str) -> HyperparameterError:
    return HyperparameterError(f"{name}: {value!r} is not {expected}")


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _bad(name, value, "an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise _bad(name, value, "an integer") from None


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise _bad(name, value, "a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(name, value, "a number") from None


_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _bad(name, value, "a flag (0/1 or True/False)")


def _coerce(name: str, value: Any) -> Any:
    """One override or wire value -> the field's type. Range checks belong to ``violations``."""
    if name not in _FIELDS:
        raise _unknown(name)
    if name in _INTS:
        return _int(name, value)
    if name in _OPTIONAL_INTS:
        return None if value is None or str(value).strip() == "" else _int(name, value)
    if name in _FLOATS:
        return _float(name, value)
    if name in _ZERO_ONE_FLAGS or name in _TRUE_FALSE_FLAGS:
        return _flag(name, value)
    if name in _OPTIONAL_STRS:
        return None if value is None or str(value).strip() == "" else str(value).strip()
    if name in _STRS:
        return str(value).strip()
    if name == "image_shape":
        parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
        if len(parts) != 3:
            raise _bad(name, value, "'channels,height,width', for example '3,64,64'")
        channels, height, width = (_int(name, p) for p in parts)
        return (channels, height, width)
    if name == "lr_scheduler_step":
        if isinstance(value, (list, tuple)):
            return tuple(_int(name, p) for p in value)
        text = str(value).strip()
        return tuple(_int(name, p) for p in text.split(",")) if text else ()
    raise AssertionError(f"no parser for hyperparameter {name}")  # a new field without a parser


def _number_text(value: float) -> str:
    return repr(float(value))


def _to_text(name: str, value: Any) -> str | None:
    if value is None or (name == "lr_scheduler_step" and not value):
        return None
    if name in _ZERO_ONE_FLAGS:
        return "1" if value else "0"
    if name in _TRUE_FALSE_FLAGS:
        return "True" if value else "False"
    if name in _FLOATS:
        return _number_text(value)
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


# ---------------------------------------------------------------------- rules


def _derived_image_size(doc: DatasetDoc) -> tuple[int, int]:
    """A square image shape every stored image can fill: the smallest side, at most 224."""
    if doc.image is None:
        return PRETRAINED_SIDE, PRETRAINED_SIDE
    side = min(doc.image.min_width, doc.image.min_height, PRETRAINED_SIDE)
    return max(side, 1), max(side, 1)


def _in_unit_interval(hp: Hyperparameters, name: str) -> Violation | None:
    value = getattr(hp, name)
    if not 0.0 <= value <= 1.0:
        return Violation(name, f"{value} is outside [0, 1]; choose a value in that range")
    return None


def _own_violations(hp: Hyperparameters) -> list[Violation]:
    v: list[Violation] = []
    add = v.append
    if hp.num_classes < 2:
        add(Violation("num_classes", f"{hp.num_classes} is too few; a classifier needs at least 2 classes "
                                     "(add a second class folder)"))
    if hp.num_training_samples < 1:
        add(Violation("num_training_samples", f"{hp.num_training_samples} is not positive; the train channel "
                                              "must hold at least one record"))
    channels, height, width = hp.image_shape
    if channels != CHANNELS:
        add(Violation("image_shape", f"{channels} channels: satrec stores 3-channel RGB records; "
                                     f"use '3,{height},{width}'"))
    if height < 1 or width < 1:
        add(Violation("image_shape", f"height and width must be positive, got {height}x{width}"))
    small = height <= SMALL_IMAGE_MAX_HEIGHT
    depths = SMALL_IMAGE_DEPTHS if small else LARGE_IMAGE_DEPTHS
    if hp.num_layers not in depths:
        kind = (f"images of height <= {SMALL_IMAGE_MAX_HEIGHT} (CIFAR-style network)" if small
                else f"images taller than {SMALL_IMAGE_MAX_HEIGHT} px (ImageNet-style network)")
        add(Violation("num_layers", f"{hp.num_layers} is not built for {kind}; "
                                    f"use one of {', '.join(map(str, depths))}"))
    if hp.use_pretrained_model:
        if hp.image_shape != (CHANNELS, PRETRAINED_SIDE, PRETRAINED_SIDE):
            add(Violation("use_pretrained_model", "pretrained weights need image_shape '3,224,224' "
                                                  f"(got '{channels},{height},{width}'); set image_shape=3,224,224 "
                                                  "and convert with --min-size 224, or use_pretrained_model=0"))
        if hp.num_layers not in LARGE_IMAGE_DEPTHS:
            add(Violation("use_pretrained_model", f"pretrained weights exist only for num_layers in "
                                                  f"{', '.join(map(str, LARGE_IMAGE_DEPTHS))}"))
    if hp.mini_batch_size < 1:
        add(Violation("mini_batch_size", f"{hp.mini_batch_size} is not positive"))
    elif hp.num_training_samples >= 1 and hp.mini_batch_size > hp.num_training_samples:
        add(Violation("mini_batch_size", f"{hp.mini_batch_size} is larger than num_training_samples "
                                         f"({hp.num_training_samples}); use at most {hp.num_training_samples}"))
    if hp.epochs < 1:
        add(Violation("epochs", f"{hp.epochs} is not positive; train for at least 1 epoch"))
    if not 0.0 < hp.learning_rate <= 1.0:
        add(Violation("learning_rate", f"{hp.learning_rate} is outside (0, 1]; 0.025 is a good start from scratch"))
    if hp.optimizer not in OPTIMIZERS:
        add(Violation("optimizer", f"{hp.optimizer!r} is not one of {', '.join(OPTIMIZERS)}"))
    for name in ("momentum", "weight_decay", "beta_1", "beta_2", "gamma", "lr_scheduler_factor",
                 "early_stopping_tolerance"):
        found = _in_unit_interval(hp, name)
        if found:
            add(found)
    if hp.eps <= 0:
        add(Violation("eps", f"{hp.eps} is not positive; the default is 1e-08"))
    steps = hp.lr_scheduler_step
    if steps:
        if any(s < 1 for s in steps) or list(steps) != sorted(set(steps)):
            add(Violation("lr_scheduler_step", f"'{_to_text('lr_scheduler_step', steps)}' must be positive epoch "
                                               "numbers in strictly increasing order, for example '10,20'"))
        elif hp.epochs >= 1 and steps[-1] >= hp.epochs:
            add(Violation("lr_scheduler_step", f"step at epoch {steps[-1]} never happens in {hp.epochs} epochs; "
                                               f"use epochs below {hp.epochs} or drop the step"))
    if hp.augmentation_type is not None and hp.augmentation_type not in AUGMENTATION_TYPES:
        add(Violation("augmentation_type", f"{hp.augmentation_type!r} is not one of "
                                           f"{', '.join(AUGMENTATION_TYPES)} (or leave it unset)"))
    if hp.resize is not None:
        if hp.resize < 1:
            add(Violation("resize", f"{hp.resize} is not positive"))
        elif hp.resize < max(height, width):
            add(Violation("resize", f"{hp.resize} is smaller than image_shape {height}x{width}: resized images "
                                    f"would be smaller than the network input; use resize >= {max(height, width)}"))
    if hp.use_weighted_loss and not hp.multi_label:
        add(Violation("use_weighted_loss", "applies only to multi-label training; set multi_label=1 "
                                           "or use_weighted_loss=0"))
    if hp.precision_dtype not in PRECISION_DTYPES:
        add(Violation("precision_dtype", f"{hp.precision_dtype!r} is not one of {', '.join(PRECISION_DTYPES)}"))
    if hp.early_stopping_min_epochs < 1:
        add(Violation("early_stopping_min_epochs", f"{hp.early_stopping_min_epochs} is not positive"))
    if hp.early_stopping_patience < 1:
        add(Violation("early_stopping_patience", f"{hp.early_stopping_patience} is not positive"))
    if hp.checkpoint_frequency is not None:
        if hp.checkpoint_frequency < 1:
            add(Violation("checkpoint_frequency", f"{hp.checkpoint_frequency} is not positive"))
        elif hp.checkpoint_frequency > hp.epochs:
            add(Violation("checkpoint_frequency", f"{hp.checkpoint_frequency} is more than epochs ({hp.epochs}); "
                                                  f"use at most {hp.epochs}, or leave it unset"))
    if hp.top_k < 2:
        add(Violation("top_k", f"{hp.top_k} must be larger than 1 (top-1 accuracy is always reported)"))
    elif hp.num_classes >= 2 and hp.top_k > hp.num_classes:
        add(Violation("top_k", f"{hp.top_k} is more than num_classes ({hp.num_classes}); "
                               f"use at most {hp.num_classes}"))
    if hp.kv_store is not None and hp.kv_store not in KV_STORES:
        add(Violation("kv_store", f"{hp.kv_store!r} is not one of {', '.join(KV_STORES)} (or leave it unset)"))
    return v


def _dataset_violations(hp: Hyperparameters, doc: DatasetDoc) -> list[Violation]:
    v: list[Violation] = []
    add = v.append
    train = doc.records("train")
    if train < 1:
        add(Violation("num_training_samples", "the dataset's train split is empty; SageMaker fails on an empty "
                                              "channel: convert more images or lower --val-ratio"))
    elif hp.num_training_samples != train:
        add(Violation("num_training_samples", f"{hp.num_training_samples} differs from the {train} records in "
                                              f"the train RecordIO; set num_training_samples={train}"))
    validation = doc.records("validation")
    if validation < 1:
        add(Violation("validation", "the dataset has no validation records; the algorithm needs a non-empty "
                                    "validation channel: convert with --val-ratio above 0"))
    elif hp.mini_batch_size > validation:
        # MXNet's ImageRecordIter, which the algorithm reads channels with, refuses a file holding
        # fewer records than one batch ("number of input images must be bigger than the batch size").
        add(Violation("mini_batch_size", f"{hp.mini_batch_size} is larger than the {validation} validation "
                                         f"records, which MXNet cannot read as one batch; use at most {validation} "
                                         "or convert with a larger --val-ratio"))
    if hp.num_classes < doc.num_classes:
        add(Violation("num_classes", f"{hp.num_classes} is fewer than the dataset's {doc.num_classes} classes, "
                                     f"so labels up to {doc.num_classes - 1} are out of range; "
                                     f"set num_classes={doc.num_classes}"))
    if hp.multi_label and doc.label_width != hp.num_classes:
        add(Violation("multi_label", f"multi-label records need one label per class (label_width = num_classes "
                                     f"= {hp.num_classes}) but the dataset has label_width {doc.label_width}; "
                                     "set multi_label=0 or convert with --pack-label"))
    if not hp.multi_label and doc.label_width != 1:
        add(Violation("multi_label", f"the dataset has {doc.label_width} labels per record; set multi_label=1"))
    if doc.image is not None:
        need_h, need_w = hp.height, hp.width
        if hp.resize is None and (doc.image.min_height < need_h or doc.image.min_width < need_w):
            add(Violation("image_shape", f"the smallest stored image is {doc.image.min_width}x{doc.image.min_height} "
                                         f"(WxH) but image_shape needs {need_w}x{need_h}; SageMaker fails training on "
                                         f"smaller images: convert with --min-size {max(need_h, need_w)} or set "
                                         f"image_shape=3,{doc.image.min_height},{doc.image.min_width}"))
    return v
