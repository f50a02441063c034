#!/usr/bin/env python3
"""The CDK app: context -> one validated config -> stacks, with cdk-nag's AWS Solutions checks on.

``cdk synth`` runs ``.venv/bin/python app.py`` (cdk.json). Tests call ``build_app()`` with a context dict.
"""

from __future__ import annotations

import sys
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from satrec.errors import ConfigError
from stacks.config import SatrecConfig, from_context
from stacks.satrec_stack import SatrecStack

# CDK behaviour this code relies on, set here (not in cdk.json) so tests and `cdk synth` agree.
FEATURE_FLAGS: dict[str, Any] = {
    # Access-log delivery through a bucket policy, not the legacy ACL (incompatible with
    # BucketOwnerEnforced object ownership).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/core:target-partitions": ["aws"],
}


def build_app(context: dict[str, Any] | None = None, *, outdir: str | None = None) -> tuple[cdk.App, SatrecStack]:
    app = cdk.App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    config: SatrecConfig = from_context(app.node.try_get_context)
    # Environment-agnostic unless both account and region are given: synth then works offline.
    env = cdk.Environment(account=config.account, region=config.region) if config.account else None
    stack = SatrecStack(app, config.stack_prefix, config=config, env=env)
    cdk.Tags.of(app).add("project", "satrec")
    cdk.Tags.of(app).add("environment", config.environment)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> int:
    try:
        app, _ = build_app()
    except ConfigError as exc:
        print(f"satrec synth: error: {exc}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
