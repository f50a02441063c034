"""Image headers without a decoder, the quota check, and failure causes turned into sentences."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from satrec.pipeline.imagesize import image_size
from satrec.pipeline.quotas import QuotaUnavailable, check_training_quota
from satrec.pipeline.report import failure_reason


@pytest.mark.parametrize(("fmt", "size"), [("JPEG", (37, 21)), ("PNG", (5, 300)), ("JPEG", (224, 224))])
def test_image_size_reads_jpeg_and_png_headers(fmt: str, size: tuple[int, int]) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buffer, fmt)
    assert image_size(buffer.getvalue()) == size
    progressive = io.BytesIO()
    Image.new("RGB", size).save(progressive, "JPEG", progressive=True)
    assert image_size(progressive.getvalue()) == size


def test_image_size_is_none_for_anything_else() -> None:
    assert image_size(b"GIF89a....") is None
    assert image_size(b"\xff\xd8\xff") is None
    assert image_size(b"") is None


class _Quotas:
    def __init__(self, applied: list[dict[str, Any]], default: list[dict[str, Any]] | None = None,
                 error: Exception | None = None) -> None:
        self.pages = {"list_service_quotas": applied, "list_aws_default_service_quotas": default or []}
        self.error = error

    def get_paginator(self, operation: str) -> Any:
        quotas, error = self.pages[operation], self.error

        class Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                if error:
                    raise error
                return [{"Quotas": quotas}]
        return Pages()


def test_a_quota_below_the_instance_count_fails_with_the_quota_name() -> None:
    quotas = _Quotas([{"QuotaName": "ml.g5.xlarge for spot training job usage", "Value": 1.0}])
    with pytest.raises(QuotaUnavailable, match=r"ml\.g5\.xlarge for spot training job usage"):
        check_training_quota(quotas, "ml.g5.xlarge", instance_count=2, spot=True)
    assert check_training_quota(quotas, "ml.g5.xlarge", instance_count=1, spot=True).checked


def test_the_default_quota_is_used_when_none_is_applied() -> None:
    quotas = _Quotas([], [{"QuotaName": "ml.p3.2xlarge for training job usage", "Value": 0.0}])
    with pytest.raises(QuotaUnavailable):
        check_training_quota(quotas, "ml.p3.2xlarge", instance_count=1, spot=False)


def test_unreadable_quotas_are_reported_as_unchecked_not_fatal() -> None:
    error = Exception("denied")
    error.response = {"Error": {"Code": "AccessDeniedException"}}  # type: ignore[attr-defined]
    check = check_training_quota(_Quotas([], error=error), "ml.g4dn.xlarge", instance_count=1, spot=False)
    assert not check.checked and "AccessDeniedException" in check.note


def test_failure_causes_become_sentences() -> None:
    sagemaker = json.dumps({"TrainingJobName": "j", "FailureReason": "ClientError: out of memory"})
    assert failure_reason("States.TaskFailed", sagemaker) == "SageMaker FailureReason: ClientError: out of memory"
    handler = json.dumps({"errorType": "InputInvalid", "errorMessage": "execution input field 'x': bad"})
    assert failure_reason("InputInvalid", handler) == "InputInvalid: execution input field 'x': bad"
    batch = json.dumps({"JobName": "satrec-pack", "Status": "FAILED", "StatusReason": "Essential container exited"})
    assert failure_reason("States.TaskFailed", batch) == "AWS Batch job satrec-pack FAILED: Essential container exited"
    assert failure_reason("States.Timeout", "") == "States.Timeout"
