"""Deploy-time config: defaults, parsing of -c strings, and errors that name the key and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from satrec.errors import ConfigError
from stacks.config import CONTEXT_KEYS, SatrecConfig, from_context


def config(**context: Any) -> SatrecConfig:
    return from_context(context.get)


def test_no_context_gives_the_documented_defaults() -> None:
    assert config() == SatrecConfig()
    assert config().stack_prefix == "Satrec-dev"


def test_cli_strings_are_parsed_like_json_values() -> None:
    c = config(use_spot="false", job_vcpus="0.5", job_memory_mib="4096", private_subnet_ids="subnet-0123456789abcdef0",
               vpc_id="vpc-0123456789abcdef0", dataset_defaults='{"resize": 64, "min_size": 64}')
    assert (c.use_spot, c.job_vcpus, c.job_memory_mib) == (False, 0.5, 4096)
    assert c.private_subnet_ids == ("subnet-0123456789abcdef0",)
    assert c.dataset_defaults == {"resize": 64, "min_size": 64}


@pytest.mark.parametrize(("context", "key"), [
    ({"job_vcpus": "3"}, "job_vcpus"),
    ({"job_vcpus": "1", "job_memory_mib": "1024"}, "job_memory_mib"),
    ({"job_ephemeral_gib": "10"}, "job_ephemeral_gib"),
    ({"log_retention_days": "31"}, "log_retention_days"),
    ({"use_spot": "maybe"}, "use_spot"),
    ({"vpc_id": "vpc-0123456789abcdef0"}, "private_subnet_ids"),
    ({"private_subnet_ids": "subnet-0123456789abcdef0"}, "vpc_id"),
    ({"private_subnet_ids": "sn-1"}, "private_subnet_ids"),
    ({"account": "123456789012"}, "region"),
    ({"region": "nowhere"}, "region"),
    ({"environment": "prod", "destroy_on_delete": "true"}, "destroy_on_delete"),
    ({"environment": "has space"}, "environment"),
    ({"notification_email": "not-an-address"}, "notification_email"),
    ({"trigger_batch_size": "100", "trigger_batching_window_seconds": "0"}, "trigger_batching_window_seconds"),
    ({"dataset_defaults": '{"resize": -1}'}, "dataset_defaults"),
    ({"dataset_defaults": '{"sharpen": true}'}, "dataset_defaults"),
])
def test_a_bad_value_names_the_key_and_the_fix(context: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        config(**context)
    assert f"'{key}'" in str(info.value) and f"-c {key}=" in str(info.value)


def test_every_context_key_is_documented_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deploying to AWS", 1)[1].split("\n## ", 1)[0]
    missing = [k for k in CONTEXT_KEYS if f"`{k}`" not in section]
    assert missing == []


def test_synth_with_a_bad_context_value_stops_with_one_line_naming_the_key() -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"job_vcpus": "3"}), "CDK_OUTDIR": "/nonexistent"}
    result = subprocess.run([sys.executable, "app.py"], cwd=root, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("satrec synth:")]
    assert errors == ["satrec synth: error: context key 'job_vcpus': Fargate accepts 0.25, 0.5, 1, 2, 4, 8, 16 "
                      "vCPUs, got '3' (fix with -c job_vcpus=1)"]
