"""Deploy-time settings: every CDK context key, read once in app.py, validated, frozen.

A bad value fails synth with one line naming the key and the ``-c key=value`` that fixes it.
Values given with ``-c`` arrive as strings; those from cdk.json keep their JSON types; both
are accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from satrec.cloud.settings import parse_settings
from satrec.errors import ConfigError

T = TypeVar("T")

# Fargate's valid (vCPU -> memory MiB) combinations for Batch jobs.
FARGATE_MEMORY: dict[float, tuple[int, int, int]] = {   # vcpu: (min MiB, max MiB, step MiB)
    0.25: (512, 2048, 512), 0.5: (1024, 4096, 1024), 1: (2048, 8192, 1024), 2: (4096, 16384, 1024),
    4: (8192, 30720, 1024), 8: (16384, 61440, 4096), 16: (32768, 122880, 8192),
}
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)
DEFAULT_DATASET_SETTINGS: dict[str, Any] = {"resize": 224, "min_size": 224, "quality": 95, "encoding": ".jpg"}


@dataclass(frozen=True)
class SatrecConfig:
    environment: str = "dev"
    account: str | None = None
    region: str | None = None
    destroy_on_delete: bool = False
    vpc_id: str | None = None
    private_subnet_ids: tuple[str, ...] = ()
    vpc_max_azs: int = 2
    use_spot: bool = True
    max_vcpus_spot: int = 64
    max_vcpus_on_demand: int = 16
    job_vcpus: float = 1
    job_memory_mib: int = 2048
    job_ephemeral_gib: int = 21
    job_attempts: int = 3
    job_timeout_minutes: int = 60
    trigger_batch_size: int = 1000
    trigger_batching_window_seconds: int = 30
    trigger_max_receive_count: int = 5
    keys_per_child: int = 200
    noncurrent_version_days: int = 30
    abort_multipart_days: int = 7
    access_log_days: int = 365
    log_retention_days: int = 30
    notification_email: str | None = None
    pipeline_auto_start: bool = False   # issue 5: start the training pipeline on incoming/<dataset>/_READY
    dataset_defaults: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_DATASET_SETTINGS))

    @property
    def stack_prefix(self) -> str:
        return f"Satrec-{self.environment}"


CONTEXT_KEYS = tuple(SatrecConfig.__dataclass_fields__)


def _fail(key: str, message: str, example: str) -> ConfigError:
    return ConfigError(f"context key {key!r}: {message} (fix with -c {key}={example})")


def _int(key: str, value: Any, lo: int, hi: int) -> int:
    try:
        number = int(value) if not isinstance(value, bool) and str(value).strip().lstrip("-").isdigit() else None
    except (TypeError, ValueError):
        number = None
    if number is None or not lo <= number <= hi:
        raise _fail(key, f"must be a whole number from {lo} to {hi}, got {value!r}", str(lo))
    return number


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise _fail(key, f"must be true or false, got {value!r}", "true")


def _optional_str(key: str, value: Any, pattern: str, example: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise _fail(key, f"{value!r} does not look like {example}", example)
    return value


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def from_context(get: Callable[[str], Any]) -> SatrecConfig:
    """Build the config from ``node.try_get_context``-like lookups; unset keys keep their defaults."""
    d = SatrecConfig()
    raw = {key: get(key) for key in CONTEXT_KEYS}

    def pick(key: str, parse: Callable[[Any], T], default: T) -> T:
        return default if raw[key] is None else parse(raw[key])

    environment = pick("environment", str, d.environment)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,19}", environment):
        raise _fail("environment", f"{environment!r} must be 1-20 letters, digits or '-', starting with a letter",
                    "dev")
    subnets_raw = _json(raw["private_subnet_ids"]) if raw["private_subnet_ids"] is not None else []
    if isinstance(subnets_raw, str):
        subnets_raw = [s for s in subnets_raw.split(",") if s]
    if not isinstance(subnets_raw, list) or not all(isinstance(s, str) and re.fullmatch(r"subnet-[0-9a-f]{8,17}", s)
                                                    for s in subnets_raw):
        raise _fail("private_subnet_ids", f"must be a list of subnet ids, got {raw['private_subnet_ids']!r}",
                    "subnet-0123456789abcdef0,subnet-0fedcba9876543210")
    defaults = _json(raw["dataset_defaults"]) if raw["dataset_defaults"] is not None else d.dataset_defaults
    try:
        parse_settings(dict(defaults) if isinstance(defaults, Mapping) else defaults,
                       source="context key 'dataset_defaults'")
    except ConfigError as exc:
        raise ConfigError(f"{exc} (fix with -c dataset_defaults='{{\"resize\": 224, \"min_size\": 224}}')") from None

    config = SatrecConfig(
        environment=environment,
        account=_optional_str("account", pick("account", str, ""), r"\d{12}", "123456789012"),
        region=_optional_str("region", pick("region", str, ""), r"[a-z]{2}(-[a-z]+)+-\d", "eu-west-1"),
        destroy_on_delete=pick("destroy_on_delete", lambda v: _bool("destroy_on_delete", v), d.destroy_on_delete),
        vpc_id=_optional_str("vpc_id", pick("vpc_id", str, ""), r"vpc-[0-9a-f]{8,17}", "vpc-0123456789abcdef0"),
        private_subnet_ids=tuple(subnets_raw),
        vpc_max_azs=pick("vpc_max_azs", lambda v: _int("vpc_max_azs", v, 1, 6), d.vpc_max_azs),
        use_spot=pick("use_spot", lambda v: _bool("use_spot", v), d.use_spot),
        max_vcpus_spot=pick("max_vcpus_spot", lambda v: _int("max_vcpus_spot", v, 1, 10000), d.max_vcpus_spot),
        max_vcpus_on_demand=pick("max_vcpus_on_demand", lambda v: _int("max_vcpus_on_demand", v, 1, 10000),
                                 d.max_vcpus_on_demand),
        job_vcpus=pick("job_vcpus", _vcpus, d.job_vcpus),
        job_memory_mib=pick("job_memory_mib", lambda v: _int("job_memory_mib", v, 512, 122880), d.job_memory_mib),
        job_ephemeral_gib=pick("job_ephemeral_gib", lambda v: _int("job_ephemeral_gib", v, 21, 200),
                               d.job_ephemeral_gib),
        job_attempts=pick("job_attempts", lambda v: _int("job_attempts", v, 1, 10), d.job_attempts),
        job_timeout_minutes=pick("job_timeout_minutes", lambda v: _int("job_timeout_minutes", v, 1, 14 * 24 * 60),
                                 d.job_timeout_minutes),
        trigger_batch_size=pick("trigger_batch_size", lambda v: _int("trigger_batch_size", v, 1, 10000),
                                d.trigger_batch_size),
        trigger_batching_window_seconds=pick(
            "trigger_batching_window_seconds", lambda v: _int("trigger_batching_window_seconds", v, 0, 300),
            d.trigger_batching_window_seconds),
        trigger_max_receive_count=pick("trigger_max_receive_count",
                                       lambda v: _int("trigger_max_receive_count", v, 1, 1000),
                                       d.trigger_max_receive_count),
        keys_per_child=pick("keys_per_child", lambda v: _int("keys_per_child", v, 1, 100000), d.keys_per_child),
        noncurrent_version_days=pick("noncurrent_version_days",
                                     lambda v: _int("noncurrent_version_days", v, 1, 36500),
                                     d.noncurrent_version_days),
        abort_multipart_days=pick("abort_multipart_days", lambda v: _int("abort_multipart_days", v, 1, 365),
                                  d.abort_multipart_days),
        access_log_days=pick("access_log_days", lambda v: _int("access_log_days", v, 1, 36500), d.access_log_days),
        log_retention_days=pick("log_retention_days", _retention, d.log_retention_days),
        notification_email=_optional_str("notification_email", pick("notification_email", str, ""),
                                         r"[^@\s]+@[^@\s]+\.[^@\s]+", "ops@example.com"),
        pipeline_auto_start=pick("pipeline_auto_start", lambda v: _bool("pipeline_auto_start", v),
                                 d.pipeline_auto_start),
        dataset_defaults=dict(defaults),
    )
    _check_combinations(config)
    return config


def _vcpus(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if number not in FARGATE_MEMORY:
        raise _fail("job_vcpus", f"Fargate accepts {', '.join(str(v) for v in FARGATE_MEMORY)} vCPUs, got {value!r}",
                    "1")
    return int(number) if number.is_integer() else number


def _retention(value: Any) -> int:
    days = _int("log_retention_days", value, 1, 3653)
    if days not in LOG_RETENTION_DAYS:
        raise _fail("log_retention_days", f"CloudWatch Logs accepts {', '.join(map(str, LOG_RETENTION_DAYS))}; "
                                          f"got {days}", "30")
    return days


def _check_combinations(config: SatrecConfig) -> None:
    lo, hi, step = FARGATE_MEMORY[config.job_vcpus]
    if not (lo <= config.job_memory_mib <= hi and (config.job_memory_mib - lo) % step == 0):
        raise _fail("job_memory_mib", f"{config.job_memory_mib} MiB is not valid with {config.job_vcpus} vCPU on "
                                      f"Fargate: use {lo}-{hi} in steps of {step}", str(lo))
    if config.trigger_batch_size > 10 and config.trigger_batching_window_seconds < 1:
        raise _fail("trigger_batching_window_seconds", "SQS batches over 10 messages need a batching window of "
                                                       "at least 1 second", "30")
    if config.vpc_id and not config.private_subnet_ids:
        raise _fail("private_subnet_ids", "is required with vpc_id: the private subnets the tasks run in",
                    "subnet-0123456789abcdef0,subnet-0fedcba9876543210")
    if config.private_subnet_ids and not config.vpc_id:
        raise _fail("vpc_id", "is required with private_subnet_ids", "vpc-0123456789abcdef0")
    if bool(config.account) != bool(config.region):
        raise _fail("region" if config.account else "account", "account and region are set together or not at all",
                    "eu-west-1" if config.account else "123456789012")
    if config.environment.lower() in ("prod", "production") and config.destroy_on_delete:
        raise _fail("destroy_on_delete", "a production environment keeps its data when the stack is deleted",
                    "false")
