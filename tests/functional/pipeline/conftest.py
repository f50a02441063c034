"""The synthesized pipeline definition, executed by moto's Step Functions interpreter.

``cloud``: inside ``mock_aws``, the resources the definition refers to (buckets, key, topic with
an SQS subscriber, Batch queue and job definition, one Lambda function per handler), the real
handlers and the ``satrec`` CLI wired in-process (moto_sfn.py), and the state machine created
from the CDK definition with its tokens resolved to those resources by ``aws:cdk:path``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from tests.cloudsim.cloud_sim import MOTO_CONFIG, Cloud, build_pipeline  # noqa: E402
from tests.cloudsim.moto_sfn import InProcess, patched_moto  # noqa: E402
from tests.cloudsim.pipeline_stack import cdk_paths, synthesized  # noqa: E402

REGION = "us-east-1"


def jpeg(color: tuple[int, int, int], size: int = 40) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def upload_dataset(s3: Any, bucket: str, dataset: str, per_class: int = 6) -> dict[str, int]:
    """Three classes of small solid-colour JPEGs (slightly varied), plus one corrupt upload."""
    colours = {"forest": (20, 120, 30), "river": (20, 40, 200), "desert": (220, 190, 90)}
    for name, (r, g, b) in colours.items():
        for i in range(per_class):
            s3.put_object(Bucket=bucket, Key=f"incoming/{dataset}/{name}/img_{i:02d}.jpg",
                          Body=jpeg((r, g + i, b)))
    s3.put_object(Bucket=bucket, Key=f"incoming/{dataset}/river/broken.jpg", Body=b"not a jpeg at all")
    return {name: per_class for name in colours}


@pytest.fixture(scope="session")
def pipeline_template() -> Any:
    stack, _, template = synthesized()
    return template, cdk_paths(stack)


@pytest.fixture
def cloud(pipeline_template: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BATCH_JOB_ARRAY_INDEX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    in_process = InProcess()
    with mock_aws(config=MOTO_CONFIG), patched_moto(in_process):
        yield build_pipeline(*pipeline_template, in_process)


__all__ = ["Cloud", "upload_dataset"]
