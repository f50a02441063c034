"""The control-plane handlers import the core without Pillow, numpy or MXNet (small, fast Lambdas)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HANDLERS = Path(__file__).resolve().parents[3] / "lambdas" / "pipeline"
HEAVY = ("PIL", "numpy", "mxnet", "rasterio", "cv2")


@pytest.mark.parametrize("handler", sorted(p.stem for p in HANDLERS.glob("*.py")))
def test_a_pipeline_handler_imports_nothing_heavy(handler: str) -> None:
    code = (f"import sys; sys.path[:0] = [{str(HANDLERS)!r}, {str(HANDLERS.parents[1])!r}]; import {handler}; "
            f"import json; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
