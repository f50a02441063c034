"""The hyperparameter document: built from dataset.json, every algorithm rule caught, the wire format stable."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from satrec.documents import DatasetDoc, ImageStats, ShardInfo, SplitInfo
from satrec.errors import HyperparameterError
from satrec.hyperparams import (
    AUGMENTATION_TYPES,
    LARGE_IMAGE_DEPTHS,
    OPTIMIZERS,
    SMALL_IMAGE_DEPTHS,
    Hyperparameters,
    parse_assignments,
    recommended_steps,
)


def _doc(*, train: int = 1600, val: int = 400, classes: int = 10, side: int = 64, label_width: int = 1,
         image: bool = True) -> DatasetDoc:
    names = [f"c{i}" for i in range(classes)]

    def split(name: str, n: int) -> SplitInfo:
        shard = ShardInfo(split=name, rec=f"{name}/d-{name}-00000.rec", idx=f"meta/d-{name}-00000.idx",
                          lst=f"meta/d-{name}-00000.lst", records=n, bytes=n * 100, sha256="0" * 64)
        return SplitInfo(records=n, per_class={}, shards=[shard] if n else [])

    splits = {"train": split("train", train)}
    if val:
        splits["validation"] = split("validation", val)
    return DatasetDoc(name="d", classes=names, label_width=label_width, splits=splits,
                      image=ImageStats(side, side, side, side) if image else None,
                      inputs={}, rejects_by_reason={}, settings={}, satrec_version="test")


def _hp(**changes: object) -> Hyperparameters:
    """A valid document for the default _doc(), with ``changes`` applied as overrides."""
    return Hyperparameters.from_dataset(_doc(), changes)


def _broken(hp: Hyperparameters, doc: DatasetDoc | None = None) -> set[str]:
    return {v.parameter for v in hp.violations(doc)}


# ---------------------------------------------------------------- built from dataset.json


def test_from_dataset_fills_required_values_from_the_dataset_and_validates():
    doc = _doc(train=1600, classes=10, side=64)
    hp = Hyperparameters.from_dataset(doc).validate(doc)
    assert (hp.num_classes, hp.num_training_samples, hp.image_shape) == (10, 1600, (3, 64, 64))
    assert hp.num_layers == 18          # ImageNet-style network for images taller than 28 px
    assert hp.mini_batch_size == 32 and hp.learning_rate == 0.025
    assert hp.lr_scheduler_step == recommended_steps(hp.epochs)


def test_from_dataset_picks_a_small_image_depth_for_28_pixel_chips():
    doc = _doc(side=28)
    hp = Hyperparameters.from_dataset(doc).validate(doc)
    assert hp.image_shape == (3, 28, 28) and hp.num_layers in SMALL_IMAGE_DEPTHS


def test_from_dataset_caps_image_shape_at_224_for_large_images():
    doc = _doc(side=500)
    assert Hyperparameters.from_dataset(doc).validate(doc).image_shape == (3, 224, 224)


def test_from_dataset_caps_mini_batch_size_at_the_train_records():
    doc = _doc(train=10, val=20, classes=2)
    assert Hyperparameters.from_dataset(doc).validate(doc).mini_batch_size == 10


def test_from_dataset_caps_mini_batch_size_at_the_validation_records():
    doc = _doc(train=100, val=12, classes=2)
    assert Hyperparameters.from_dataset(doc).validate(doc).mini_batch_size == 12


def test_from_dataset_caps_top_k_at_the_number_of_classes():
    doc = _doc(classes=3)
    assert Hyperparameters.from_dataset(doc).validate(doc).top_k == 3


def test_overrides_accept_strings_and_typed_values():
    hp = Hyperparameters.from_dataset(_doc(), {"epochs": "12", "learning_rate": 0.01, "early_stopping": "True",
                                               "image_shape": "3,48,48", "augmentation_type": "crop"})
    assert (hp.epochs, hp.learning_rate, hp.early_stopping, hp.image_shape) == (12, 0.01, True, (3, 48, 48))
    assert hp.augmentation_type == "crop"


def test_overriding_epochs_moves_the_default_learning_rate_steps_with_it():
    assert _hp(epochs=8).lr_scheduler_step == (5, 7)
    assert _hp(epochs=1).lr_scheduler_step == ()
    assert _hp(epochs=8, lr_scheduler_step="3").lr_scheduler_step == (3,)


def test_unknown_override_is_named_with_the_closest_real_name():
    with pytest.raises(HyperparameterError, match=r"epoch: not a hyperparameter.*did you mean 'epochs'"):
        Hyperparameters.from_dataset(_doc(), {"epoch": "3"})


@pytest.mark.parametrize(("name", "value"), [
    ("epochs", "ten"), ("epochs", "2.5"), ("learning_rate", "fast"), ("multi_label", "maybe"),
    ("image_shape", "64,64"), ("image_shape", "3,a,64"), ("lr_scheduler_step", "5,x"), ("num_classes", True),
])
def test_unparsable_value_names_the_parameter(name, value):
    with pytest.raises(HyperparameterError, match=rf"^{name}: "):
        Hyperparameters.from_dataset(_doc(), {name: value})


def test_parse_assignments_splits_name_and_value_and_rejects_other_forms():
    assert parse_assignments(["epochs=8", " learning_rate = 0.01 "]) == {"epochs": "8", "learning_rate": "0.01"}
    with pytest.raises(HyperparameterError, match="NAME=VALUE"):
        parse_assignments(["epochs"])
    with pytest.raises(HyperparameterError, match="NAME=VALUE"):
        parse_assignments(["=3"])


# ---------------------------------------------------------------- the wire format


def test_to_sagemaker_is_strings_in_the_algorithms_spelling():
    doc = _doc(train=1600, classes=10, side=64)
    wire = Hyperparameters.from_dataset(doc, {"epochs": "8", "augmentation_type": "crop"}).to_sagemaker()
    assert wire == {
        "num_classes": "10", "num_training_samples": "1600", "image_shape": "3,64,64", "num_layers": "18",
        "use_pretrained_model": "0", "mini_batch_size": "32", "epochs": "8", "learning_rate": "0.025",
        "optimizer": "sgd", "momentum": "0.9", "weight_decay": "0.0001", "beta_1": "0.9", "beta_2": "0.999",
        "eps": "1e-08", "gamma": "0.9", "lr_scheduler_step": "5,7", "lr_scheduler_factor": "0.1",
        "augmentation_type": "crop", "multi_label": "0", "use_weighted_loss": "0", "precision_dtype": "float32",
        "early_stopping": "False", "early_stopping_min_epochs": "10", "early_stopping_patience": "5",
        "early_stopping_tolerance": "0.0", "top_k": "5",
    }


def test_unset_optional_parameters_are_left_out_of_the_wire_format():
    wire = _hp(epochs=1).to_sagemaker()
    for absent in ("lr_scheduler_step", "augmentation_type", "resize", "checkpoint_frequency", "kv_store"):
        assert absent not in wire


def test_from_sagemaker_reads_back_what_to_sagemaker_wrote():
    hp = _hp(epochs=8, augmentation_type="crop_color", checkpoint_frequency=2, resize=72, kv_store="dist_sync")
    assert Hyperparameters.from_sagemaker(hp.to_sagemaker()) == hp


def test_from_sagemaker_takes_the_algorithms_defaults_for_absent_keys():
    hp = Hyperparameters.from_sagemaker({"num_classes": "2", "num_training_samples": "100"})
    assert (hp.num_layers, hp.image_shape, hp.mini_batch_size, hp.learning_rate, hp.epochs) == \
        (152, (3, 224, 224), 32, 0.1, 30)


def test_from_sagemaker_requires_the_required_parameters():
    with pytest.raises(HyperparameterError, match="num_training_samples: required"):
        Hyperparameters.from_sagemaker({"num_classes": "2"})


@given(
    epochs=st.integers(1, 200),
    lr=st.floats(1e-6, 1.0, allow_nan=False),
    momentum=st.floats(0.0, 1.0, allow_nan=False),
    batch=st.integers(1, 1600),
    optimizer=st.sampled_from(OPTIMIZERS),
    aug=st.sampled_from((None, *AUGMENTATION_TYPES)),
    layers=st.sampled_from(LARGE_IMAGE_DEPTHS),
    early=st.booleans(),
)
def test_wire_round_trip_preserves_every_value(epochs, lr, momentum, batch, optimizer, aug, layers, early):
    hp = _hp(epochs=epochs, learning_rate=lr, momentum=momentum, mini_batch_size=batch, optimizer=optimizer,
             augmentation_type=aug, num_layers=layers, early_stopping=early)
    wire = hp.to_sagemaker()
    assert all(isinstance(v, str) for v in wire.values())
    assert Hyperparameters.from_sagemaker(wire) == hp


def test_the_module_imports_no_heavy_packages():
    code = ("import sys, satrec.hyperparams; "
            "print(sorted(m for m in ('numpy', 'PIL', 'mxnet', 'boto3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- the rules, one failing case each


def test_a_valid_document_has_no_violations():
    assert _hp().violations(_doc()) == []


@pytest.mark.parametrize(("changes", "parameter"), [
    ({"num_classes": 1, "top_k": 2}, "num_classes"),
    ({"num_training_samples": 0}, "num_training_samples"),
    ({"image_shape": "1,64,64"}, "image_shape"),
    ({"image_shape": "3,0,64"}, "image_shape"),
    ({"num_layers": 20}, "num_layers"),                       # small-image depth at 64 px
    ({"num_layers": 19}, "num_layers"),                       # no such depth
    ({"image_shape": "3,28,28", "num_layers": 18}, "num_layers"),   # large-image depth at 28 px
    ({"use_pretrained_model": 1}, "use_pretrained_model"),    # pretrained needs 224x224
    ({"mini_batch_size": 0}, "mini_batch_size"),
    ({"mini_batch_size": 1601}, "mini_batch_size"),
    ({"epochs": 0, "lr_scheduler_step": ""}, "epochs"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"learning_rate": 1.5}, "learning_rate"),
    ({"optimizer": "adagrad"}, "optimizer"),
    ({"momentum": 1.2}, "momentum"),
    ({"weight_decay": -0.1}, "weight_decay"),
    ({"beta_1": 2}, "beta_1"),
    ({"beta_2": -1}, "beta_2"),
    ({"gamma": 1.01}, "gamma"),
    ({"lr_scheduler_factor": 2}, "lr_scheduler_factor"),
    ({"early_stopping_tolerance": 1.5}, "early_stopping_tolerance"),
    ({"eps": 0}, "eps"),
    ({"lr_scheduler_step": "20,10"}, "lr_scheduler_step"),    # not increasing
    ({"lr_scheduler_step": "0,10"}, "lr_scheduler_step"),     # not positive
    ({"epochs": 10, "lr_scheduler_step": "5,10"}, "lr_scheduler_step"),   # never reached
    ({"augmentation_type": "flip"}, "augmentation_type"),
    ({"resize": 0}, "resize"),
    ({"resize": 32}, "resize"),                                # below the 64 px network input
    ({"use_weighted_loss": 1}, "use_weighted_loss"),           # multi-label only
    ({"precision_dtype": "bfloat16"}, "precision_dtype"),
    ({"early_stopping_min_epochs": 0}, "early_stopping_min_epochs"),
    ({"early_stopping_patience": 0}, "early_stopping_patience"),
    ({"checkpoint_frequency": 0}, "checkpoint_frequency"),
    ({"epochs": 5, "lr_scheduler_step": "", "checkpoint_frequency": 6}, "checkpoint_frequency"),
    ({"top_k": 1}, "top_k"),
    ({"top_k": 11}, "top_k"),                                  # more than the 10 classes
    ({"kv_store": "local"}, "kv_store"),
])
def test_each_rule_names_the_parameter_that_breaks_it(changes, parameter):
    hp = _hp(**changes)
    assert parameter in _broken(hp)
    with pytest.raises(HyperparameterError, match=parameter):
        hp.validate()


def test_pretrained_weights_need_a_large_image_depth():
    hp = _hp(image_shape="3,224,224", num_layers=20, use_pretrained_model=1)
    messages = [v.message for v in hp.violations() if v.parameter == "use_pretrained_model"]
    assert any("num_layers" in m for m in messages)


def test_pretrained_at_224_with_a_large_depth_is_accepted():
    assert _hp(image_shape="3,224,224", num_layers=50, use_pretrained_model=1).violations() == []


@pytest.mark.parametrize(("doc", "changes", "parameter"), [
    (_doc(train=0), {"num_training_samples": 1}, "num_training_samples"),     # empty train channel
    (_doc(), {"num_training_samples": 1599}, "num_training_samples"),          # differs from the records
    (_doc(val=0), {}, "validation"),                                           # empty validation channel
    (_doc(classes=10), {"num_classes": 9, "top_k": 5}, "num_classes"),         # labels up to 9 out of range
    (_doc(label_width=1), {"multi_label": 1}, "multi_label"),                  # one label per record
    (_doc(label_width=10), {"multi_label": 0}, "multi_label"),                 # ten labels per record
    (_doc(side=64), {"image_shape": "3,96,96"}, "image_shape"),                # images smaller than the input
    (_doc(val=20), {"mini_batch_size": 32}, "mini_batch_size"),                # validation below one batch
])
def test_each_dataset_rule_names_the_parameter_that_breaks_it(doc, changes, parameter):
    hp = Hyperparameters.from_dataset(_doc(), changes)
    assert parameter not in _broken(hp) or parameter == "num_training_samples"
    assert parameter in _broken(hp, doc)
    with pytest.raises(HyperparameterError, match=parameter):
        hp.validate(doc)


def test_image_size_rule_tells_the_fix():
    hp = _hp(image_shape="3,96,96")
    with pytest.raises(HyperparameterError, match=r"--min-size 96 or set image_shape=3,64,64"):
        hp.validate(_doc(side=64))


def test_resize_lifts_the_image_size_rule():
    hp = _hp(image_shape="3,96,96", resize=96)
    assert "image_shape" not in _broken(hp, _doc(side=64))


def test_every_violation_is_reported_at_once():
    hp = _hp(optimizer="adagrad", momentum=3, top_k=1)
    with pytest.raises(HyperparameterError) as caught:
        hp.validate()
    assert {"optimizer", "momentum", "top_k"} <= {part.split(":")[0] for part in str(caught.value).split("; ")}


def test_a_dataset_without_image_stats_defaults_to_224():
    doc = _doc(image=False)
    assert Hyperparameters.from_dataset(doc).image_shape == (3, 224, 224)
