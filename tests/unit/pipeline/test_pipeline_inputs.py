"""The execution input schema: defaults, and errors that name the field."""

from __future__ import annotations

import pytest

from satrec.pipeline.inputs import FIELDS, InputInvalid, parse_input, run_id_from_execution

GPU = ("ml.p3.", "ml.g4dn.", "ml.g5.")


def test_a_dataset_alone_gets_every_default() -> None:
    run = parse_input({"dataset": "eurosat"}, execution_name="exec-1", allowed_instance_prefixes=GPU)
    assert run.dataset == "eurosat" and run.run_id == "exec-1"
    assert run.validation_fraction == FIELDS["validation_fraction"][0]
    assert run.instance_type == "ml.g4dn.xlarge" and run.input_mode == "File"
    assert run.spot is False and run.max_wait_seconds is None and run.base_model is None and run.train is True


@pytest.mark.parametrize(("payload", "field"), [
    ({}, "dataset"),
    ({"dataset": "has space"}, "dataset"),
    ({"dataset": "d", "validation_fraction": 1}, "validation_fraction"),
    ({"dataset": "d", "validation_fraction": True}, "validation_fraction"),
    ({"dataset": "d", "shard_size_mb": 0}, "shard_size_mb"),
    ({"dataset": "d", "instance_type": "ml.m5.xlarge"}, "instance_type"),
    ({"dataset": "d", "instance_type": "g4dn.xlarge"}, "instance_type"),
    ({"dataset": "d", "spot": "yes"}, "spot"),
    ({"dataset": "d", "max_wait_seconds": 7200}, "max_wait_seconds"),
    ({"dataset": "d", "spot": True, "max_runtime_seconds": 3600, "max_wait_seconds": 3600}, "max_wait_seconds"),
    ({"dataset": "d", "input_mode": "FastFile"}, "input_mode"),
    ({"dataset": "d", "hyperparameters": {"epochs": [1]}}, "hyperparameters.epochs"),
    ({"dataset": "d", "base_model": "https://example.com/model.tar.gz"}, "base_model"),
    ({"dataset": "d", "epochs": 3}, "epochs"),
    ({"ready_marker": "incoming/d/other"}, "ready_marker"),
])
def test_a_bad_field_is_named_in_the_error(payload: dict, field: str) -> None:
    with pytest.raises(InputInvalid) as caught:
        parse_input(payload, execution_name="e", allowed_instance_prefixes=GPU)
    assert caught.value.field == field
    assert repr(field) in str(caught.value)


def test_spot_defaults_max_wait_to_twice_the_runtime() -> None:
    run = parse_input({"dataset": "d", "spot": True, "max_runtime_seconds": 3600}, execution_name="e")
    assert run.max_wait_seconds == 7200


def test_the_ready_marker_names_the_dataset() -> None:
    run = parse_input({"ready_marker": "incoming/eurosat/_READY"}, execution_name="e")
    assert run.dataset == "eurosat"


def test_execution_names_become_key_safe_run_ids() -> None:
    assert run_id_from_execution("my run: 2024/05") == "my-run-2024-05"
    with pytest.raises(InputInvalid):
        run_id_from_execution("::")


def test_the_document_round_trips() -> None:
    from satrec.pipeline.inputs import PipelineInput

    run = parse_input({"dataset": "d", "hyperparameters": {"epochs": 4}, "base_model": "s3://bucket/m.tar.gz"},
                      execution_name="e")
    assert PipelineInput.from_dict(run.to_dict()) == run and run.incremental
