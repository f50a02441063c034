"""State "Validate the execution input": the schema, its defaults, and the run id.

Event: {"input": <execution input>, "execution_name": <$$.Execution.Name>}.
Environment: GPU_FAMILIES (comma-separated instance type prefixes, e.g. "ml.p3.,ml.g4dn.,ml.g5.").
A bad input raises InputInvalid naming the field; the state machine's catch turns it into a notice.
"""

from __future__ import annotations

import os
from typing import Any

from satrec.pipeline.inputs import parse_input


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    families = tuple(p for p in os.environ.get("GPU_FAMILIES", "").split(",") if p)
    run = parse_input(event.get("input"), execution_name=str(event.get("execution_name", "")),
                      allowed_instance_prefixes=families)
    return run.to_dict()
