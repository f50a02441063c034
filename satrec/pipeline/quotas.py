"""Does the account's SageMaker quota allow this training job? Checked before any job starts.

New accounts often have a quota of 0 for GPU training instances; SageMaker then fails the job
with ResourceLimitExceeded only after it was created. Service Quotas names the quotas
``<instance type> for training job usage`` and ``<instance type> for spot training job usage``;
their codes are opaque, so they are found by name. Where Service Quotas cannot be read (no
permission, the service unavailable in a partition) the check reports itself as skipped rather
than blocking training: the job's own failure still names the quota.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from satrec.errors import SatrecError
from satrec.pipeline.s3io import error_code

SERVICE_CODE = "sagemaker"


class QuotaUnavailable(SatrecError):
    """The account's quota for the instance type is below what the job needs."""


@dataclass(frozen=True)
class QuotaCheck:
    quota_name: str
    checked: bool
    value: float | None
    needed: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quota_name(instance_type: str, *, spot: bool) -> str:
    return f"{instance_type} for {'spot ' if spot else ''}training job usage"


def _find(client: Any, operation: str, name: str) -> float | None:
    paginator = client.get_paginator(operation)
    for page in paginator.paginate(ServiceCode=SERVICE_CODE):
        for quota in page.get("Quotas", []):
            if quota.get("QuotaName") == name:
                return float(quota["Value"])
    return None


def check_training_quota(client: Any, instance_type: str, *, instance_count: int, spot: bool) -> QuotaCheck:
    """Raise QuotaUnavailable when the applied (else default) quota is below ``instance_count``."""
    name = quota_name(instance_type, spot=spot)
    try:
        value = _find(client, "list_service_quotas", name)
        if value is None:
            value = _find(client, "list_aws_default_service_quotas", name)
    except Exception as exc:
        return QuotaCheck(name, checked=False, value=None, needed=instance_count,
                          note=f"Service Quotas not readable ({error_code(exc)}); not checked")
    if value is None:
        return QuotaCheck(name, checked=False, value=None, needed=instance_count,
                          note="no such quota listed; not checked")
    if value < instance_count:
        raise QuotaUnavailable(
            f"the account's SageMaker quota {name!r} is {value:g}, and this job needs {instance_count}; request an "
            "increase in the Service Quotas console (SageMaker), or start the execution with another "
            "\"instance_type\"" + ("" if spot else " or \"spot\": true"))
    return QuotaCheck(name, checked=True, value=value, needed=instance_count)
