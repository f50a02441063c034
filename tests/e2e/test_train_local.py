"""train-local end to end on tiny datasets: the parts connect and the outputs are usable. Never accuracy."""

from __future__ import annotations

import json

import pytest

from satrec.cli import main
from satrec.hyperparams import Hyperparameters
from satrec.recordio import RecordWriter, pack_image_record
from satrec.train_local import CURVE_PNG, HYPERPARAMETERS_JSON, METRICS_JSON, MODEL_PREFIX, train
from tests.e2e.tiny_dataset import write_dataset

mx = pytest.importorskip("mxnet")
pytestmark = [pytest.mark.mxnet, pytest.mark.slow]


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """3 classes, 12 train records in 2 shards, 6 validation records, 32 px chips."""
    root = tmp_path_factory.mktemp("ds") / "tiny"
    doc = write_dataset(root, train_per_class=4, val_per_class=2, size=32, shards=2)
    return root, doc


def test_one_epoch_writes_model_metrics_curve_and_hyperparameters(sharded, tmp_path):
    root, doc = sharded
    out = tmp_path / "model"
    lines: list[str] = []
    # Batch 5 divides neither 12 nor 6: the padded last batches must not count records twice.
    result = train(root, out, overrides={"epochs": "1", "mini_batch_size": "5", "augmentation_type": "crop"},
                   seed=3, threads=1, log=lines.append)

    metrics = json.loads((out / METRICS_JSON).read_text())
    assert len(metrics["epochs"]) == 1
    epoch = metrics["epochs"][0]
    assert (epoch["train_records_seen"], epoch["validation_records_seen"]) == (12, 6)
    assert 0.0 <= epoch["validation_accuracy"] <= 1.0 and epoch["images_per_second"] > 0
    assert metrics["final_validation_accuracy"] == pytest.approx(result.final_validation_accuracy, abs=1e-6)

    sent = json.loads((out / HYPERPARAMETERS_JSON).read_text())
    assert sent == metrics["hyperparameters"] == result.hyperparameters.to_sagemaker()
    assert Hyperparameters.from_sagemaker(sent).num_training_samples == doc.records("train") == 12

    assert (out / CURVE_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / f"{MODEL_PREFIX}-symbol.json").is_file()
    assert (out / f"{MODEL_PREFIX}-0001.params").is_file()
    assert not (out / ".work").exists()                       # concatenated channel removed
    assert any(line.startswith("epoch   1/1") and "img/s" in line and "val-acc" in line for line in lines)


def test_the_exported_model_loads_and_classifies(sharded, tmp_path):
    root, doc = sharded
    out = tmp_path / "model"
    train(root, out, overrides={"epochs": "1", "mini_batch_size": "4"}, seed=0, threads=1, log=lambda _: None)
    net = mx.gluon.SymbolBlock.imports(str(out / f"{MODEL_PREFIX}-symbol.json"), ["data"],
                                       str(out / f"{MODEL_PREFIX}-0001.params"))
    assert net(mx.nd.zeros((2, 3, 32, 32))).shape == (2, doc.num_classes)


def test_small_image_depth_trains_the_cifar_style_network(tmp_path):
    root = tmp_path / "small"
    write_dataset(root, train_per_class=2, val_per_class=1, size=28)
    result = train(root, tmp_path / "m", overrides={"epochs": "1", "mini_batch_size": "3"}, threads=1,
                   log=lambda _: None)
    assert result.hyperparameters.num_layers == 20 and len(result.epochs) == 1


def test_cli_prints_the_hyperparameters_sagemaker_would_receive(sharded, capsys):
    root, _ = sharded
    assert main(["train-local", str(root), "--hp", "epochs=3", "--print-hyperparameters"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["epochs"] == "3" and printed["num_training_samples"] == "12" and printed["image_shape"] == "3,32,32"


def test_cli_rejects_a_rule_breaking_override_in_one_line_before_training(sharded, tmp_path, capsys):
    root, _ = sharded
    assert main(["train-local", str(root), "--out", str(tmp_path / "m"), "--hp", "mini_batch_size=13"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mini_batch_size: 13 is larger than num_training_samples (12)" in err
    assert not (tmp_path / "m").exists()


def test_cli_names_a_folder_without_dataset_json(tmp_path, capsys):
    assert main(["train-local", str(tmp_path)]) == 1
    assert "no meta/dataset.json" in capsys.readouterr().err


def test_model_output_inside_the_dataset_is_refused(sharded, capsys):
    root, _ = sharded
    assert main(["train-local", str(root), "--out", str(root / "train" / "model")]) == 1
    assert "inside the dataset" in capsys.readouterr().err


def test_undecodable_records_stop_training_with_one_line_not_a_traceback(tmp_path, capsys):
    root = tmp_path / "bad"
    doc = write_dataset(root, train_per_class=2, val_per_class=1, size=32)
    with open(root / doc.splits["train"].shards[0].rec, "wb") as rec:
        writer = RecordWriter(rec)
        for i in range(6):
            writer.write(pack_image_record([float(i % 3)], b"not a jpeg" * 4, id=i))
    code = main(["train-local", str(root), "--out", str(tmp_path / "m"), "--hp", "epochs=1",
                 "--hp", "mini_batch_size=3", "--threads", "1"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "MXNet stopped training" in err and "satrec verify" in err
