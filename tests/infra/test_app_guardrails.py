"""Whole-app guardrails: cdk-nag inside synth, narrow acknowledgements, least-privilege IAM, cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.infra.conftest import Synthesized

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk-app")]

# The constructs this deployment's own code creates (the training pipeline checks its own).
OWN_CONSTRUCTS = ("/Storage/", "/Network/", "/Converter/", "/UploadTrigger/", "/Monitoring/")


def acknowledgements(s: Synthesized) -> list[tuple[str, str, str]]:
    metadata = json.loads((s.outdir / f"{s.stack.stack_name}.metadata.json").read_text())
    return [(path, rule, reason) for path, entries in metadata.items() for entry in entries
            if entry["type"] == "aws:cdk:acknowledged-rules"
            for rule, reason in entry["data"].items() if "AwsSolutions" in rule]


def own_policies(s: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for type_ in ("AWS::IAM::Policy", "AWS::IAM::Role"):
        for resource in s.resources(type_).values():
            path = resource["Metadata"]["aws:cdk:path"]
            if not any(c in path for c in OWN_CONSTRUCTS):
                continue
            props = resource["Properties"]
            docs = [props["PolicyDocument"]] if "PolicyDocument" in props else [
                p["PolicyDocument"] for p in props.get("Policies", [])]
            found.extend((path, statement) for doc in docs for statement in doc["Statement"])
    return found


@pytest.mark.parametrize("variant", ["synthesized", "synthesized_variant"])
def test_synth_passes_cdk_nag_with_nothing_unacknowledged(variant: str, request: pytest.FixtureRequest) -> None:
    s: Synthesized = request.getfixturevalue(variant)     # synth itself raises on any unacknowledged finding
    report = s.outdir / "validation-report.json"
    if report.exists():
        assert all(r["conclusion"] == "success" for r in json.loads(report.read_text())["pluginReports"])


def test_every_acknowledgement_names_one_resource_and_gives_a_reason(synthesized: Synthesized) -> None:
    acks = acknowledgements(synthesized)
    assert acks, "expected the documented acknowledgements"
    paths = [r["Metadata"]["aws:cdk:path"] for t in ("AWS::S3::Bucket", "AWS::IAM::Policy", "AWS::EC2::SecurityGroup")
             for r in synthesized.resources(t).values()]
    for path, rule, reason in acks:
        path = path.lstrip("/")
        covered = [p for p in paths if p == path or p.startswith(path + "/")]
        assert len(covered) == 1, f"{rule} at {path} covers {covered}"
        assert len(reason) > 30, (rule, reason)
        rule_id = rule.split("::", 1)[1] if rule.startswith("Annotation::") else rule
        assert rule_id.startswith(("AwsSolutions-IAM5[Resource::", "AwsSolutions-S1", "AwsSolutions-EC23")), rule


def test_no_wildcard_actions_and_star_resources_only_where_aws_has_nothing_narrower(synthesized: Synthesized) -> None:
    for path, statement in own_policies(synthesized):
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any("*" in a for a in actions), (path, actions)
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        if "*" in resources:
            assert actions == ["ecr:GetAuthorizationToken"], (path, statement)


@pytest.mark.parametrize("variant", ["synthesized", "synthesized_variant"])
def test_cfn_lint_reports_no_errors(variant: str, request: pytest.FixtureRequest) -> None:
    s: Synthesized = request.getfixturevalue(variant)
    result = subprocess.run([sys.executable, "-m", "cfnlint", "--format", "json", str(s.template_path)],
                            capture_output=True, text=True, timeout=300, check=False)
    findings = json.loads(result.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    assert errors == [], errors
