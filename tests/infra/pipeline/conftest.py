"""One synthesized TrainingWorkflow per session (see bare.py)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import assertions

from tests.cloudsim.pipeline_stack import readable_placeholder, resolve_definition, synthesized


@pytest.fixture(scope="session")
def workflow() -> Any:
    return synthesized()[1]


@pytest.fixture(scope="session")
def template() -> assertions.Template:
    return synthesized()[2]


@pytest.fixture(scope="session")
def definition(template: assertions.Template) -> dict[str, Any]:
    return resolve_definition(template, readable_placeholder)
